/**
 * The emulator's options, their defaults and their validation.
 *
 * @module
 */

import {
  checkOptions,
  choice,
  either,
  integer,
  list,
  map,
  type MapShape,
  text,
  u64,
} from "../../hal/_shape.ts";
import { invalidOption } from "../../hal/errors.ts";
import { hex, parseHex } from "../../hal/hex.ts";
import { DEFAULT_PHYS_VIRT_OFFSET as LINEAR_MAP_OFFSET } from "../../hal/host_memory.ts";
import { FIRMWARE_NAMES, type FirmwareName } from "../../hal/firmware.ts";
import { type IsaSpec, parseIsa } from "../../hal/isa.ts";
import {
  DEFAULT_SPEC_PARAMS,
  type GuestTranslationMode,
  SPEC_KNOWN_EXTENSIONS,
  type SpecParams,
} from "./spec_profile.ts";
import { QEMU_7_2_KNOWN_EXTENSIONS } from "./qemu_7_2_profile.ts";
import { QEMU_10_0_KNOWN_EXTENSIONS } from "./qemu_10_0_profile.ts";
import type { ProfileName } from "./profile.ts";

/**
 * The most harts one emulated machine may have.
 *
 * @example Usage
 * ```ts
 * import { MAX_HARTS, parseEmulatorOptions } from "./options.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => parseEmulatorOptions({ harts: MAX_HARTS + 1 }), TypeError);
 * ```
 */
export const MAX_HARTS = 65536;

/**
 * The profiles the emulator offers.
 *
 * @example Usage
 * ```ts
 * import { PROFILE_NAMES } from "./options.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(PROFILE_NAMES.includes("spec") && PROFILE_NAMES.includes("qemu-7.2"));
 * ```
 */
export const PROFILE_NAMES: readonly ProfileName[] = Object.freeze([
  "spec",
  "qemu-7.2",
  "qemu-10.0",
]);

/**
 * What `profile:` says to take the profile of the QEMU a manifest is
 * compared with (resolved by `rvhv diff`; refused anywhere else).
 *
 * @example Usage
 * ```ts
 * import { AUTO_PROFILE } from "./options.ts";
 * import { parseEmulatorOptions } from "./options.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => parseEmulatorOptions({ profile: AUTO_PROFILE }), /rvhv diff/);
 * ```
 */
export const AUTO_PROFILE: Exclude<EmulatorOptions["profile"], ProfileName | undefined> = "auto";

/** The multi-letter extensions each profile models. */
const KNOWN_EXTENSIONS: Readonly<Record<ProfileName, ReadonlySet<string>>> = {
  "spec": SPEC_KNOWN_EXTENSIONS,
  "qemu-7.2": QEMU_7_2_KNOWN_EXTENSIONS,
  "qemu-10.0": QEMU_10_0_KNOWN_EXTENSIONS,
};

/**
 * Options of `createEmulatorHal`, as written in code or YAML.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal, type EmulatorOptions } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * // A mixed machine: hart 1 has no H extension.
 * const options: EmulatorOptions = {
 *   harts: 2,
 *   isa: ["rv64imafdch", "rv64imafdc"],
 *   profile: "spec",
 *   firmware: "opensbi",
 * };
 * const hal = await createEmulatorHal(options);
 * strictEqual(hal.info().firmware, "opensbi-1.1");
 * await hal.close();
 * ```
 */
export interface EmulatorOptions {
  /** Number of harts (ids 0 to harts-1). Default 1. */
  harts?: number;
  /**
   * The ISA string of every hart, or one per hart (a mixed system).
   * Default `"rv64imafdch"`.
   */
  isa?: string | readonly string[];
  /**
   * The CSR model: `"spec"` (default), `"qemu-7.2"` or `"qemu-10.0"`. In a
   * manifest compared with a QEMU manifest (`rvhv diff`), `"auto"` takes the
   * profile that models the connected QEMU's version.
   */
  profile?: ProfileName | "auto";
  /**
   * The firmware state the harts start in: `"none"` (M-mode reset),
   * `"opensbi-1.1"`, `"opensbi-1.6"`, or `"opensbi"` (default: the version
   * that matches the profile).
   */
  firmware?: FirmwareName;
  /** The RAM frames come from. Default base 0x8000_0000, size 128 MiB. */
  ram?: { base?: bigint | number | string; size?: bigint | number | string };
  /** Host physical-to-virtual offset. Default 0xffff_ffc0_0000_0000 (ArceOS riscv64). */
  physVirtOffset?: bigint | number | string;
  /** Parameters of the `spec` profile. */
  spec?: Partial<SpecParams>;
}

/**
 * Validated emulator options with every default filled in.
 *
 * @example Usage
 * ```ts
 * import { parseEmulatorOptions, type ResolvedEmulatorOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const resolved: ResolvedEmulatorOptions = parseEmulatorOptions({ harts: 3 });
 * strictEqual(resolved.isas.length, 3);
 * strictEqual(resolved.profile, "spec");
 * ```
 */
export interface ResolvedEmulatorOptions {
  /** Number of harts. */
  readonly harts: number;
  /** One parsed ISA per hart. */
  readonly isas: readonly IsaSpec[];
  /** The profile. */
  readonly profile: ProfileName;
  /** The firmware name as given. */
  readonly firmware: FirmwareName;
  /** RAM base. */
  readonly ramBase: bigint;
  /** RAM size. */
  readonly ramSize: bigint;
  /** Physical-to-virtual offset. */
  readonly physVirtOffset: bigint;
  /** Spec profile parameters. */
  readonly spec: Readonly<SpecParams>;
}

/**
 * The default ISA string.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { DEFAULT_ISA } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * strictEqual(hal.info().isa, DEFAULT_ISA);
 * await hal.close();
 * ```
 */
export const DEFAULT_ISA = "rv64imafdch";
/**
 * The default RAM base.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { DEFAULT_RAM_BASE } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * strictEqual(hal.allocFrame(), DEFAULT_RAM_BASE);
 * await hal.close();
 * ```
 */
export const DEFAULT_RAM_BASE = 0x8000_0000n;
/**
 * The default RAM size: 128 MiB.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_RAM_SIZE, parseEmulatorOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseEmulatorOptions({}).ramSize, DEFAULT_RAM_SIZE);
 * strictEqual(DEFAULT_RAM_SIZE, 128n * 1024n * 1024n);
 * ```
 */
export const DEFAULT_RAM_SIZE: bigint = 128n << 20n;
/**
 * The default physical-to-virtual offset (ArceOS's riscv64 linear map).
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { DEFAULT_PHYS_VIRT_OFFSET } from "../../hal/host_memory.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const pa = hal.allocFrame()!;
 * strictEqual(hal.physToVirt(pa), pa + DEFAULT_PHYS_VIRT_OFFSET);
 * await hal.close();
 * ```
 */
export const DEFAULT_PHYS_VIRT_OFFSET: bigint = LINEAR_MAP_OFFSET;

const GUEST_MODES: readonly GuestTranslationMode[] = ["sv39x4", "sv48x4", "sv57x4"];
/** Harts when none are asked for. */
const DEFAULT_HARTS = 1;
const DEFAULT_PROFILE: ProfileName = "spec";
const DEFAULT_FIRMWARE: FirmwareName = "opensbi";
const ISA_EXAMPLE = 'an ISA string such as "rv64imafdch"';

/**
 * The emulator's options: their forms, defaults and meanings, as
 * `parseEmulatorOptions` checks them first and the manifest's JSON Schema
 * says them (`manifest/rvhv-manifest.schema.json`).
 *
 * @example Usage
 * ```ts
 * import { EMULATOR_OPTIONS_SHAPE } from "./options.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok("profile" in EMULATOR_OPTIONS_SHAPE.properties);
 * ```
 */
export const EMULATOR_OPTIONS_SHAPE: MapShape = map({
  harts: integer(1, MAX_HARTS, {
    default: DEFAULT_HARTS,
    description: "Number of harts (ids 0 to harts-1).",
  }),
  isa: either(`${ISA_EXAMPLE}, or one per hart`, [
    text({ expected: ISA_EXAMPLE }),
    list(text({ expected: ISA_EXAMPLE })),
  ], {
    default: DEFAULT_ISA,
    description: "The ISA string of every hart, or one per hart (a mixed system).",
  }),
  profile: choice([...PROFILE_NAMES, AUTO_PROFILE], {
    // "auto" is for rvhv diff only: a message names the profiles that boot alone.
    expected: `one of ${PROFILE_NAMES.map((name) => `"${name}"`).join(", ")}`,
    default: DEFAULT_PROFILE,
    description: "The CSR model; auto (only in rvhv diff against a QEMU manifest) takes the " +
      "profile of that QEMU's version.",
  }),
  firmware: choice(FIRMWARE_NAMES, {
    default: DEFAULT_FIRMWARE,
    description: "The firmware state the harts start in (opensbi: the version that matches " +
      "the profile).",
  }),
  ram: map({
    base: u64({ default: hex(DEFAULT_RAM_BASE), description: "RAM base (a multiple of 4096)." }),
    size: u64({ default: hex(DEFAULT_RAM_SIZE), description: "RAM size (a multiple of 4096)." }),
  }, { nullable: true, description: "The RAM frames come from." }),
  physVirtOffset: u64({
    default: hex(DEFAULT_PHYS_VIRT_OFFSET),
    description: "Host physical-to-virtual offset (ArceOS riscv64's by default).",
  }),
  spec: map({
    geilen: integer(0, 63, { default: DEFAULT_SPEC_PARAMS.geilen, description: "GEILEN." }),
    vmidlen: integer(0, 14, { default: DEFAULT_SPEC_PARAMS.vmidlen, description: "VMIDLEN." }),
    hgatpModes: list(choice(GUEST_MODES), {
      default: [...DEFAULT_SPEC_PARAMS.hgatpModes],
      description: "The hgatp modes the harts take.",
    }),
  }, { nullable: true, description: "Parameters of the spec profile." }),
}, { nullable: true });

function parseOneIsa(value: string, path: (string | number)[]): IsaSpec {
  try {
    return parseIsa(value);
  } catch (error) {
    throw invalidOption(path, (error as Error).message);
  }
}

/** A 64-bit option as checked by its shape, or the default. */
function bigintOf(value: bigint | number | string | undefined, fallback: bigint): bigint {
  if (value === undefined) return fallback;
  return typeof value === "string" ? parseHex(value) : BigInt(value);
}

/**
 * Validates emulator options and fills in the defaults.
 *
 * @param raw Options from code or from a manifest's `backend.options`.
 * @returns The resolved options.
 * @throws {TypeError} With a `path` naming the offending option.
 *
 * @example Usage
 * ```ts
 * import { parseEmulatorOptions } from "./options.ts";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * throws(
 *   () => parseEmulatorOptions({ ram: { size: 100 } }),
 *   (error: TypeError & { path?: string[] }) => {
 *     deepStrictEqual(error.path, ["ram", "size"]);
 *     return true;
 *   },
 * );
 * ```
 */
export function parseEmulatorOptions(raw: unknown): ResolvedEmulatorOptions {
  checkOptions(EMULATOR_OPTIONS_SHAPE, raw);
  const options = (raw ?? {}) as EmulatorOptions;
  const harts = options.harts ?? DEFAULT_HARTS;
  let isas: IsaSpec[];
  if (options.isa === undefined) {
    isas = new Array<IsaSpec>(harts).fill(parseIsa(DEFAULT_ISA));
  } else if (typeof options.isa !== "string") {
    if (options.isa.length !== harts) {
      throw invalidOption(
        ["isa"],
        `a list of ISA strings needs one per hart: got ${options.isa.length} for ${harts} harts`,
      );
    }
    isas = options.isa.map((isa, i) => parseOneIsa(isa, ["isa", i]));
  } else {
    isas = new Array<IsaSpec>(harts).fill(parseOneIsa(options.isa, ["isa"]));
  }
  const ram = options.ram ?? {};
  const ramBase = bigintOf(ram.base, DEFAULT_RAM_BASE);
  const ramSize = bigintOf(ram.size, DEFAULT_RAM_SIZE);
  if (ramBase % 4096n !== 0n) throw invalidOption(["ram", "base"], "must be a multiple of 4096");
  if (ramSize === 0n || ramSize % 4096n !== 0n) {
    throw invalidOption(["ram", "size"], "must be a positive multiple of 4096");
  }
  if (options.profile === AUTO_PROFILE) {
    throw invalidOption(
      ["profile"],
      `"auto" takes the profile of the QEMU this manifest is compared with ("rvhv diff" ` +
        `with a QEMU manifest); to boot it alone, name one of ${
          PROFILE_NAMES.map((name) => `"${name}"`).join(", ")
        }`,
    );
  }
  const profile = options.profile ?? DEFAULT_PROFILE;
  const known = KNOWN_EXTENSIONS[profile];
  isas.forEach((isa, i) => {
    for (const ext of isa.extensions) {
      if (ext.length > 1 && !known.has(ext)) {
        throw invalidOption(
          Array.isArray(options.isa) ? ["isa", i] : ["isa"],
          `extension "${ext}" is not modelled by the ${profile} profile; ` +
            `modelled: ${[...known].join(", ")}`,
        );
      }
    }
  });
  const spec = options.spec ?? {};
  return {
    harts,
    isas,
    profile,
    firmware: options.firmware ?? DEFAULT_FIRMWARE,
    ramBase,
    ramSize,
    physVirtOffset: bigintOf(options.physVirtOffset, DEFAULT_PHYS_VIRT_OFFSET),
    spec: {
      geilen: spec.geilen ?? DEFAULT_SPEC_PARAMS.geilen,
      vmidlen: spec.vmidlen ?? DEFAULT_SPEC_PARAMS.vmidlen,
      hgatpModes: spec.hgatpModes ?? DEFAULT_SPEC_PARAMS.hgatpModes,
    },
  };
}

/**
 * Firmware presets: the M-mode state a firmware leaves before it hands a hart
 * to the hypervisor, as CSR writes any backend can apply.
 *
 * The OpenSBI presets follow `sbi_hart.c` `delegate_traps` of the version each
 * QEMU ships, as read back from harts booted natively under it
 * (docs/backends.md, "Firmware presets"): mideleg = SSIP|STIP|SEIP; medeleg = causes
 * {0, 3, 8, 12, 13, 15} plus, with H, {10, 20, 21, 22, 23} (and, from 1.6,
 * software check 18); mtimecmp = all ones, so no machine timer is pending.
 *
 * @module
 */

import { ALL_ONES, H_EXCEPTIONS } from "./csr_fields.ts";
import { CSR } from "./csr_numbers.ts";
import { exceptionMask, interruptMask } from "./trap_bits.ts";
import type { CsrNum } from "./types.ts";

/**
 * The names of the presets.
 *
 * @example Usage
 * ```ts
 * import { FIRMWARE_PRESETS, type FirmwarePresetName } from "./firmware.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const name: FirmwarePresetName = "opensbi-1.6";
 * strictEqual(FIRMWARE_PRESETS.get(name)!.name, "opensbi-1.6");
 * ```
 */
export type FirmwarePresetName = Exclude<FirmwareName, "opensbi">;

/**
 * What `firmware:` accepts: a preset, or `opensbi` for the matching version.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { type FirmwareName } from "./firmware.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const firmware: FirmwareName = "none";
 * const hal = await createEmulatorHal({ firmware });
 * strictEqual(await hal.csr.read(0, CSR.medeleg), 0n); // nothing delegated at M-mode reset
 * await hal.close();
 * ```
 */
export type FirmwareName = "none" | "opensbi" | "opensbi-1.1" | "opensbi-1.6";

/**
 * One CSR write of a preset.
 *
 * @example Apply a preset to a hart by hand
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { type FirmwareWrite, resolveFirmware } from "./firmware.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ firmware: "none" });
 * const writes: readonly FirmwareWrite[] = resolveFirmware("opensbi-1.1", "opensbi-1.1").writes(true);
 * for (const { csr, value } of writes) await hal.csr.write(0, csr, value);
 * strictEqual(await hal.csr.read(0, CSR.medeleg), 0xf0b509n);
 * await hal.close();
 * ```
 */
export interface FirmwareWrite {
  /** The CSR. */
  readonly csr: CsrNum;
  /** The value written. */
  readonly value: bigint;
}

/**
 * A firmware preset.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { type FirmwarePreset, resolveFirmware } from "./firmware.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const preset: FirmwarePreset = resolveFirmware("opensbi", "opensbi-1.6");
 * strictEqual(preset.name, "opensbi-1.6");
 * deepStrictEqual(preset.writes(false).map((w) => w.csr), [CSR.mideleg, CSR.medeleg]);
 * strictEqual(preset.mtimecmp, (1n << 64n) - 1n); // no machine timer pending
 * ```
 */
export interface FirmwarePreset {
  /** The preset's name. */
  readonly name: FirmwarePresetName;
  /** One line saying what it is. */
  readonly describe: string;
  /**
   * The CSR writes, in order (mideleg before anything that depends on it).
   *
   * @param hasH Whether the hart has the H extension.
   * @returns The writes.
   */
  writes(hasH: boolean): readonly FirmwareWrite[];
  /** The machine timer compare the firmware programs; `undefined` keeps the reset value 0. */
  readonly mtimecmp: bigint | undefined;
}

/** mideleg OpenSBI writes: the three supervisor interrupts. */
const OPENSBI_MIDELEG: bigint = interruptMask(
  "SUPERVISOR_SOFTWARE",
  "SUPERVISOR_TIMER",
  "SUPERVISOR_EXTERNAL",
);
/** medeleg OpenSBI writes on every hart. */
const OPENSBI_MEDELEG: bigint = exceptionMask(
  "INSTRUCTION_ADDRESS_MISALIGNED",
  "BREAKPOINT",
  "ENVIRONMENT_CALL_FROM_U_OR_VU",
  "INSTRUCTION_PAGE_FAULT",
  "LOAD_PAGE_FAULT",
  "STORE_AMO_PAGE_FAULT",
);
/** The software-check exception OpenSBI 1.6 also delegates. */
const OPENSBI_1_6_EXTRA: bigint = exceptionMask("SOFTWARE_CHECK");

function opensbi(name: FirmwarePresetName, extra: bigint, version: string): FirmwarePreset {
  return Object.freeze({
    name,
    describe: `OpenSBI ${version}: supervisor interrupts and the usual exceptions delegated`,
    writes(hasH: boolean): readonly FirmwareWrite[] {
      const medeleg = OPENSBI_MEDELEG | extra | (hasH ? H_EXCEPTIONS : 0n);
      return [
        { csr: CSR.mideleg, value: OPENSBI_MIDELEG },
        { csr: CSR.medeleg, value: medeleg },
      ];
    },
    mtimecmp: ALL_ONES,
  });
}

/**
 * The presets by name.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { FIRMWARE_PRESETS } from "./firmware.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const writes = FIRMWARE_PRESETS.get("opensbi-1.1")!.writes(true);
 * deepStrictEqual(writes, [
 *   { csr: CSR.mideleg, value: 0x222n },
 *   { csr: CSR.medeleg, value: 0xf0b509n },
 * ]);
 * ```
 */
export const FIRMWARE_PRESETS: ReadonlyMap<FirmwarePresetName, FirmwarePreset> = new Map<
  FirmwarePresetName,
  FirmwarePreset
>([
  [
    "none",
    Object.freeze({
      name: "none" as const,
      describe: "no firmware: the M-mode reset state",
      writes: () => [],
      mtimecmp: undefined,
    }),
  ],
  ["opensbi-1.1", opensbi("opensbi-1.1", 0n, "1.1 (QEMU 7.2)")],
  ["opensbi-1.6", opensbi("opensbi-1.6", OPENSBI_1_6_EXTRA, "1.6 (QEMU 10.0)")],
]);

/**
 * The names `firmware:` accepts.
 *
 * @example Validate a name from the command line
 * ```ts
 * import { FIRMWARE_NAMES, type FirmwareName } from "./firmware.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * function isFirmwareName(text: string): text is FirmwareName {
 *   return (FIRMWARE_NAMES as readonly string[]).includes(text);
 * }
 * strictEqual(isFirmwareName("opensbi-1.1"), true);
 * strictEqual(isFirmwareName("uboot"), false);
 * ```
 */
export const FIRMWARE_NAMES: readonly FirmwareName[] = Object.freeze([
  "none",
  "opensbi",
  "opensbi-1.1",
  "opensbi-1.6",
]);

/**
 * Resolves a firmware name to its preset; `opensbi` becomes the version that
 * matches the hardware.
 *
 * @example Usage
 * ```ts
 * import { resolveFirmware } from "./firmware.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(resolveFirmware("opensbi", "opensbi-1.1").name, "opensbi-1.1");
 * ```
 *
 * @param name The name from the options.
 * @param opensbi The preset `opensbi` stands for here.
 * @returns The preset.
 */
export function resolveFirmware(
  name: FirmwareName,
  opensbi: Exclude<FirmwarePresetName, "none">,
): FirmwarePreset {
  return FIRMWARE_PRESETS.get(name === "opensbi" ? opensbi : name)!;
}

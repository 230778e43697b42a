/**
 * What an emulator profile is: one CSR model of a hart (the spec, or what a
 * given QEMU version reads back), its reset state and its parameters.
 *
 * @module
 */

import { FEATURE, type HartContext } from "../../hal/csr_hart.ts";
import type { CsrFile } from "../../hal/csr_file.ts";
import type { IsaSpec } from "../../hal/isa.ts";
import type { CsrNum } from "../../hal/types.ts";

/**
 * The names of the emulator's profiles.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal, type ProfileName } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const profile: ProfileName = "qemu-7.2";
 * const hal = await createEmulatorHal({ profile });
 * strictEqual(hal.info().profile, profile);
 * await hal.close();
 * ```
 */
export type ProfileName = "spec" | "qemu-7.2" | "qemu-10.0";

/**
 * The OpenSBI preset a profile's `firmware: opensbi` means.
 *
 * @example Usage
 * ```ts
 * import { machineOf } from "./emulator_hal.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { type OpensbiPreset } from "./profile.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ profile: "spec" });
 * const preset: OpensbiPreset = machineOf(hal).profile.opensbi;
 * strictEqual(preset, "opensbi-1.1");
 * await hal.close();
 * ```
 */
export type OpensbiPreset = "opensbi-1.1" | "opensbi-1.6";

/**
 * One CSR model of a hart.
 *
 * @example Usage
 * ```ts
 * import { machineOf } from "./emulator_hal.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { type EmulatorProfile } from "./profile.ts";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ profile: "qemu-7.2" });
 * const profile: EmulatorProfile = machineOf(hal).profile;
 * strictEqual(profile.opensbi, "opensbi-1.1");
 * strictEqual(profile.notModelled.has(CSR.pmpcfg0), true);
 * await hal.close();
 * ```
 */
export interface EmulatorProfile {
  /** The profile's name. */
  readonly name: ProfileName;
  /** One line saying what it models. */
  readonly describe: string;
  /** The OpenSBI version that ships with what this profile models. */
  readonly opensbi: OpensbiPreset;
  /** The CSRs, shared by every hart (predicates look at each hart's extensions). */
  readonly file: CsrFile;
  /**
   * CSRs the modelled hardware has but the emulator does not model, with why:
   * accessing one rejects with `AxError` kind `"Unsupported"` rather than
   * pretending to be a trap.
   */
  readonly notModelled: ReadonlyMap<CsrNum, string>;
  /** Extensions (beyond the base and S/U) whose CSR effects this profile models or that have none. */
  readonly knownExtensions: ReadonlySet<string>;
  /** Parameters shown in `info()` (GEILEN, VMIDLEN, …). */
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * The extensions a hart with this ISA string has under this profile (a
   * QEMU profile adds QEMU's default-on extensions).
   *
   * @param isa The hart's ISA string.
   * @returns The hart's extensions.
   */
  extensionsOf(isa: IsaSpec): Set<string>;
  /**
   * Puts a hart into its reset state (M-mode, no firmware).
   *
   * @param hart The hart, whose slots are all zero.
   */
  reset(hart: HartContext): void;
}

/** What H and VS CSRs require: the H extension. */
export const NEEDS_H: number = FEATURE.h;

/** What stimecmp requires: Sstc. */
export const NEEDS_SSTC: number = FEATURE.sstc;

/** What vstimecmp requires: Sstc and H. */
export const NEEDS_SSTC_AND_H: number = FEATURE.sstc | FEATURE.h;

/** Why the counters are not modelled. */
export const COUNTERS_NOT_MODELLED =
  "hardware performance counters are not modelled (the emulated harts execute no instructions)";
/** Why the FP CSRs are not modelled. */
export const FP_NOT_MODELLED = "floating-point CSRs are not modelled";
/** Why PMP is not modelled. */
export const PMP_NOT_MODELLED = "physical memory protection is not modelled";
/** Why the trigger module is not modelled. */
export const DEBUG_NOT_MODELLED = "the debug trigger module is not modelled";

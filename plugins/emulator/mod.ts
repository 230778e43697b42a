/**
 * The emulator backend: harts whose CSRs are modelled in TypeScript, with
 * the spec's WARL masks and illegal-instruction traps (`spec` profile) or
 * exactly what a QEMU version reads back (`qemu-7.2`, `qemu-10.0` profiles,
 * built from one model whose per-version differences are the named
 * behaviours of {@linkcode QEMU_BEHAVIOURS}).
 *
 * Needs no permissions.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR, RISCVPerCpu } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 4 });
 * const percpu = await RISCVPerCpu.create(2, hal);
 * await percpu.hardwareEnable();
 * strictEqual(await hal.csr.read(2, CSR.hedeleg), 0xb10dn);
 * await percpu.hardwareDisable();
 * await hal.close();
 * ```
 *
 * @module
 */

import type { HalPlugin } from "../../hal/types.ts";
import { EmulatorHal } from "./emulator_hal.ts";
import { parseEmulatorOptions, type ResolvedEmulatorOptions } from "./options.ts";

export { createEmulatorHal, EmulatorHal } from "./emulator_hal.ts";
export { BYTES_PER_HART, EmulatorMachine } from "./machine.ts";
export {
  AUTO_PROFILE,
  DEFAULT_ISA,
  DEFAULT_PHYS_VIRT_OFFSET,
  DEFAULT_RAM_BASE,
  DEFAULT_RAM_SIZE,
  type EmulatorOptions,
  MAX_HARTS,
  parseEmulatorOptions,
  PROFILE_NAMES,
  type ResolvedEmulatorOptions,
} from "./options.ts";
export type { EmulatorProfile, OpensbiPreset, ProfileName } from "./profile.ts";
export {
  createQemuProfile,
  QEMU_BEHAVIOURS,
  type QemuBehaviourDoc,
  type QemuBehaviourName,
  type QemuBehaviours,
  type QemuModel,
} from "./qemu_profile.ts";
export { QEMU_7_2_BEHAVIOURS, QEMU_7_2_MODEL } from "./qemu_7_2_profile.ts";
export { QEMU_10_0_BEHAVIOURS, QEMU_10_0_MODEL } from "./qemu_10_0_profile.ts";
export { DEFAULT_SPEC_PARAMS, type GuestTranslationMode, type SpecParams } from "./spec_profile.ts";

/**
 * The emulator as a plugin: what `backend.plugin: emulator` loads.
 *
 * @example Usage
 * ```ts
 * import emulatorPlugin from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const options = emulatorPlugin.parseOptions({ harts: 2 });
 * const hal = await emulatorPlugin.create(options);
 * strictEqual(hal.harts.length, 2);
 * await hal.close();
 * ```
 */
export const emulatorPlugin: HalPlugin<ResolvedEmulatorOptions> = Object.freeze({
  name: "emulator",
  describe: "in-process emulated harts (spec, QEMU 7.2 or QEMU 10.0 CSR behaviour); no QEMU needed",
  permissions: Object.freeze([]) as readonly string[],
  parseOptions: parseEmulatorOptions,
  create(options: ResolvedEmulatorOptions): EmulatorHal {
    return new EmulatorHal(options);
  },
});

export default emulatorPlugin;

/**
 * The emulator backend: harts whose CSRs are modelled in TypeScript, with
 * the spec's WARL masks and illegal-instruction traps (`spec` profile) or
 * exactly what a QEMU version reads back (`qemu-7.2`, `qemu-10.0` profiles,
 * built from one model whose per-version differences are named behaviours).
 *
 * Exports: `createEmulatorHal`, `EmulatorHal` and the default plugin (the
 * design's names); `EmulatorOptions` and the types its fields use
 * (`ProfileName`, `SpecParams`, `FirmwareName`);
 * `profileForQemu`, what `profile: auto` means next to a QEMU (the CLI's
 * `diff` uses it to compare like with like).
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
import {
  EMULATOR_OPTIONS_SHAPE,
  parseEmulatorOptions,
  type ResolvedEmulatorOptions,
} from "./options.ts";
import { shapeJsonSchema } from "../../hal/_shape.ts";

export { createEmulatorHal, EmulatorHal } from "./emulator_hal.ts";
export type { EmulatorOptions } from "./options.ts";
export { profileForQemu } from "./qemu_match.ts";
export type { ProfileName } from "./profile.ts";
export type { SpecParams } from "./spec_profile.ts";
export type { FirmwareName } from "../../hal/firmware.ts";

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
const emulatorPlugin: HalPlugin = Object.freeze({
  name: "emulator",
  describe: "in-process emulated harts (spec, QEMU 7.2 or QEMU 10.0 CSR behaviour); no QEMU needed",
  permissions: Object.freeze([]) as readonly string[],
  parseOptions: parseEmulatorOptions,
  optionsSchema: shapeJsonSchema(EMULATOR_OPTIONS_SHAPE),
  create(options: unknown): EmulatorHal {
    // parseOptions made these: the manifest loader always passes its result.
    return new EmulatorHal(options as ResolvedEmulatorOptions);
  },
});

export default emulatorPlugin;

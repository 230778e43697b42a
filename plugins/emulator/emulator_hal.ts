/**
 * The emulator backend's {@linkcode AxVCpuHal}.
 *
 * @module
 */

import { BackendHal, type HalBackend } from "../../hal/backend_hal.ts";
import { registerWordRunner } from "../../hal/_sync_batch.ts";
import { csrResults, encodeOps, wordResults } from "../../hal/_word_batch.ts";
import { AxError } from "../../hal/errors.ts";
import type { HalInfo } from "../../hal/types.ts";
import { VERSION } from "../../version.ts";
import { EmulatorMachine } from "./machine.ts";
import {
  type EmulatorOptions,
  parseEmulatorOptions,
  type ResolvedEmulatorOptions,
} from "./options.ts";

let machineOfHal: (hal: EmulatorHal) => EmulatorMachine;

/**
 * The machine under an emulator HAL: the raw CSR state and model, for the
 * package's own tests, benches and tools (not part of the public API).
 */
export function machineOf(hal: EmulatorHal): EmulatorMachine {
  return machineOfHal(hal);
}

/**
 * An in-process machine of emulated harts: CSR state per hart, frames from
 * a RAM region, a fixed physical-to-virtual offset, no host interrupts.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal, type EmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal: EmulatorHal = await createEmulatorHal({ harts: 2 });
 * await hal.csr.write(0, CSR.hedeleg, 0x8n);
 * await hal.reset(); // back to the firmware preset's state
 * strictEqual(await hal.csr.read(0, CSR.hedeleg), 0n);
 * await hal.close();
 * ```
 */
export class EmulatorHal extends BackendHal {
  static {
    machineOfHal = (hal) => hal.#machine;
  }

  #machine: EmulatorMachine;

  /**
   * Creates the machine; prefer {@linkcode createEmulatorHal}.
   *
   * @param options Validated options.
   */
  constructor(options: ResolvedEmulatorOptions) {
    const machine = new EmulatorMachine(options);
    const isaTexts = [...new Set(options.isas.map((isa) => isa.text))];
    const info: HalInfo = Object.freeze({
      backend: "emulator",
      isa: options.isas[0]!.text,
      ...(isaTexts.length > 1 ? { isas: options.isas.map((isa) => isa.text) } : {}),
      profile: machine.profile.name,
      firmware: machine.firmware.name,
      version: VERSION,
      harts: options.harts,
      params: machine.profile.params,
    });
    const backend: HalBackend = {
      name: "emulator",
      harts: Object.freeze(Array.from({ length: options.harts }, (_, i) => i)),
      info: () => info,
      synchronous: true,
      // The runtime runs the word form (registered below); this is the same on objects.
      run: (hart, ops) => {
        const batch = encodeOps(ops);
        const results = wordResults(batch.length);
        machine.runWords(hart, batch, results);
        return csrResults(results, batch.length);
      },
      checkCsr: (csr) => machine.checkCsr(csr),
      ram: { base: options.ramBase, size: options.ramSize },
      physVirtOffset: options.physVirtOffset,
    };
    registerWordRunner(backend, machine);
    super(backend);
    this.#machine = machine;
  }

  /**
   * Returns every hart to the firmware preset's state (all CSR changes undone).
   *
   * @throws {AxError} Kind `"BadState"` after {@linkcode BackendHal.close}.
   */
  reset(): Promise<void> {
    if (this.closed) {
      return Promise.reject(new AxError("BadState", "Cannot reset the emulator: it is closed"));
    }
    this.#machine.reset();
    return Promise.resolve();
  }
}

/**
 * Creates an emulated machine.
 *
 * Needs no permissions.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 2, profile: "qemu-7.2" });
 * await hal.csr.write(1, CSR.hedeleg, -1n);
 * strictEqual(await hal.csr.read(1, CSR.hedeleg), 0xb1ffn);
 * await hal.close();
 * ```
 *
 * @param options Harts, ISA, profile, firmware, RAM.
 * @returns The HAL.
 * @throws {TypeError} For invalid options (with a `path` naming the option).
 */
export function createEmulatorHal(options: EmulatorOptions = {}): Promise<EmulatorHal> {
  try {
    return Promise.resolve(new EmulatorHal(parseEmulatorOptions(options)));
  } catch (error) {
    return Promise.reject(error);
  }
}

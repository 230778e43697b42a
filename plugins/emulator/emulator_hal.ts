/**
 * The emulator backend's {@linkcode AxVCpuHal}.
 *
 * @module
 */

import { HostMemory } from "../../hal/host_memory.ts";
import { AxError } from "../../hal/errors.ts";
import { SyncCsrPort } from "../../hal/sync_csr_port.ts";
import type { AxVCpuHal, HalInfo, HartId } from "../../hal/types.ts";
import { VERSION } from "../../version.ts";
import { EmulatorMachine } from "./machine.ts";
import {
  type EmulatorOptions,
  parseEmulatorOptions,
  type ResolvedEmulatorOptions,
} from "./options.ts";

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
export class EmulatorHal implements AxVCpuHal {
  /** The harts this backend has. */
  readonly harts: readonly HartId[];
  /** CSR access to the harts. */
  readonly csr: SyncCsrPort;
  /** The machine: the escape hatch to the raw state, for tests and tools. */
  readonly machine: EmulatorMachine;
  #options: ResolvedEmulatorOptions;
  #memory: HostMemory;
  #info: HalInfo;

  /**
   * Creates the machine; prefer {@linkcode createEmulatorHal}.
   *
   * @param options Validated options.
   */
  constructor(options: ResolvedEmulatorOptions) {
    this.#options = options;
    this.machine = new EmulatorMachine(options);
    this.harts = Object.freeze(Array.from({ length: options.harts }, (_, i) => i));
    this.csr = new SyncCsrPort(this.machine);
    this.#memory = new HostMemory(
      { base: options.ramBase, size: options.ramSize },
      options.physVirtOffset,
    );
    const isaTexts = [...new Set(options.isas.map((isa) => isa.text))];
    this.#info = Object.freeze({
      backend: "emulator",
      isa: options.isas[0]!.text,
      ...(isaTexts.length > 1 ? { isas: options.isas.map((isa) => isa.text) } : {}),
      profile: this.machine.profile.name,
      firmware: this.machine.firmware.name,
      version: VERSION,
      harts: options.harts,
      params: this.machine.profile.params,
    });
  }

  /** Describes the backend. */
  info(): HalInfo {
    return this.#info;
  }

  /** Allocates one 4 KiB frame; `undefined` when none is left. */
  allocFrame(): bigint | undefined {
    return this.#memory.allocFrame();
  }

  /** Returns a frame. */
  deallocFrame(pa: bigint): void {
    this.#memory.deallocFrame(pa);
  }

  /** Host physical to host virtual address (ArceOS's riscv64 linear map). */
  physToVirt(pa: bigint): bigint {
    return this.#memory.physToVirt(pa);
  }

  /** Host virtual to host physical address. */
  virtToPhys(va: bigint): bigint {
    return this.#memory.virtToPhys(va);
  }

  /** The emulator has no host interrupt sources: always 0. */
  irqFetch(): number {
    return 0;
  }

  /**
   * Returns every hart to the firmware preset's state (all CSR changes undone).
   *
   * @throws {AxError} Kind `"BadState"` after {@linkcode EmulatorHal.close}.
   */
  reset(): Promise<void> {
    if (this.machine.closed) {
      return Promise.reject(new AxError("BadState", "Cannot reset the emulator: it is closed"));
    }
    this.machine.reset();
    return Promise.resolve();
  }

  /** Releases the backend. Idempotent. */
  close(): Promise<void> {
    this.machine.close();
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

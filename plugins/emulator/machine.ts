/**
 * An emulated machine: every hart's CSR state in one `BigUint64Array`, the
 * profile's CSR file, and the firmware preset applied at reset.
 *
 * @module
 */

import { featuresOf, HartContext } from "../../hal/csr_hart.ts";
import { ALL_ONES } from "../../hal/csr_fields.ts";
import { csrName } from "../../hal/csr_numbers.ts";
import { AxError } from "../../hal/errors.ts";
import { type FirmwarePreset, resolveFirmware } from "../../hal/firmware.ts";
import type { CsrNum, HartId } from "../../hal/types.ts";
import type { WordBatch, WordResults } from "../../hal/_word_batch.ts";
import { misaOf } from "../../hal/isa.ts";
import type { ResolvedEmulatorOptions } from "./options.ts";
import type { EmulatorProfile } from "./profile.ts";
import { createQemu72Profile } from "./qemu_7_2_profile.ts";
import { createQemu100Profile } from "./qemu_10_0_profile.ts";
import { IP } from "../../hal/csr_fields.ts";
import { SLOT, SLOT_COUNT } from "./slots.ts";
import { createSpecProfile } from "./spec_profile.ts";

/**
 * The bytes of CSR state one hart costs.
 *
 * @example Usage
 * ```ts
 * import { machineOf } from "./emulator_hal.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { BYTES_PER_HART } from "./machine.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 1024 });
 * strictEqual(machineOf(hal).slots.byteLength, 1024 * BYTES_PER_HART);
 * await hal.close();
 * ```
 */
export const BYTES_PER_HART: number = SLOT_COUNT * 8;

/**
 * The harts of one emulated machine and the executor behind its CSR port.
 *
 * @example Usage
 * ```ts
 * import { machineOf } from "./emulator_hal.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * // The escape hatch under an EmulatorHal: the profile and the raw accesses.
 * const hal = await createEmulatorHal({ profile: "qemu-7.2" });
 * strictEqual(machineOf(hal).profile.name, "qemu-7.2");
 * strictEqual(machineOf(hal).execute(0, CSR.hedeleg, (1n << 64n) - 1n, (1n << 64n) - 1n), 0n);
 * strictEqual(machineOf(hal).execute(0, CSR.hedeleg, 0n, 0n), 0xb1ffn);
 * await hal.close();
 * ```
 */
export class EmulatorMachine {
  /** The CSR model. */
  readonly profile: EmulatorProfile;
  /** The firmware preset applied at reset. */
  readonly firmware: FirmwarePreset;
  /** Every hart's slots. */
  readonly slots: BigUint64Array;
  /** The same memory as 32-bit words (what the word form of the CSR model reads and writes). */
  readonly words: Int32Array;
  /** Each hart's ISA, as an index into the contexts. */
  readonly #isaOf: Uint16Array;
  /** One context per ISA, moved to the hart an access is for. */
  readonly #contexts: readonly HartContext[];
  /** How many harts. */
  readonly hartCount: number;
  /** The cause of the last trap. */
  trapCause = 0;

  /**
   * Builds a machine in its reset state, firmware preset applied.
   *
   * @param options Validated options.
   * @param profile A profile to use in place of the one `options.profile`
   *   names (a variant built with `createQemuProfile`, for tools that compare
   *   behaviours); `options.profile` then only names it.
   */
  constructor(options: ResolvedEmulatorOptions, profile?: EmulatorProfile) {
    this.profile = profile ?? createProfile(options);
    this.firmware = resolveFirmware(options.firmware, this.profile.opensbi);
    this.slots = new BigUint64Array(options.harts * SLOT_COUNT);
    this.words = new Int32Array(this.slots.buffer);
    // Harts with the same ISA share one extension set and one context.
    const contexts = new Map<string, number>();
    const kinds: HartContext[] = [];
    const isaOf = new Uint16Array(options.harts);
    for (let id = 0; id < options.harts; id++) {
      const isa = options.isas[id]!;
      let kind = contexts.get(isa.text);
      if (kind === undefined) {
        const extensions = this.profile.extensionsOf(isa);
        kind = kinds.length;
        kinds.push(
          new HartContext(this.slots, 0, 0, extensions, featuresOf(extensions), this.words),
        );
        contexts.set(isa.text, kind);
      }
      isaOf[id] = kind;
    }
    this.#isaOf = isaOf;
    this.#contexts = kinds;
    this.hartCount = options.harts;
    this.reset();
  }

  /** Returns every hart to its reset state and applies the firmware preset. */
  reset(): void {
    this.slots.fill(0n);
    // Harts of one ISA share their extension set, and so their misa.
    const misas = new Map<ReadonlySet<string>, bigint>();
    for (let id = 0; id < this.hartCount; id++) {
      const hart = this.context(id);
      let misa = misas.get(hart.extensions);
      if (misa === undefined) {
        misa = misaOfExtensions(hart.extensions);
        misas.set(hart.extensions, misa);
      }
      hart.put(SLOT.misa, misa);
      this.profile.reset(hart);
      for (const { csr, value } of this.firmware.writes(hart.hasH)) {
        this.profile.file.access(hart, csr, value, ALL_ONES);
      }
      if (this.firmware.mtimecmp !== undefined) {
        hart.put(SLOT.mtimecmp, this.firmware.mtimecmp);
        // time is 0, so the machine timer is pending only while mtimecmp is 0.
        const mip = hart.get(SLOT.mip);
        hart.put(SLOT.mip, this.firmware.mtimecmp === 0n ? mip | IP.MTIP : mip & ~IP.MTIP);
      }
    }
  }

  /**
   * The context of a hart, for the CSR model: valid until the next call
   * (harts of one ISA share one context, moved to the hart asked for).
   *
   * @param hart The hart.
   * @returns Its context.
   */
  context(hart: HartId): HartContext {
    return this.#contexts[this.#isaOf[hart]!]!.moveTo(hart, hart * SLOT_COUNT);
  }

  /** Throws when the backend cannot serve this CSR at all. */
  checkCsr(csr: CsrNum): void {
    const reason = this.profile.notModelled.get(csr);
    if (reason !== undefined) {
      throw new AxError(
        "Unsupported",
        `Cannot access CSR "${csrName(csr)}" (0x${csr.toString(16)}): ` +
          `the emulator's ${this.profile.name} profile does not model it (${reason})`,
      );
    }
  }

  /**
   * Executes checked operations on one hart, in order: the emulator
   * backend's one primitive (the runtime's word runner).
   *
   * @param hart The hart (the runtime checked it exists).
   * @param batch The operations.
   * @param results Where the old values and trap causes go.
   * @param at Where in `results.words` the first old value goes.
   * @returns How many operations trapped.
   */
  runWords(hart: HartId, batch: WordBatch, results: WordResults, at = 0): number {
    return this.profile.file.runWords(this.context(hart), batch, results, at);
  }

  /** Executes one CSR access (`csrrw`-style: `value` under `mask`); `undefined` on a trap. */
  execute(hart: HartId, csr: CsrNum, value: bigint, mask: bigint): bigint | undefined {
    const file = this.profile.file;
    const result = file.access(this.context(hart), csr, value, mask);
    if (result === undefined) this.trapCause = file.trapCause;
    return result;
  }
}

/**
 * The profiles made so far, by name and parameters. A profile is a
 * definition (its CSR blocks keep no hart's state), so every machine of one
 * profile shares it: a program that makes many machines builds each profile
 * once, and the engine's compiled code for its blocks stays valid.
 */
const PROFILES: Map<string, EmulatorProfile> = new Map();

/** The profile the options name. */
function createProfile(options: ResolvedEmulatorOptions): EmulatorProfile {
  const key = options.profile === "spec" ? `spec ${JSON.stringify(options.spec)}` : options.profile;
  let profile = PROFILES.get(key);
  if (profile === undefined) {
    switch (options.profile) {
      case "qemu-7.2":
        profile = createQemu72Profile();
        break;
      case "qemu-10.0":
        profile = createQemu100Profile();
        break;
      case "spec":
        profile = createSpecProfile(options.spec);
    }
    PROFILES.set(key, profile);
  }
  return profile;
}

function misaOfExtensions(extensions: ReadonlySet<string>): bigint {
  return misaOf({ text: "", xlen: 64, extensions });
}

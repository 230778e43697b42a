/**
 * H-extension detection, as the reference's `detect.rs` does it: read
 * `hgatp` (0x680) and treat an illegal-instruction trap (cause 2) as "absent".
 *
 * @module
 */

import { CSR } from "../hal/csr_numbers.ts";
import { CsrTrap } from "../hal/errors.ts";
import type { AxVCpuHal, HartId } from "../hal/types.ts";
import { misaBit } from "../hal/isa.ts";

/** The exception cause that means "no such CSR": illegal instruction. */
const ILLEGAL_INSTRUCTION = 2;
/** misa bit of the H extension. */
const MISA_H = misaBit("h");

/** Hart ids below this are cached in a byte array: a machine of 65,536 harts costs 64 KiB. */
const DENSE_HARTS = 1 << 20;
const ABSENT = 1;
const PRESENT = 2;

/** One backend's answers by hart, and the probes under way. */
export class ProbeCache {
  #dense: Uint8Array = new Uint8Array(0);
  #sparse: Map<HartId, boolean> = new Map();
  /** Probes under way. */
  readonly pending: Map<HartId, Promise<boolean>> = new Map();

  /** The answer for a hart, when a probe gave one. */
  get(hart: HartId): boolean | undefined {
    if (Number.isInteger(hart) && hart >= 0 && hart < DENSE_HARTS) {
      const known = this.#dense[hart];
      return known === PRESENT ? true : known === ABSENT ? false : undefined;
    }
    return this.#sparse.get(hart);
  }

  /** Records a probe's answer for a hart. */
  set(hart: HartId, present: boolean): void {
    if (Number.isInteger(hart) && hart >= 0 && hart < DENSE_HARTS) {
      if (hart >= this.#dense.length) {
        const grown = new Uint8Array(Math.min(DENSE_HARTS, Math.max(64, 2 * (hart + 1))));
        grown.set(this.#dense);
        this.#dense = grown;
      }
      this.#dense[hart] = present ? PRESENT : ABSENT;
    } else {
      this.#sparse.set(hart, present);
    }
  }
}

/** Per backend: the answers by hart, and the probes under way. */
const cache: WeakMap<AxVCpuHal, ProbeCache> = new WeakMap();

/**
 * The probe answers of a backend (made on first use): for code that records
 * or looks up many harts' answers at once.
 *
 * @param hal The backend.
 * @returns Its answers.
 */
export function probeCacheOf(hal: AxVCpuHal): ProbeCache {
  let harts = cache.get(hal);
  if (harts === undefined) {
    harts = new ProbeCache();
    cache.set(hal, harts);
  }
  return harts;
}

/**
 * Probes a hart for the H extension by reading `hgatp`.
 *
 * @example Usage
 * ```ts
 * import { detectHExtension } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 2, isa: ["rv64imafdch", "rv64imafdc"] });
 * strictEqual(await detectHExtension(hal, 0), true);
 * strictEqual(await detectHExtension(hal, 1), false);
 * await hal.close();
 * ```
 *
 * @param hal The backend.
 * @param hart The hart to probe.
 * @returns `true` when the read did not trap.
 * @throws {CsrTrap} When the probe traps with a cause other than illegal
 *   instruction (the reference panics there; a virtual-instruction trap means
 *   the "host" is itself a guest).
 */
export async function detectHExtension(hal: AxVCpuHal, hart: HartId): Promise<boolean> {
  try {
    await hal.csr.read(hart, CSR.hgatp);
    return true;
  } catch (error) {
    if (error instanceof CsrTrap && error.trapCause === ILLEGAL_INSTRUCTION) return false;
    throw error;
  }
}

/**
 * What {@linkcode detectReport} finds.
 *
 * @example Usage
 * ```ts
 * import { type DetectReport, detectReport } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const report: DetectReport = await detectReport(hal, 0);
 * deepStrictEqual(report, { hart: 0, present: true, misaH: true, agree: true });
 * await hal.close();
 * ```
 */
export interface DetectReport {
  /** The hart probed. */
  hart: HartId;
  /** The probe's answer: `hgatp` was readable. */
  present: boolean;
  /** The trap cause the probe raised, when it trapped. */
  probeTrap?: number;
  /** Whether misa has the H bit (7), or `undefined` when misa could not be read. */
  misaH: boolean | undefined;
  /** Whether probe and misa agree (`true` when misa could not be read). */
  agree: boolean;
}

/**
 * Probes a hart and cross-checks the answer against `misa` bit 7.
 *
 * @example Usage
 * ```ts
 * import { detectReport } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ isa: "rv64imac" });
 * deepStrictEqual(await detectReport(hal, 0), {
 *   hart: 0, present: false, probeTrap: 2, misaH: false, agree: true,
 * });
 * await hal.close();
 * ```
 *
 * @param hal The backend.
 * @param hart The hart to probe.
 * @returns The report.
 */
export async function detectReport(hal: AxVCpuHal, hart: HartId): Promise<DetectReport> {
  const [probe, misa] = await hal.csr.batch(hart, [
    { op: "read", csr: CSR.hgatp },
    { op: "read", csr: CSR.misa },
  ]);
  const present = probe!.ok;
  if (!probe!.ok && probe!.trapCause !== ILLEGAL_INSTRUCTION) {
    throw new CsrTrap({ hart, csr: CSR.hgatp, trapCause: probe!.trapCause, op: "read" });
  }
  rememberProbe(hal, hart, present);
  const misaH = misa!.ok ? (misa!.value & MISA_H) !== 0n : undefined;
  return {
    hart,
    present,
    ...(probe!.ok ? {} : { probeTrap: probe!.trapCause }),
    misaH,
    agree: misaH === undefined || misaH === present,
  };
}

/**
 * Whether a hart has the H extension, probed once per backend instance and
 * hart and then answered from a cache (the reference's
 * `has_hardware_support`).
 *
 * @example Usage
 * ```ts
 * import { hasHardwareSupport } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * strictEqual(await hasHardwareSupport(hal, 0), true);
 * await hal.close();
 * ```
 *
 * @param hal The backend.
 * @param hart The hart.
 * @returns `true` when H is present.
 */
export function hasHardwareSupport(hal: AxVCpuHal, hart: HartId): Promise<boolean> {
  const harts = probeCacheOf(hal);
  const known = harts.get(hart);
  if (known !== undefined) return Promise.resolve(known);
  const pending = harts.pending.get(hart);
  if (pending !== undefined) return pending;
  const probe = detectHExtension(hal, hart).then(
    (present) => {
      harts.pending.delete(hart);
      harts.set(hart, present);
      return present;
    },
    (error) => {
      // A failed probe is not an answer: let the next call probe again.
      harts.pending.delete(hart);
      throw error;
    },
  );
  harts.pending.set(hart, probe);
  return probe;
}

/**
 * Records the outcome of a probe made elsewhere (e.g. as the first read of a
 * batch), so {@linkcode hasHardwareSupport} need not probe again.
 *
 * @param hal The backend.
 * @param hart The hart.
 * @param present The probe's answer.
 */
export function rememberProbe(hal: AxVCpuHal, hart: HartId, present: boolean): void {
  probeCacheOf(hal).set(hart, present);
}

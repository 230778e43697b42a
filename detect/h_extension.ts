/**
 * H-extension detection, as the reference's `detect.rs` does it: read
 * `hgatp` (0x680) and treat an illegal-instruction trap (cause 2) as "absent".
 *
 * @module
 */

import { CSR } from "../hal/csr_numbers.ts";
import { CsrTrap } from "../hal/errors.ts";
import type { AxVCpuHal, HartId } from "../hal/types.ts";

/** The exception cause that means "no such CSR": illegal instruction. */
const ILLEGAL_INSTRUCTION = 2;
/** misa bit of the H extension. */
const MISA_H = 1n << 7n;

/** Per backend and hart: the answer, or the probe under way. */
const cache: WeakMap<AxVCpuHal, Map<HartId, boolean | Promise<boolean>>> = new WeakMap();

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
  let harts = cache.get(hal);
  if (harts === undefined) {
    harts = new Map();
    cache.set(hal, harts);
  }
  const known = harts.get(hart);
  if (typeof known === "boolean") return Promise.resolve(known);
  if (known !== undefined) return known;
  const map = harts;
  const probe = detectHExtension(hal, hart).then(
    (present) => {
      map.set(hart, present);
      return present;
    },
    (error) => {
      // A failed probe is not an answer: let the next call probe again.
      map.delete(hart);
      throw error;
    },
  );
  map.set(hart, probe);
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
  let harts = cache.get(hal);
  if (harts === undefined) {
    harts = new Map();
    cache.set(hal, harts);
  }
  harts.set(hart, present);
}

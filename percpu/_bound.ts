/**
 * Which vCPU is bound on a hart, whose delegation the hart holds, and
 * whether a transition runs on it: one slot per per-CPU state, read by the
 * per-CPU state (no disable under a bound vCPU) and by every view that
 * compares a hart with what it should hold, written by the vCPU. The
 * transition slot is shared by the per-CPU state and the vCPUs on its hart,
 * so a bind cannot interleave with a disable, nor two binds with each other.
 *
 * @module
 */

import { type SetupCsr, setupTable } from "./policy.ts";
import type { CsrReportEntry, RISCVPerCpu } from "./riscv_percpu.ts";
import type { GStageMode, RISCVVCpu } from "./riscv_vcpu.ts";

const BOUND: WeakMap<RISCVPerCpu, RISCVVCpu> = new WeakMap();
/** The vCPU bound last on each hart (bound now, or unbound since). */
const LATEST: WeakMap<RISCVPerCpu, RISCVVCpu> = new WeakMap();
/** Harts whose hedeleg/hideleg a vCPU's bind loaded (per-vCPU policies; `unbind` leaves them). */
const LOADED: WeakSet<RISCVPerCpu> = new WeakSet();
/** What KVM's G-stage detection found on each hart: the largest mode, and the VMID bits kept. */
const GSTAGE: WeakMap<RISCVPerCpu, { mode: GStageMode; vmidBits: number }> = new WeakMap();
/**
 * Whether a transition runs on a hart (an enable, a disable, a restore or a
 * vCPU's step): the per-CPU table's busy byte, which `RISCVPerCpu` lends
 * here once (it alone reaches the table).
 */
let busySlot: {
  get(percpu: RISCVPerCpu): boolean;
  set(percpu: RISCVPerCpu, busy: boolean): void;
};

/** Called once by `RISCVPerCpu`: how to read and write a hart's busy byte. */
export function setBusySlot(
  get: (percpu: RISCVPerCpu) => boolean,
  set: (percpu: RISCVPerCpu, busy: boolean) => void,
): void {
  busySlot = { get, set };
}

/** Whether a transition (per-CPU or of a vCPU) runs on the hart of `percpu`. */
export function hartBusy(percpu: RISCVPerCpu): boolean {
  return busySlot.get(percpu);
}

/** Marks the start (`true`) or the end (`false`) of a transition on the hart of `percpu`. */
export function setHartBusy(percpu: RISCVPerCpu, busy: boolean): void {
  busySlot.set(percpu, busy);
}

/**
 * What KVM's G-stage detection found on the hart of `percpu`, once found:
 * KVM detects once (at module init), so a later vCPU's set-up reuses it and
 * never probes hgatp under a bound vCPU.
 */
export function gstageOf(percpu: RISCVPerCpu): { mode: GStageMode; vmidBits: number } | undefined {
  return GSTAGE.get(percpu);
}

/** Records what the G-stage detection found on the hart of `percpu`. */
export function setGstage(
  percpu: RISCVPerCpu,
  found: { mode: GStageMode; vmidBits: number },
): void {
  GSTAGE.set(percpu, found);
}

/** The vCPU bound on the hart of `percpu`, if any. */
export function boundVcpuOf(percpu: RISCVPerCpu): RISCVVCpu | undefined {
  return BOUND.get(percpu);
}

/** Records the vCPU bound on the hart of `percpu` (`undefined`: none). */
export function setBoundVcpu(percpu: RISCVPerCpu, vcpu: RISCVVCpu | undefined): void {
  if (vcpu === undefined) BOUND.delete(percpu);
  else {
    BOUND.set(percpu, vcpu);
    LATEST.set(percpu, vcpu);
  }
}

/** The vCPU bound last on the hart of `percpu` (bound now, or unbound since), if any. */
export function latestVcpuOf(percpu: RISCVPerCpu): RISCVVCpu | undefined {
  return LATEST.get(percpu);
}

/**
 * Records whether the hart's delegation is a vCPU's (a bind loaded it) or
 * the per-CPU set-up's again (a new set-up, a restore, an undone bind).
 */
export function setDelegationLoaded(percpu: RISCVPerCpu, loaded: boolean): void {
  if (loaded) LOADED.add(percpu);
  else LOADED.delete(percpu);
}

/**
 * What the hart's set-up CSRs should hold now: the policy's table, with the
 * delegation a vCPU loaded where the policy delegates per vCPU and a vCPU
 * has been bound since the set-up (KVM's `vcpu_put` leaves it).
 *
 * @param percpu The hart's per-CPU state.
 * @returns One row per set-up CSR, in `SETUP_CSR_NAMES` order.
 */
export function expectedSetup(percpu: RISCVPerCpu): readonly SetupCsr[] {
  return setupTable(percpu.policy, LOADED.has(percpu) ? "vcpu" : "per-cpu");
}

/**
 * The hart's report as it stands: the set-up's `csrReport()`, with hedeleg
 * and hideleg as the vCPU that loaded them asked and found them, where one
 * did (see {@linkcode expectedSetup}).
 *
 * @param percpu The hart's per-CPU state.
 * @returns One entry per set-up CSR, in `SETUP_CSR_NAMES` order.
 */
export function currentReport(percpu: RISCVPerCpu): CsrReportEntry[] {
  const report = percpu.csrReport();
  const vcpu = LATEST.get(percpu);
  if (!LOADED.has(percpu) || vcpu === undefined) return report;
  const loaded = new Map(vcpu.csrReport().map((entry) => [entry.name, entry]));
  return report.map((entry) => loaded.get(entry.name) ?? entry);
}

/** What a hart should hold in one set-up CSR now, and the bits it may lack. */
export interface Expectation {
  /** The CSR, the value asked within its mask. */
  readonly row: SetupCsr;
  /** Bits the hart refused when they were written: facts of the hart, not drift. */
  readonly refused: bigint;
}

/**
 * What each set-up CSR of the hart should hold now ({@linkcode expectedSetup})
 * with the bits the hart refused when they were written: none where the
 * value must stick exactly (the delegation), else as the report found them.
 *
 * @param percpu The hart's per-CPU state.
 * @returns One expectation per set-up CSR, in `SETUP_CSR_NAMES` order.
 */
export function currentExpectations(percpu: RISCVPerCpu): Expectation[] {
  const report = currentReport(percpu);
  return expectedSetup(percpu).map((row, k) => ({
    row,
    refused: row.mustStick ? 0n : report[k]!.refused,
  }));
}

/** How a live value compares with what the hart should hold. */
export interface Verdict {
  /** `ok`; `refused`: differs only in bits the hart refused; `drift`: anything else. */
  readonly status: "ok" | "refused" | "drift";
  /** The bits within the mask where the value differs from the asked value. */
  readonly differs: bigint;
  /** Those of them that are drift (not refused). */
  readonly drift: bigint;
}

/**
 * Compares a live value with an expectation: bits the hart refused when
 * they were written are reported as refused, any other difference within
 * the mask is drift.
 *
 * @param expectation What the CSR should hold.
 * @param value The live value.
 * @returns The verdict.
 */
export function judgeCsr(expectation: Expectation, value: bigint): Verdict {
  const differs = (value ^ (expectation.row.asked ?? 0n)) & expectation.row.mask;
  const drift = differs & ~expectation.refused;
  return { status: drift !== 0n ? "drift" : differs !== 0n ? "refused" : "ok", differs, drift };
}

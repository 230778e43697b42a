/**
 * Which vCPU is bound on a hart: one slot per per-CPU state, read by the
 * per-CPU state (no disable under a bound vCPU) and written by the vCPU.
 *
 * @module
 */

import type { RISCVPerCpu } from "./riscv_percpu.ts";
import type { RISCVVCpu } from "./riscv_vcpu.ts";

const BOUND: WeakMap<RISCVPerCpu, RISCVVCpu> = new WeakMap();

/** The vCPU bound on the hart of `percpu`, if any. */
export function boundVcpuOf(percpu: RISCVPerCpu): RISCVVCpu | undefined {
  return BOUND.get(percpu);
}

/** Records the vCPU bound on the hart of `percpu` (`undefined`: none). */
export function setBoundVcpu(percpu: RISCVPerCpu, vcpu: RISCVVCpu | undefined): void {
  if (vcpu === undefined) BOUND.delete(percpu);
  else BOUND.set(percpu, vcpu);
}

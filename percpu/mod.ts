/**
 * The per-CPU layer: `RISCVPerCpu` (one hart), `PerCpuSet` (many harts),
 * `RISCVVCpu` (a vCPU on an enabled hart), the set-up policies and the table
 * of what a set-up asks.
 *
 * @module
 */

export { type CsrReportEntry, type PriorValues, RISCVPerCpu } from "./riscv_percpu.ts";
export { PerCpuSet } from "./percpu_set.ts";
export { RISCVVCpu } from "./riscv_vcpu.ts";
export {
  ARCEOS_POLICY,
  type CustomPolicySpec,
  KVM_POLICY,
  type PerCpuPolicy,
  type PolicySpec,
  resolvePolicy,
} from "./policy.ts";

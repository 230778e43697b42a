/**
 * The per-CPU layer: `RISCVPerCpu` (one hart), `PerCpuSet` (many harts) and
 * the set-up policies.
 *
 * @module
 */

export {
  type CsrReportEntry,
  type PriorValues,
  RISCVPerCpu,
  type RISCVPerCpuOptions,
} from "./riscv_percpu.ts";
export { PerCpuSet, type PerCpuSetOptions } from "./percpu_set.ts";
export {
  ARCEOS_POLICY,
  type CustomPolicySpec,
  describePolicy,
  KVM_POLICY,
  type PerCpuPolicy,
  type PolicySpec,
  type PriorCsr,
  resolvePolicy,
  SETUP_CSR_NAMES,
  type SetupCsr,
  type SetupCsrName,
  setupOperations,
  setupTable,
} from "./policy.ts";
export { csrBitNames, type CsrDescription, describeHart, type HartDescription } from "./report.ts";

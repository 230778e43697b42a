/**
 * One hart's set-up, enable and disable under the reference policy, CSR by
 * CSR, as `PerCpuSet.init` then `disableAll` run it: what the benches'
 * floors replay and what a recording of them holds.
 *
 * @module
 */

import { CSR } from "../hal/csr_numbers.ts";
import type { CsrNum, CsrOp } from "../hal/types.ts";
import {
  ARCEOS_POLICY,
  PRIOR_CSRS,
  RESTORE_ORDER,
  SETUP_CSR_NAMES,
  setupOperations,
} from "../percpu/policy.ts";

/** The probe (hgatp), then the prior values, read. */
export const PROBE_AND_PRIORS: readonly CsrNum[] = [
  CSR.hgatp,
  ...PRIOR_CSRS.map((name) => CSR[name]),
];
/** The reference policy's operations, in order. */
export const OPERATIONS: readonly CsrOp[] = setupOperations(ARCEOS_POLICY);
/** The read-back of what each set-up CSR kept. */
export const READ_BACK: readonly CsrNum[] = SETUP_CSR_NAMES.map((name) => CSR[name]);
/** The restore of the prior values, in KVM's order. */
export const RESTORE: readonly CsrNum[] = RESTORE_ORDER.map((name) => CSR[name]);
/** How many CSR accesses one hart's set-up, enable and disable make. */
export const ACCESSES_PER_HART: number = PROBE_AND_PRIORS.length + OPERATIONS.length +
  READ_BACK.length + RESTORE.length;

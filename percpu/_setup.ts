/**
 * The one set-up route: what `RISCVPerCpu.create`, a re-enable and
 * `PerCpuSet.init` all run, with one rollback path.
 *
 * Phase 1 reads only (the H probe and the prior values of every hart) and
 * completes before the first write anywhere, so a hart without H fails the
 * set with nothing written. Phase 2 runs the policy's operations and the
 * read-back on each hart. Whatever fails after phase 2 started (a trapped
 * write, a rejected batch after its writes may have reached the hart, a
 * time-out, a failed stick check) restores the priors on every hart whose
 * phase 2 began, the failing one included (unless its error says nothing was
 * sent); the rejection is the original error, with any failure of those
 * restores in `rollbackErrors`.
 *
 * The route touches only `hal.csr` (and the H-detection cache keyed to
 * the HAL object), so any object shaped like `AxVCpuHal` can be set up.
 *
 * @module
 */

import { CSR } from "../hal/csr_numbers.ts";
import { addRollbackErrors, AxError, CsrTrap, TraceDivergence } from "../hal/errors.ts";
import { hex } from "../hal/hex.ts";
import { syncBatchOf } from "../hal/_sync_batch.ts";
import type { AxVCpuHal, CsrOp, CsrResult, HartId } from "../hal/types.ts";
import { rememberProbe } from "../detect/h_extension.ts";
import {
  type PerCpuPolicy,
  PRIOR_CSRS,
  type PriorCsr,
  RESTORE_ORDER,
  type SetupCsr,
  setupOperations,
  setupTable,
} from "./policy.ts";
import { csrBitNames } from "./report.ts";
import { type CsrSteps, runSteps, runStepsSync } from "./_steps.ts";

/**
 * The values of the prior CSRs.
 *
 * @example Disable restores what was there before
 * ```ts
 * import { CSR, type PriorValues, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * await hal.csr.write(0, CSR.hedeleg, 0x100n); // left by an earlier owner of the hart
 * const percpu = await RISCVPerCpu.create(0, hal);
 * const priors: PriorValues = percpu.priors;
 * strictEqual(priors.hedeleg, 0x100n);
 * await percpu.hardwareEnable();
 * await percpu.hardwareDisable();
 * strictEqual(await hal.csr.read(0, CSR.hedeleg), 0x100n);
 * await hal.close();
 * ```
 */
export interface PriorValues {
  /** hedeleg before the set-up. */
  readonly hedeleg: bigint;
  /** hideleg before the set-up. */
  readonly hideleg: bigint;
  /** hvip before the set-up. */
  readonly hvip: bigint;
  /** hcounteren before the set-up. */
  readonly hcounteren: bigint;
  /** sie before the set-up. */
  readonly sie: bigint;
  /** vsie before the set-up. */
  readonly vsie: bigint;
}

/** What a set-up found and left on one hart. */
export interface SetUpOutcome {
  /** The values before the set-up. */
  readonly priors: PriorValues;
  /** What each set-up CSR read back, in `setupTable` order. */
  readonly readBack: readonly bigint[];
}

/**
 * Freezes a batch and its operations: the same frozen batch is sent for
 * every hart, and the runtime checks it once.
 */
function frozenOps(ops: CsrOp[]): readonly CsrOp[] {
  return Object.freeze(ops.map((op) => Object.freeze(op)));
}

/** The H probe (a read of hgatp, as the reference's detect) and the reads of the priors. */
const PROBE_AND_PRIORS: readonly CsrOp[] = frozenOps([
  { op: "read", csr: CSR.hgatp },
  ...PRIOR_CSRS.map((name): CsrOp => ({ op: "read", csr: CSR[name] })),
]);

/** Per policy: its operations followed by the read-back of every set-up CSR. */
const COMPILED: WeakMap<PerCpuPolicy, readonly CsrOp[]> = new WeakMap();

function policyBatch(policy: PerCpuPolicy): readonly CsrOp[] {
  let ops = COMPILED.get(policy);
  if (ops === undefined) {
    ops = frozenOps([
      ...setupOperations(policy),
      ...setupTable(policy).map((row): CsrOp => ({ op: "read", csr: row.csr })),
    ]);
    COMPILED.set(policy, ops);
  }
  return ops;
}

/** The bits a hart refused of what a row asks. */
export function refusedBits(row: SetupCsr, kept: bigint): bigint {
  return row.asked === undefined ? 0n : (kept ^ row.asked) & row.mask;
}

/** Stick-check failures made here: their message says how the rollback went. */
const STICK_FAILURES: WeakSet<AxError> = new WeakSet();

function describeBits(row: SetupCsr, bits: bigint): string {
  const positions: string[] = [];
  for (let bit = 0; bit < 64; bit++) if ((bits >> BigInt(bit)) & 1n) positions.push(String(bit));
  return `bit${positions.length === 1 ? "" : "s"} ${positions.join(", ")} (${
    csrBitNames(row.name, bits).join(", ")
  })`;
}

/** Phase 1 on one hart: the H probe and the prior values, in one batch of reads. */
function* probePriors(hal: AxVCpuHal, hart: HartId): CsrSteps<PriorValues> {
  const results: CsrResult[] = yield PROBE_AND_PRIORS;
  const probe = results[0]!;
  if (!probe.ok) {
    if (probe.trapCause === 2) {
      rememberProbe(hal, hart, false);
      throw new AxError(
        "Unsupported",
        `Cannot set up hart ${hart}: the H extension is absent ` +
          `(reading hgatp raised illegal instruction); nothing was written`,
        { hart },
      );
    }
    throw new CsrTrap({ hart, csr: CSR.hgatp, trapCause: probe.trapCause, op: "read" });
  }
  rememberProbe(hal, hart, true);
  const priors = {} as Record<PriorCsr, bigint>;
  for (let i = 0; i < PRIOR_CSRS.length; i++) {
    const result = results[i + 1]!;
    if (!result.ok) {
      throw new CsrTrap({ hart, csr: PROBE_AND_PRIORS[i + 1]!.csr, trapCause: result.trapCause });
    }
    priors[PRIOR_CSRS[i]!] = result.value;
  }
  return priors;
}

/** Phase 2 on one hart: the policy's operations and the read-back, checked. */
function* applyPolicy(hart: HartId, policy: PerCpuPolicy): CsrSteps<readonly bigint[]> {
  const ops = policyBatch(policy);
  const table = setupTable(policy);
  const results: CsrResult[] = yield ops;
  for (let i = 0; i < results.length; i++) {
    const result = results[i]!;
    if (!result.ok) {
      const op = ops[i]!;
      throw new CsrTrap({ hart, csr: op.csr, trapCause: result.trapCause, op: op.op });
    }
  }
  const setupCount = ops.length - table.length;
  const readBack = new Array<bigint>(table.length);
  for (let i = 0; i < table.length; i++) {
    const row = table[i]!;
    const kept = (results[setupCount + i] as { value: bigint }).value;
    readBack[i] = kept;
    const refused = refusedBits(row, kept);
    if (refused !== 0n && row.mustStick) {
      const error = new AxError(
        "Unsupported",
        `Cannot set up hart ${hart}: ${row.name} (${hex(BigInt(row.csr))}) ` +
          `did not keep ${describeBits(row, refused)}: asked ${hex(row.asked!)}, ` +
          `kept ${hex(kept)}`,
        { hart },
      );
      STICK_FAILURES.add(error);
      throw error;
    }
  }
  return readBack;
}

/**
 * Writes the priors back in KVM's order (`kvm_arch_hardware_disable`), then
 * the CSRs KVM does not touch.
 */
export function* restorePriors(hart: HartId, priors: PriorValues): CsrSteps<void> {
  const ops = RESTORE_ORDER.map((name): CsrOp => ({
    op: "write",
    csr: CSR[name],
    value: priors[name],
  }));
  const results: CsrResult[] = yield ops;
  const trapped = results.findIndex((result) => !result.ok);
  if (trapped >= 0) {
    const cause = (results[trapped] as { trapCause: number }).trapCause;
    throw new CsrTrap({ hart, csr: ops[trapped]!.csr, trapCause: cause, op: "write" });
  }
}

/**
 * Runs `task` over `items`, at most `limit` at a time, in item order, and
 * starting nothing new after the first failure when `stopOnFailure`.
 * Resolves to the failures by item index.
 */
export async function runBounded<T>(
  items: readonly T[],
  limit: number,
  stopOnFailure: boolean,
  task: (item: T, index: number) => Promise<void>,
): Promise<Map<number, unknown>> {
  const failures = new Map<number, unknown>();
  let next = 0;
  async function worker(): Promise<void> {
    while ((!stopOnFailure || failures.size === 0) && next < items.length) {
      const index = next++;
      try {
        await task(items[index]!, index);
      } catch (error) {
        failures.set(index, error);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failures;
}

/**
 * Whether a failed phase 2 may have changed its hart. Only errors that are
 * raised before anything is sent say it did not: a malformed request or an
 * unknown or closed hart (`InvalidInput`, `NotFound`, `BadState`), and a
 * replay that departs from its trace (it answers nothing). Anything else (a
 * trap after earlier writes, an I/O error or time-out after the batch left,
 * a failed stick check) may have, and the hart is restored.
 */
function mayHaveReachedHart(error: unknown): boolean {
  if (error instanceof TraceDivergence) return false;
  if (error instanceof AxError && !(error instanceof CsrTrap)) {
    return !["InvalidInput", "NotFound", "BadState"].includes(error.kind);
  }
  return true;
}

/**
 * The failure of the lowest index, its `hart` set and the rollback's
 * failures attached: the error a multi-hart operation rejects with.
 */
export function firstFailure(
  failures: ReadonlyMap<number, unknown>,
  harts: readonly HartId[],
  rollbackErrors: readonly unknown[],
): unknown {
  const index = Math.min(...failures.keys());
  const error = failures.get(index);
  if (error instanceof AxError) {
    error.hart = harts[index];
    if (STICK_FAILURES.has(error)) {
      error.message += rollbackErrors.length === 0
        ? "; the prior values were restored"
        : "; restoring the prior values failed (see rollbackErrors)";
    }
  }
  addRollbackErrors(error, rollbackErrors);
  return error;
}

/**
 * Sets up `harts` with `policy`: phase 1 on every hart, then phase 2,
 * rolling back every hart whose phase 2 began when any fails.
 *
 * @param hal The backend (only `hal.csr` is used).
 * @param harts The harts, distinct.
 * @param policy The policy.
 * @param concurrency How many harts run at once on an asynchronous port.
 * @returns One outcome per hart, in `harts` order.
 */
export async function setUpHarts(
  hal: AxVCpuHal,
  harts: readonly HartId[],
  policy: PerCpuPolicy,
  concurrency: number,
): Promise<SetUpOutcome[]> {
  const port = hal.csr;
  const sync = syncBatchOf(port);
  const priors = new Array<PriorValues>(harts.length);
  const readBacks = new Array<readonly bigint[]>(harts.length);
  let failures = new Map<number, unknown>();

  // Phase 1, reads only, every hart before any write.
  if (sync !== undefined) {
    for (let i = 0; i < harts.length; i++) {
      try {
        priors[i] = runStepsSync(sync, harts[i]!, probePriors(hal, harts[i]!));
      } catch (error) {
        failures.set(i, error);
      }
    }
  } else {
    failures = await runBounded(harts, concurrency, false, async (hart, i) => {
      priors[i] = await runSteps(port, hart, probePriors(hal, hart));
    });
  }
  if (failures.size > 0) throw firstFailure(failures, harts, []);

  // Phase 2: the first failure starts nothing new; every hart it may have changed is restored.
  const begun: number[] = [];
  if (sync !== undefined) {
    for (let i = 0; i < harts.length; i++) {
      begun.push(i);
      try {
        readBacks[i] = runStepsSync(sync, harts[i]!, applyPolicy(harts[i]!, policy));
      } catch (error) {
        failures.set(i, error);
        break;
      }
    }
  } else {
    failures = await runBounded(harts, concurrency, true, async (hart, i) => {
      begun.push(i);
      readBacks[i] = await runSteps(port, hart, applyPolicy(hart, policy));
    });
  }
  if (failures.size > 0) {
    const rollbackErrors: unknown[] = [];
    const changed = begun.filter((i) => !failures.has(i) || mayHaveReachedHart(failures.get(i)));
    await Promise.all(
      changed.map((i) =>
        runSteps(port, harts[i]!, restorePriors(harts[i]!, priors[i]!)).catch((error) =>
          void rollbackErrors.push(error)
        )
      ),
    );
    throw firstFailure(failures, harts, rollbackErrors);
  }
  return harts.map((_, i) => ({ priors: priors[i]!, readBack: readBacks[i]! }));
}

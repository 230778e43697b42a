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
 * the HAL object), so any object shaped like `AxVCpuHal` can be set up. It
 * takes the fastest form the port offers: the word form of an in-process
 * backend (no object or `bigint` per access; what the set-up of thousands of
 * emulated harts runs on), a synchronous batch, or awaited batches a bounded
 * number of harts at a time. Each phase's results are read by one function
 * whatever the form, from words (`_word_batch.ts`). What it finds goes into a
 * `PerCpuTable`.
 *
 * @module
 */

import { CSR } from "../hal/csr_numbers.ts";
import { addRollbackErrors, AxError, CsrTrap, TraceDivergence } from "../hal/errors.ts";
import { hex } from "../hal/hex.ts";
import { syncBatchOf, type WordPort, wordPortOf } from "../hal/_sync_batch.ts";
import {
  bigintOf,
  putCsrResults,
  type WordBatch,
  type WordResults,
  wordResults,
} from "../hal/_word_batch.ts";
import type { AxVCpuHal, CsrOp, CsrPort, CsrResult, HartId } from "../hal/types.ts";
import { type ProbeCache, probeCacheOf } from "../detect/h_extension.ts";
import {
  type PerCpuPolicy,
  PRIOR_CSRS,
  RESTORE_ORDER,
  type SetupCsr,
  setupOperations,
  setupTable,
} from "./policy.ts";
import { csrBitNames } from "./report.ts";
import { PerCpuTable, PRIORS_AT, PROBE_ROW_WORDS } from "./_table.ts";

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

/** The restore's writes, in KVM's order; each hart's values go in as operands. */
const RESTORE: readonly CsrOp[] = frozenOps(
  RESTORE_ORDER.map((name): CsrOp => ({ op: "write", csr: CSR[name], value: 0n })),
);
/** Where each restored CSR's prior value is in a table row. */
const RESTORE_FROM: readonly number[] = RESTORE_ORDER.map((name) =>
  PRIORS_AT + 2 * PRIOR_CSRS.indexOf(name)
);

/** A policy's set-up batch and what its read-back is checked against, as words. */
interface CompiledPolicy {
  /** Its operations followed by the read-back of every set-up CSR. */
  readonly ops: readonly CsrOp[];
  /** The set-up CSRs, in read-back order. */
  readonly table: readonly SetupCsr[];
  /** How many operations come before the read-back. */
  readonly setupCount: number;
  /** Per set-up CSR, two words: the value asked (zero where nothing is asked). */
  readonly asked: Int32Array;
  /** Per set-up CSR, two words: the bits that must stick (zero unless `mustStick`). */
  readonly stick: Int32Array;
}

const COMPILED: WeakMap<PerCpuPolicy, CompiledPolicy> = new WeakMap();

function compiledPolicy(policy: PerCpuPolicy): CompiledPolicy {
  let compiled = COMPILED.get(policy);
  if (compiled === undefined) {
    const table = setupTable(policy);
    const setup = setupOperations(policy);
    const asked = new Int32Array(2 * table.length);
    const stick = new Int32Array(2 * table.length);
    const words = new BigUint64Array(asked.buffer);
    const stickWords = new BigUint64Array(stick.buffer);
    table.forEach((row, i) => {
      words[i] = row.asked ?? 0n;
      stickWords[i] = row.mustStick && row.asked !== undefined ? row.mask : 0n;
    });
    compiled = {
      ops: frozenOps([
        ...setup,
        ...table.map((row): CsrOp => ({ op: "read", csr: row.csr })),
      ]),
      table,
      setupCount: setup.length,
      asked,
      stick,
    };
    COMPILED.set(policy, compiled);
  }
  return compiled;
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

/** Throws the first trap among a batch's results from operation `from`, as a `CsrTrap`. */
function throwFirstTrap(
  hart: HartId,
  ops: readonly CsrOp[],
  results: WordResults,
  from = 0,
): void {
  for (let k = from; k < ops.length; k++) {
    const cause = results.causes[k]!;
    if (cause !== 0) {
      throw new CsrTrap({ hart, csr: ops[k]!.csr, trapCause: cause, op: ops[k]!.op });
    }
  }
}

/** Copies `count` words from `from` (at `fromAt`) to `to` (at `toAt`). */
function copyWords(from: Int32Array, fromAt: number, to: Int32Array, toAt: number, count: number) {
  for (let k = 0; k < count; k++) to[toAt + k] = from[fromAt + k]!;
}

/**
 * Phase 1's results on one hart (the H probe and the prior values): throws
 * when the hart has no H or an access trapped (`traps` of them did); keeps
 * the priors in the row and the probe's answer in `probes`.
 */
function takePriors(
  probes: ProbeCache,
  hart: HartId,
  results: WordResults,
  traps: number,
  table: PerCpuTable,
  row: number,
): void {
  const probe = results.causes[0]!;
  if (probe !== 0) {
    if (probe === 2) {
      probes.set(hart, false);
      throw new AxError(
        "Unsupported",
        `Cannot set up hart ${hart}: the H extension is absent ` +
          `(reading hgatp raised illegal instruction); nothing was written`,
        { hart },
      );
    }
    throw new CsrTrap({ hart, csr: CSR.hgatp, trapCause: probe, op: "read" });
  }
  probes.set(hart, true);
  if (traps > 0) throwFirstTrap(hart, PROBE_AND_PRIORS, results, 1);
  // The reads are in the row already when they were read into it (the word form).
  if (results.words !== table.priors) {
    copyWords(results.words, 0, table.priors, row * PROBE_ROW_WORDS, PROBE_ROW_WORDS);
  }
}

/**
 * Phase 2's results on one hart (the policy's operations and the read-back):
 * throws when an access trapped (`traps` of them did) or an asked bit did
 * not stick; keeps the read-back in the row.
 */
function takeReadBack(
  hart: HartId,
  compiled: CompiledPolicy,
  results: WordResults,
  traps: number,
  table: PerCpuTable,
  row: number,
): void {
  if (traps > 0) throwFirstTrap(hart, compiled.ops, results);
  const words = results.words;
  const first = 2 * compiled.setupCount;
  const { asked, stick } = compiled;
  for (let i = 0; i < compiled.table.length; i++) {
    const low = words[first + 2 * i]!;
    const high = words[first + 2 * i + 1]!;
    if (
      (((low ^ asked[2 * i]!) & stick[2 * i]!) |
        ((high ^ asked[2 * i + 1]!) & stick[2 * i + 1]!)) !== 0
    ) {
      const setup = compiled.table[i]!;
      const kept = bigintOf(words, first + 2 * i);
      const error = new AxError(
        "Unsupported",
        `Cannot set up hart ${hart}: ${setup.name} (${hex(BigInt(setup.csr))}) ` +
          `did not keep ${describeBits(setup, refusedBits(setup, kept))}: asked ` +
          `${hex(setup.asked!)}, kept ${hex(kept)}`,
        { hart },
      );
      STICK_FAILURES.add(error);
      throw error;
    }
  }
  copyWords(words, first, table.readBack, row * table.readBackWords, table.readBackWords);
}

/** How many of a batch's results are traps. */
function trapCount(results: WordResults, length: number): number {
  let traps = 0;
  for (let k = 0; k < length; k++) if (results.causes[k] !== 0) traps++;
  return traps;
}

/** Runs a batch through a port that answers with objects: synchronously when it can. */
function runObjects(
  port: CsrPort,
  hart: HartId,
  ops: readonly CsrOp[],
): CsrResult[] | Promise<CsrResult[]> {
  const sync = syncBatchOf(port);
  return sync !== undefined ? sync(hart, ops) : port.batch(hart, ops);
}

/** The restore of a row's hart, as operations (for a port without the word form). */
function restoreOps(table: PerCpuTable, row: number): CsrOp[] {
  return RESTORE.map((op, k): CsrOp => ({
    op: "write",
    csr: op.csr,
    value: bigintOf(table.priors, row * PROBE_ROW_WORDS + RESTORE_FROM[k]!),
  }));
}

/**
 * Restores a row's hart on a port with the word form: the priors written
 * back in KVM's order (`kvm_arch_hardware_disable`), then the CSRs KVM does
 * not touch. `batch` is the caller's copy of the compiled restore.
 */
function restoreWords(
  words: WordPort,
  batch: WordBatch,
  results: WordResults,
  table: PerCpuTable,
  row: number,
): void {
  const base = row * PROBE_ROW_WORDS;
  for (let k = 0; k < RESTORE.length; k++) {
    const at = base + RESTORE_FROM[k]!;
    batch.setOperand(k, table.priors[at]!, table.priors[at + 1]!);
  }
  const hart = table.harts[row]!;
  if (words.run(hart, batch, results) > 0) throwFirstTrap(hart, RESTORE, results);
}

/** Restores a row's hart: at once on a port with the word form (`undefined`), else a promise. */
export type Restorer = (row: number) => Promise<void> | undefined;

const RESTORERS: WeakMap<PerCpuTable, Restorer> = new WeakMap();

/**
 * The restorer of a table's rows on `hal` (made once per table): on a port
 * with the word form, restores run at once (returning `undefined`);
 * otherwise each is a promise.
 */
export function restorer(hal: AxVCpuHal, table: PerCpuTable): Restorer {
  let restore = RESTORERS.get(table);
  if (restore === undefined) {
    restore = makeRestorer(hal, table);
    RESTORERS.set(table, restore);
  }
  return restore;
}

function makeRestorer(hal: AxVCpuHal, table: PerCpuTable): Restorer {
  const port = hal.csr;
  const words = wordPortOf(port);
  if (words !== undefined && table.length > 0) {
    let batch: WordBatch | undefined;
    const results = wordResults(RESTORE.length);
    return (row) => {
      batch ??= words.compile(table.harts[row]!, RESTORE).copy();
      restoreWords(words, batch, results, table, row);
      return undefined;
    };
  }
  return async (row) => {
    const hart = table.harts[row]!;
    const results = await runObjects(port, hart, restoreOps(table, row));
    const trapped = results.findIndex((result) => !result.ok);
    if (trapped >= 0) {
      const cause = (results[trapped] as { trapCause: number }).trapCause;
      throw new CsrTrap({ hart, csr: RESTORE[trapped]!.csr, trapCause: cause, op: "write" });
    }
  };
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
  let index = Infinity;
  for (const key of failures.keys()) index = Math.min(index, key);
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

/** What phase 2 did: the failures by row, and the rows it began (all that may need a restore). */
interface Applied {
  readonly failures: Map<number, unknown>;
  readonly begun: readonly number[];
}

/** Compiles a batch on the word form, as a failure of the first row when the port refuses it. */
function compileOn(
  words: WordPort,
  table: PerCpuTable,
  ops: readonly CsrOp[],
  failures: Map<number, unknown>,
): WordBatch | undefined {
  try {
    // Checked as the port's batch would check it (the first hart included).
    return words.compile(table.harts[0]!, ops);
  } catch (error) {
    failures.set(0, error);
    return undefined;
  }
}

/** Phase 1 on a port with the word form: every hart at once, no object or `bigint` per access. */
function probeWords(
  probes: ProbeCache,
  words: WordPort,
  table: PerCpuTable,
  results: WordResults,
): Map<number, unknown> {
  const failures = new Map<number, unknown>();
  const batch = compileOn(words, table, PROBE_AND_PRIORS, failures);
  if (batch === undefined) return failures;
  const harts = table.harts;
  // The reads go straight into the rows.
  const rows: WordResults = { words: table.priors, causes: results.causes };
  for (let row = 0; row < harts.length; row++) {
    try {
      const traps = words.run(harts[row]!, batch, rows, row * PROBE_ROW_WORDS);
      takePriors(probes, harts[row]!, rows, traps, table, row);
    } catch (error) {
      failures.set(row, error);
    }
  }
  return failures;
}

/** Phase 2 on a port with the word form, hart after hart until one fails. */
function applyWords(
  words: WordPort,
  table: PerCpuTable,
  compiled: CompiledPolicy,
  results: WordResults,
): Applied {
  const failures = new Map<number, unknown>();
  const batch = compileOn(words, table, compiled.ops, failures);
  if (batch === undefined) return { failures, begun: [] };
  const harts = table.harts;
  let row = 0;
  for (; row < harts.length; row++) {
    try {
      const traps = words.run(harts[row]!, batch, results);
      takeReadBack(harts[row]!, compiled, results, traps, table, row);
    } catch (error) {
      failures.set(row, error);
      break;
    }
  }
  if (failures.size === 0) return { failures, begun: [] };
  return { failures, begun: Array.from({ length: row + 1 }, (_, i) => i) };
}

/** Phase 1 on a port that answers with objects: at once when it can, else awaited. */
function probeObjects(
  probes: ProbeCache,
  port: CsrPort,
  table: PerCpuTable,
  results: WordResults,
  concurrency: number,
): Promise<Map<number, unknown>> {
  // Results are read synchronously once a batch has answered, so one buffer serves every hart.
  return runBounded(table.harts, concurrency, false, async (hart, row) => {
    putCsrResults(await runObjects(port, hart, PROBE_AND_PRIORS), results);
    const traps = trapCount(results, PROBE_AND_PRIORS.length);
    takePriors(probes, hart, results, traps, table, row);
  });
}

/** Phase 2 on a port that answers with objects, until one hart fails. */
async function applyObjects(
  port: CsrPort,
  table: PerCpuTable,
  compiled: CompiledPolicy,
  results: WordResults,
  concurrency: number,
): Promise<Applied> {
  const begun: number[] = [];
  const failures = await runBounded(table.harts, concurrency, true, async (hart, row) => {
    begun.push(row);
    putCsrResults(await runObjects(port, hart, compiled.ops), results);
    const traps = trapCount(results, compiled.ops.length);
    takeReadBack(hart, compiled, results, traps, table, row);
  });
  return { failures, begun };
}

/**
 * Sets up `harts` with `policy`: phase 1 on every hart, then phase 2,
 * rolling back every hart whose phase 2 began when any fails.
 *
 * @param hal The backend (only `hal.csr` is used).
 * @param harts The harts, distinct.
 * @param policy The policy.
 * @param concurrency How many harts run at once on an asynchronous port.
 * @returns What each hart had and kept, one row per hart in `harts` order.
 */
export async function setUpHarts(
  hal: AxVCpuHal,
  harts: readonly HartId[],
  policy: PerCpuPolicy,
  concurrency: number,
): Promise<PerCpuTable> {
  const compiled = compiledPolicy(policy);
  const table = new PerCpuTable(harts, compiled.table.length);
  if (harts.length === 0) return table;
  const port = hal.csr;
  const words = wordPortOf(port);
  const probes = probeCacheOf(hal);
  const results = wordResults(Math.max(PROBE_AND_PRIORS.length, compiled.ops.length));

  // Phase 1, reads only, every hart before any write.
  const probeFailures = words !== undefined
    ? probeWords(probes, words, table, results)
    : await probeObjects(probes, port, table, results, concurrency);
  if (probeFailures.size > 0) throw firstFailure(probeFailures, harts, []);

  // Phase 2: the first failure starts nothing new; every hart it may have changed is restored.
  const { failures, begun } = words !== undefined
    ? applyWords(words, table, compiled, results)
    : await applyObjects(port, table, compiled, results, concurrency);
  if (failures.size > 0) {
    const rollbackErrors: unknown[] = [];
    const changed = begun.filter((i) => !failures.has(i) || mayHaveReachedHart(failures.get(i)));
    const restore = restorer(hal, table);
    await Promise.all(changed.map(async (row) => {
      try {
        await restore(row);
      } catch (error) {
        rollbackErrors.push(error);
      }
    }));
    throw firstFailure(failures, harts, rollbackErrors);
  }
  return table;
}

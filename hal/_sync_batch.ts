/**
 * The in-process fast paths, registered against the objects they belong to
 * and found by the code that can use them; none is part of the public
 * contract (a third-party port never has one, and the core then awaits its
 * `batch`):
 *
 * - a synchronous batch registered against the `CsrPort` that offers it, so
 *   the per-CPU core runs a hart's set-up with no promise when the port
 *   answers at once;
 * - a word port (batches as typed arrays, values as 32-bit words, see
 *   `_word_batch.ts`) registered against the `CsrPort` of a runtime whose
 *   backend executes words, so the core sets up thousands of harts without
 *   an object or a `bigint` per access;
 * - the word runner a backend supplies to the runtime, registered against
 *   the backend object (`HalBackend`) before the runtime is built around it.
 *
 * @module
 */

import type { CsrOp, CsrPort, CsrResult, HartId } from "./types.ts";
import type { WordBatch, WordResults, WordRunner } from "./_word_batch.ts";

/** A port's `batch`, answered before it returns. */
export type SyncBatch = (hart: HartId, ops: readonly CsrOp[]) => CsrResult[];

/**
 * A port's batches as words: `compile` checks operations once (and caches
 * the batch when `ops` and its operations are frozen), `run` checks the hart
 * and runs a compiled batch (or a copy of one with other operands) at once.
 */
export interface WordPort {
  /**
   * Checks and encodes operations, as `batch` would check them for `hart`.
   *
   * @throws {AxError} As `batch` rejects for malformed operations.
   */
  compile(hart: HartId, ops: readonly CsrOp[]): WordBatch;
  /**
   * Runs a compiled batch on a hart; returns how many operations trapped.
   * The old values go to `results.words` from word `at` on (default 0).
   *
   * @throws {AxError} As `batch` rejects for an unknown hart or a closed backend.
   */
  run(hart: HartId, batch: WordBatch, results: WordResults, at?: number): number;
}

const SYNC_BATCHES: WeakMap<CsrPort, SyncBatch> = new WeakMap();
const WORD_PORTS: WeakMap<CsrPort, WordPort> = new WeakMap();
const WORD_RUNNERS: WeakMap<object, WordRunner> = new WeakMap();

/**
 * Registers the synchronous form of `port.batch`; its semantics must equal
 * `batch`'s (same checks, same results, throwing where `batch` rejects).
 */
export function registerSyncBatch(port: CsrPort, batch: SyncBatch): void {
  SYNC_BATCHES.set(port, batch);
}

/** The synchronous form of `port.batch`, when the port registered one. */
export function syncBatchOf(port: CsrPort): SyncBatch | undefined {
  return SYNC_BATCHES.get(port);
}

/** Registers a port's word form; its semantics must equal `batch`'s. */
export function registerWordPort(port: CsrPort, wordPort: WordPort): void {
  WORD_PORTS.set(port, wordPort);
}

/** The word form of a port, when it has one. */
export function wordPortOf(port: CsrPort): WordPort | undefined {
  return WORD_PORTS.get(port);
}

/**
 * Registers a backend's word runner: the same accesses as its `run`, on
 * checked word batches, answered at once.
 */
export function registerWordRunner(backend: object, runner: WordRunner): void {
  WORD_RUNNERS.set(backend, runner);
}

/** A backend's word runner, when it registered one. */
export function wordRunnerOf(backend: object): WordRunner | undefined {
  return WORD_RUNNERS.get(backend);
}

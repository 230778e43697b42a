/**
 * The in-process fast path: a synchronous batch registered against the
 * `CsrPort` object that offers it, so the per-CPU core runs a hart's set-up
 * with no promise when the port answers at once. Not part of the public
 * contract: a third-party port never has one, and the core then awaits its
 * `batch`.
 *
 * @module
 */

import type { CsrOp, CsrPort, CsrResult, HartId } from "./types.ts";

/** A port's `batch`, answered before it returns. */
export type SyncBatch = (hart: HartId, ops: readonly CsrOp[]) => CsrResult[];

const SYNC_BATCHES: WeakMap<CsrPort, SyncBatch> = new WeakMap();

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

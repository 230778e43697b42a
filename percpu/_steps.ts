/**
 * CSR work written once as a generator of batches, run against any port:
 * synchronously when the port registered the in-process fast path, with one
 * `await` per batch otherwise.
 *
 * @module
 */

import { type SyncBatch, syncBatchOf } from "../hal/_sync_batch.ts";
import type { CsrOp, CsrPort, CsrResult, HartId } from "../hal/types.ts";

/** A piece of CSR work: yields batches, receives their results, returns `T`. */
export type CsrSteps<T> = Generator<readonly CsrOp[], T, CsrResult[]>;

type Input = { ok: true; value: CsrResult[] } | { ok: false; error: unknown };

/**
 * Runs CSR steps on one hart without a promise, through a port's
 * synchronous batch.
 *
 * @param batch The port's synchronous batch.
 * @param hart The hart.
 * @param steps The work.
 * @returns What the work returns.
 */
export function runStepsSync<T>(batch: SyncBatch, hart: HartId, steps: CsrSteps<T>): T {
  let next = steps.next();
  while (!next.done) {
    let input: Input;
    try {
      input = { ok: true, value: batch(hart, next.value) };
    } catch (error) {
      input = { ok: false, error };
    }
    next = input.ok ? steps.next(input.value) : steps.throw(input.error);
  }
  return next.value;
}

/**
 * Runs CSR steps on one hart. A batch that rejects (not a trap: the backend
 * failed) is thrown into the generator, so it can clean up.
 *
 * @param port The CSR port.
 * @param hart The hart.
 * @param steps The work.
 * @returns What the work returns.
 */
export function runSteps<T>(port: CsrPort, hart: HartId, steps: CsrSteps<T>): Promise<T> {
  const sync = syncBatchOf(port);
  if (sync !== undefined) {
    try {
      return Promise.resolve(runStepsSync(sync, hart, steps));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return (async () => {
    let next = steps.next();
    while (!next.done) {
      let input: Input;
      try {
        input = { ok: true, value: await port.batch(hart, next.value) };
      } catch (error) {
        input = { ok: false, error };
      }
      next = input.ok ? steps.next(input.value) : steps.throw(input.error);
    }
    return next.value;
  })();
}

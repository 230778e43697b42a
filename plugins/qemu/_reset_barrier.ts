/**
 * A reset's place in each hart's queue: batches called before the reset
 * finish on the old QEMU first, batches called after it wait until the new
 * one is ready. One empty batch per hart queues behind the earlier ones;
 * the backend's `run` recognises it and holds that hart's queue there.
 *
 * @module
 */

import type { HartId } from "../../hal/types.ts";

/** One reset's barrier across the harts' queues. */
export class ResetBarrier {
  /** The harts whose queue has not reached the barrier yet. */
  readonly #arrive: Map<HartId, () => void> = new Map();
  /** When the reset is done. */
  readonly #done: Promise<void>;
  #finish!: () => void;

  constructor() {
    this.#done = new Promise<void>((resolve) => (this.#finish = resolve));
  }

  /**
   * Queues the barrier on every hart, through the backend's own batch.
   *
   * @param harts The harts.
   * @param batch Queues an (empty) batch on a hart.
   * @returns When every hart's queue has reached the barrier.
   */
  reached(harts: readonly HartId[], batch: (hart: HartId) => Promise<unknown>): Promise<void> {
    return Promise.all(harts.map((hart) =>
      new Promise<void>((arrived) => {
        this.#arrive.set(hart, arrived);
        batch(hart).catch(() => arrived());
      })
    )).then(() => {});
  }

  /**
   * Called by the backend's `run` for an empty batch: when it is this
   * barrier's, marks the hart as arrived and waits for the reset.
   *
   * @param hart The hart.
   * @returns Whether the batch was the barrier (then it has been passed).
   */
  async pass(hart: HartId): Promise<boolean> {
    const arrive = this.#arrive.get(hart);
    if (arrive === undefined) return false;
    this.#arrive.delete(hart);
    arrive();
    await this.#done;
    return true;
  }

  /** Releases every held queue: the reset is done (or failed). */
  finish(): void {
    this.#finish();
  }
}

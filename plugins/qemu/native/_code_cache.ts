/**
 * Which slot of the agent's shared code cache holds which batch program.
 * Harts that run the same operations share one copy of the code, so QEMU
 * translates it once for all of them and, as long as nothing rewrites it,
 * never again. Slots are reused least recently used first, never one that
 * the current round already uses.
 *
 * Needs no permissions.
 *
 * @module
 */

/** Where a program goes: its slot, and whether it must be written there first. */
export interface CodeSlot {
  /** The slot index. */
  readonly slot: number;
  /** `true` when the slot held something else (the code must be written). */
  readonly fresh: boolean;
}

/**
 * The host's map of the agent's code cache.
 *
 * @example Usage
 * ```ts
 * import { CodeCache } from "./_code_cache.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const cache = new CodeCache(2);
 * deepStrictEqual(cache.take("a", 1), { slot: 0, fresh: true });
 * deepStrictEqual(cache.take("a", 1), { slot: 0, fresh: false }); // another hart, same code
 * deepStrictEqual(cache.take("b", 1), { slot: 1, fresh: true });
 * deepStrictEqual(cache.take("c", 1), undefined); // both slots are in use this round
 * deepStrictEqual(cache.take("c", 2), { slot: 0, fresh: true }); // "a" was used least recently
 * ```
 */
export class CodeCache {
  #keys: (string | undefined)[];
  #used: number[];
  #index = new Map<string, number>();

  /**
   * An empty cache.
   *
   * @param slots How many programs it holds.
   */
  constructor(slots: number) {
    this.#keys = new Array<string | undefined>(slots).fill(undefined);
    this.#used = new Array<number>(slots).fill(-1);
  }

  /**
   * The slot for a program in a round: the one that holds it, else the
   * least recently used slot this round does not use (the program must then
   * be written there), else `undefined` (the caller runs it elsewhere).
   *
   * @param key The program (e.g. its bytes as hex).
   * @param round The current round, increasing.
   * @returns The slot, or `undefined` when every slot is taken this round.
   */
  take(key: string, round: number): CodeSlot | undefined {
    const held = this.#index.get(key);
    if (held !== undefined) {
      this.#used[held] = round;
      return { slot: held, fresh: false };
    }
    let oldest = -1;
    for (let i = 0; i < this.#used.length; i++) {
      if (this.#used[i]! < round && (oldest < 0 || this.#used[i]! < this.#used[oldest]!)) {
        oldest = i;
      }
    }
    if (oldest < 0) return undefined;
    const evicted = this.#keys[oldest];
    if (evicted !== undefined) this.#index.delete(evicted);
    this.#keys[oldest] = key;
    this.#index.set(key, oldest);
    this.#used[oldest] = round;
    return { slot: oldest, fresh: true };
  }
}

/**
 * The per-hart state of per-CPU states, in typed arrays: what the set-up
 * found (the prior values) and left (the read-back) on each hart, and each
 * hart's lifecycle state. A `PerCpuSet` of 65,536 harts is a few of these
 * arrays, not 65,536 object graphs; each `RISCVPerCpu` is a view of one row.
 *
 * @module
 */

import type { HartId, PerCpuState } from "../hal/types.ts";
import { bigintOf } from "../hal/_word_batch.ts";
import { PRIOR_CSRS, type PriorCsr } from "./policy.ts";

/** The lifecycle states, by the code a table stores. */
export const STATE_NAMES: readonly PerCpuState[] = Object.freeze([
  "initialized",
  "enabled",
  "disabled",
]);

/** The code of each lifecycle state. */
export const STATE = Object.freeze({ initialized: 0, enabled: 1, disabled: 2 });

/** The values of the prior CSRs (`PriorValues`), by name. */
export type PriorRecord = Readonly<Record<PriorCsr, bigint>>;

/**
 * Words per hart of phase 1's reads, kept as read: the H probe's value (two
 * words), then the prior values (two per CSR of `PRIOR_CSRS`), so the reads
 * land in the row with nothing to copy.
 */
export const PROBE_ROW_WORDS: number = 2 + 2 * PRIOR_CSRS.length;

/** Where a row's prior values start, after the probe's value. */
export const PRIORS_AT = 2;

/**
 * Rows of per-CPU state, one per hart, in set-up order.
 */
export class PerCpuTable {
  /** The harts, by row. */
  readonly harts: readonly HartId[];
  /** Words per hart of the read-back: two per set-up CSR. */
  readonly readBackWords: number;
  /**
   * Per row (`PROBE_ROW_WORDS` words), phase 1's reads: the probe's value,
   * then the prior values in `PRIOR_CSRS` order from `PRIORS_AT`; low word first.
   */
  readonly priors: Int32Array;
  /** Per row, what each set-up CSR read back, in `setupTable` order. */
  readonly readBack: Int32Array;
  /** Per row, the lifecycle state's code (`STATE`). */
  readonly states: Uint8Array;
  /** Per row, 1 while a transition is in progress. */
  readonly busy: Uint8Array;

  /**
   * Rows for `harts`, every state `initialized`, values zero.
   *
   * @param harts The harts.
   * @param setupCsrs How many CSRs the set-up reads back.
   */
  constructor(harts: readonly HartId[], setupCsrs: number) {
    this.harts = harts;
    this.readBackWords = 2 * setupCsrs;
    // One allocation for every row's values and flags.
    const priorWords = harts.length * PROBE_ROW_WORDS;
    const readBackWords = harts.length * this.readBackWords;
    const memory = new ArrayBuffer(4 * (priorWords + readBackWords) + 2 * harts.length);
    this.priors = new Int32Array(memory, 0, priorWords);
    this.readBack = new Int32Array(memory, 4 * priorWords, readBackWords);
    this.states = new Uint8Array(memory, 4 * (priorWords + readBackWords), harts.length);
    this.busy = new Uint8Array(
      memory,
      4 * (priorWords + readBackWords) + harts.length,
      harts.length,
    );
  }

  /** How many rows. */
  get length(): number {
    return this.harts.length;
  }

  /**
   * The prior values of a row.
   *
   * @param row The row.
   * @returns The values, by CSR name.
   */
  priorValues(row: number): PriorRecord {
    const values = {} as Record<PriorCsr, bigint>;
    for (let k = 0; k < PRIOR_CSRS.length; k++) {
      values[PRIOR_CSRS[k]!] = bigintOf(this.priors, row * PROBE_ROW_WORDS + PRIORS_AT + 2 * k);
    }
    return Object.freeze(values);
  }

  /**
   * What a row's set-up CSRs read back.
   *
   * @param row The row.
   * @returns The values, in `setupTable` order.
   */
  readBackValues(row: number): bigint[] {
    const count = this.readBackWords / 2;
    const values = new Array<bigint>(count);
    for (let k = 0; k < count; k++) {
      values[k] = bigintOf(this.readBack, row * this.readBackWords + 2 * k);
    }
    return values;
  }

  /**
   * Copies a row's values (prior values and read-back) from another table.
   *
   * @param from The table.
   * @param fromRow Its row.
   * @param row The row here.
   */
  copyValues(from: PerCpuTable, fromRow: number, row: number): void {
    this.priors.set(
      from.priors.subarray(fromRow * PROBE_ROW_WORDS, (fromRow + 1) * PROBE_ROW_WORDS),
      row * PROBE_ROW_WORDS,
    );
    const width = this.readBackWords;
    this.readBack.set(from.readBack.subarray(fromRow * width, (fromRow + 1) * width), row * width);
  }
}

/**
 * The in-process fast path's batch: CSR operations as typed arrays, each
 * value as two 32-bit words, so a backend that answers at once (the
 * emulator) runs thousands of harts' set-ups without allocating an object
 * or a `bigint` per access. Internal: the runtime builds these from checked
 * operations (`BackendHal`), and the per-CPU core runs them through the port's
 * word runner (`wordPortOf`).
 *
 * @module
 */

import type { CsrNum, CsrOp, CsrResult, HartId } from "./types.ts";

/** The operation kinds, as a batch stores them. */
export const OP_KIND = Object.freeze({ read: 0, write: 1, set: 2, clear: 3 });

const KIND_NAMES: readonly CsrOp["op"][] = ["read", "write", "set", "clear"];

/** What a word batch's results are read from: the old values' words and the trap causes. */
export interface WordResults {
  /** Two words per operation (low first): the value read, when it did not trap. */
  readonly words: Int32Array;
  /** Per operation: 0, or the exception cause of its trap. */
  readonly causes: Int32Array;
}

/**
 * Operations on one hart, by index: kind, CSR number and operand (two words;
 * zero for a read), and the same operation as the CSR instructions take it
 * (`csrrw`/`csrrs`/`csrrc`: new bits and the mask of the bits to change).
 */
export class WordBatch {
  /** How many operations. */
  readonly length: number;
  /** Each operation's kind (`OP_KIND`). */
  readonly kinds: Uint8Array;
  /** Each operation's CSR number. */
  readonly csrs: Uint16Array;
  /** Each operation's operand: words `2k` (low) and `2k + 1`. */
  readonly operands: Int32Array;
  /**
   * Each operation as the CSR instructions take it: words `4k`, `4k + 1`
   * (the new bits) and `4k + 2`, `4k + 3` (which bits change). A read
   * changes none; a write changes all; set writes ones under its operand,
   * clear zeros.
   */
  readonly rmw: Int32Array;
  /**
   * What the backend that runs this batch found out about its operations
   * (the CSR model's look-ups), kept for the next hart: the runner's own.
   */
  plan: unknown = undefined;

  /**
   * An empty batch of `length` reads of CSR 0, to be filled with
   * {@linkcode WordBatch.set}.
   *
   * @param length How many operations.
   */
  constructor(length: number) {
    this.length = length;
    this.kinds = new Uint8Array(length);
    this.csrs = new Uint16Array(length);
    this.operands = new Int32Array(2 * length);
    this.rmw = new Int32Array(4 * length);
  }

  /**
   * Sets operation `k`. Callers pass checked operations only (a known kind,
   * a 12-bit CSR number): the runtime's checks are not repeated here.
   *
   * @param k The index.
   * @param kind The kind (`OP_KIND`).
   * @param csr The CSR number.
   * @param low The operand's low word.
   * @param high The operand's high word.
   */
  set(k: number, kind: number, csr: CsrNum, low: number, high: number): void {
    this.kinds[k] = kind;
    this.csrs[k] = csr;
    this.operands[2 * k] = low;
    this.operands[2 * k + 1] = high;
    const rmw = this.rmw;
    const at = 4 * k;
    switch (kind) {
      case OP_KIND.write:
        rmw[at] = low;
        rmw[at + 1] = high;
        rmw[at + 2] = -1;
        rmw[at + 3] = -1;
        break;
      case OP_KIND.set:
        rmw[at] = -1;
        rmw[at + 1] = -1;
        rmw[at + 2] = low;
        rmw[at + 3] = high;
        break;
      case OP_KIND.clear:
        rmw[at] = 0;
        rmw[at + 1] = 0;
        rmw[at + 2] = low;
        rmw[at + 3] = high;
        break;
      default:
        rmw.fill(0, at, at + 4);
    }
  }

  /**
   * Operation `k` with a new operand (same kind and CSR): how a batch whose
   * values differ per hart (a restore) is reused.
   *
   * @param k The index.
   * @param low The operand's low word.
   * @param high The operand's high word.
   */
  setOperand(k: number, low: number, high: number): void {
    this.set(k, this.kinds[k]!, this.csrs[k]!, low, high);
  }

  /** A copy whose operands can be changed without changing this batch. */
  copy(): WordBatch {
    const copy = new WordBatch(this.length);
    copy.kinds.set(this.kinds);
    copy.csrs.set(this.csrs);
    copy.operands.set(this.operands);
    copy.rmw.set(this.rmw);
    return copy;
  }

  /**
   * Operation `k` as a `CsrOp`.
   *
   * @param k The index.
   * @returns The operation.
   */
  op(k: number): CsrOp {
    const kind = KIND_NAMES[this.kinds[k]!]!;
    const csr = this.csrs[k]!;
    if (kind === "read") return { op: kind, csr };
    return { op: kind, csr, value: bigintOf(this.operands, 2 * k) };
  }

  /** The operations as `CsrOp`s. */
  ops(): CsrOp[] {
    return Array.from({ length: this.length }, (_, k) => this.op(k));
  }
}

// Conversions between bigints and words go through one small buffer seen both ways, with no
// arithmetic. The layout is little-endian, as on every platform Deno runs.
const CONVERT = new BigUint64Array(1);
const CONVERT_WORDS = new Int32Array(CONVERT.buffer);
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error("rvhv's word form of CSR values needs a little-endian platform");
}

/**
 * The 64-bit value of words `at` (low) and `at + 1`.
 *
 * @param words The words.
 * @param at Where the value's low word is.
 * @returns The value.
 */
export function bigintOf(words: Int32Array, at: number): bigint {
  CONVERT_WORDS[0] = words[at]!;
  CONVERT_WORDS[1] = words[at + 1]!;
  return CONVERT[0]!;
}

/**
 * Stores a 64-bit value as words `at` (low) and `at + 1`.
 *
 * @param words The words.
 * @param at Where the value's low word goes.
 * @param value The value, within 64 bits (or down to -2^63).
 */
export function putBigint(words: Int32Array, at: number, value: bigint): void {
  CONVERT[0] = value;
  words[at] = CONVERT_WORDS[0]!;
  words[at + 1] = CONVERT_WORDS[1]!;
}

/**
 * Encodes checked operations (known kinds, 12-bit CSR numbers, values
 * within 64 bits).
 *
 * @param ops The operations.
 * @returns The batch.
 */
export function encodeOps(ops: readonly CsrOp[]): WordBatch {
  const batch = new WordBatch(ops.length);
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k]!;
    if (op.op === "read") batch.set(k, OP_KIND.read, op.csr, 0, 0);
    else {
      CONVERT[0] = op.value;
      batch.set(k, OP_KIND[op.op], op.csr, CONVERT_WORDS[0]!, CONVERT_WORDS[1]!);
    }
  }
  return batch;
}

/**
 * Results of a batch as `CsrResult`s.
 *
 * @param results The words and causes.
 * @param length How many operations.
 * @returns One result per operation.
 */
export function csrResults(results: WordResults, length: number): CsrResult[] {
  const out = new Array<CsrResult>(length);
  for (let k = 0; k < length; k++) {
    const cause = results.causes[k]!;
    out[k] = cause === 0
      ? { ok: true, value: bigintOf(results.words, 2 * k) }
      : { ok: false, trapCause: cause };
  }
  return out;
}

/**
 * Stores `CsrResult`s as words and causes (how the per-CPU core reads the
 * results of a port that answers with objects).
 *
 * @param from The results.
 * @param into Where they go.
 */
export function putCsrResults(from: readonly CsrResult[], into: WordResults): void {
  for (let k = 0; k < from.length; k++) {
    const result = from[k]!;
    if (result.ok) {
      into.causes[k] = 0;
      putBigint(into.words, 2 * k, result.value);
    } else {
      into.causes[k] = result.trapCause;
    }
  }
}

/**
 * Room for the results of a batch of up to `length` operations.
 *
 * @param length The most operations.
 * @returns Zeroed words and causes.
 */
export function wordResults(length: number): WordResults {
  return { words: new Int32Array(2 * length), causes: new Int32Array(length) };
}

/**
 * What runs word batches at once for a backend (the emulator's machine):
 * an object with a method, so every runtime calls the same function.
 */
export interface WordRunner {
  /**
   * Runs a batch on one hart: operation `k`'s old value to
   * `results.words[at + 2k]` and `[at + 2k + 1]`, its trap cause (or 0) to
   * `results.causes[k]`.
   *
   * @returns How many operations trapped.
   */
  runWords(hart: HartId, batch: WordBatch, results: WordResults, at?: number): number;
}

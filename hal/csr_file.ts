/**
 * The CSRs of one hart model by address (`CsrFile`), and the one loop that
 * runs accesses through them: every access of the emulator, in either form,
 * is checked and dispatched here.
 *
 * @module
 */

import type { CsrNum } from "./types.ts";
import { bigintOfWords, type HartContext } from "./csr_hart.ts";
import { type Csr, LaneCsr, MaskedCsr, ViewCsr } from "./csr_blocks.ts";
import { putBigint, WordBatch, type WordResults, wordResults } from "./_word_batch.ts";

/**
 * Accesses as the CSR instructions take them, by index: CSR number, and
 * words `4k` to `4k + 3` of `rmw` the new bits (low, high) and the mask of
 * the bits to change (low, high). A `WordBatch` is one.
 */
export type WordAccesses = Pick<WordBatch, "length" | "csrs" | "rmw" | "plan">;

/**
 * One CSR of a {@linkcode CsrFile}.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { FEATURE } from "./csr_hart.ts";
 * import { MaskedCsr } from "./csr_blocks.ts";
 * import { type CsrEntry, CsrFile } from "./csr_file.ts";
 * import { ok, strictEqual } from "node:assert/strict";
 *
 * const file = new CsrFile();
 * file.define(CSR.sscratch, new MaskedCsr(0));
 * file.define(CSR.hgatp, new MaskedCsr(1), FEATURE.h);
 * const entry: CsrEntry | undefined = file.entry(CSR.sscratch);
 * ok(entry?.block instanceof MaskedCsr);
 * strictEqual(entry.requires, 0); // always accessible
 * strictEqual(file.entry(CSR.hgatp)?.requires, FEATURE.h);
 * strictEqual(file.entry(CSR.vsatp), undefined);
 * ```
 */
export class CsrEntry {
  /** The address. */
  readonly csr: CsrNum;
  /** The behaviour. */
  readonly block: Csr;
  /**
   * The extensions a hart needs to access it at all (`FEATURE` bits; 0 for
   * none): without them the access raises illegal instruction.
   */
  readonly requires: number;
  /** Which common block `block` is (`MASKED_BLOCK`…), so the file calls each kind from its own site. */
  readonly kind: number;

  /**
   * Creates an entry.
   *
   * @param csr The address.
   * @param block The behaviour.
   * @param requires The extensions it needs.
   */
  constructor(csr: CsrNum, block: Csr, requires: number) {
    this.csr = csr;
    this.block = block;
    this.requires = requires;
    this.kind = block instanceof MaskedCsr
      ? MASKED_BLOCK
      : block instanceof ViewCsr
      ? VIEW_BLOCK
      : block instanceof LaneCsr
      ? LANE_BLOCK
      : OTHER_BLOCK;
  }
}

/** The common blocks: a call site per kind lets the engine inline each one's `rmwWords`. */
const MASKED_BLOCK = 0;
const VIEW_BLOCK = 1;
const LANE_BLOCK = 2;
const OTHER_BLOCK = 3;

/** The exception a missing CSR, a missing extension or a write to a read-only CSR raises. */
const ILLEGAL_INSTRUCTION = 2;

/** Requires every feature there is: what a missing CSR requires, so no hart may access it. */
const NO_HART = -1;

/**
 * What a {@linkcode CsrFile} found out about each operation of a batch it
 * ran: the block, its kind, what it requires, and whether its address is
 * read-only; kept on the batch and found out again only for an operation
 * whose CSR changed, so the harts a batch runs on after the first skip the
 * look-ups.
 */
class AccessPlan {
  readonly file: CsrFile;
  /** The file's definitions it was made under. */
  readonly version: number;
  /** Each operation's CSR when it was resolved (-1: not yet). */
  readonly csrs: Int32Array;
  readonly blocks: (Csr | undefined)[];
  readonly kinds: Int32Array;
  /** `FEATURE` bits; all of them (`NO_HART`) for a CSR the model lacks. */
  readonly requires: Int32Array;
  /** 1 for a read-only address (bits 11:10 = `0b11`). */
  readonly readOnly: Uint8Array;

  constructor(file: CsrFile, version: number, length: number) {
    this.file = file;
    this.version = version;
    this.csrs = new Int32Array(length).fill(-1);
    // Built packed (no holes), so a look-up needs no hole check.
    this.blocks = Array.from({ length }, () => undefined);
    this.kinds = new Int32Array(length);
    this.requires = new Int32Array(length);
    this.readOnly = new Uint8Array(length);
  }

  resolve(k: number, csr: CsrNum, entry: CsrEntry | undefined): void {
    this.csrs[k] = csr;
    this.blocks[k] = entry?.block;
    this.kinds[k] = entry?.kind ?? OTHER_BLOCK;
    this.requires[k] = entry?.requires ?? NO_HART;
    this.readOnly[k] = (csr >> 10) === 0b11 ? 1 : 0;
  }
}

/**
 * Runs accesses on one hart through a plan (see {@linkcode CsrFile.runWords}):
 * a function of its own, the loop the engine compiles once for every file.
 */
function runPlanned(
  plan: AccessPlan,
  entries: readonly (CsrEntry | undefined)[],
  hart: HartContext,
  batch: WordAccesses,
  results: WordResults,
  at: number,
): number {
  const { csrs, rmw } = batch;
  const { words, causes } = results;
  const features = hart.featureBits;
  const { csrs: planned, requires, readOnly, blocks, kinds } = plan;
  let traps = 0;
  for (let k = 0; k < batch.length; k++) {
    const csr = csrs[k]!;
    if (planned[k] !== csr) plan.resolve(k, csr, entries[csr]);
    const from = 4 * k;
    const valueLow = rmw[from]!;
    const valueHigh = rmw[from + 1]!;
    const maskLow = rmw[from + 2]!;
    const maskHigh = rmw[from + 3]!;
    // A missing CSR, a missing extension, or a write to a read-only address
    // (bits 11:10 = 0b11) raise illegal instruction.
    const required = requires[k]!;
    if (
      (features & required) !== required ||
      (readOnly[k] === 1 && (maskLow | maskHigh) !== 0)
    ) {
      causes[k] = ILLEGAL_INSTRUCTION;
      traps++;
      continue;
    }
    causes[k] = 0;
    const block = blocks[k]!;
    const out = at + 2 * k;
    switch (kinds[k]) {
      case MASKED_BLOCK:
        (block as MaskedCsr).rmwWords(hart, valueLow, valueHigh, maskLow, maskHigh, words, out);
        break;
      case VIEW_BLOCK:
        (block as ViewCsr).rmwWords(hart, valueLow, valueHigh, maskLow, maskHigh, words, out);
        break;
      case LANE_BLOCK:
        (block as LaneCsr).rmwWords(hart, valueLow, valueHigh, maskLow, maskHigh, words, out);
        break;
      default:
        block.rmwWords(hart, valueLow, valueHigh, maskLow, maskHigh, words, out);
    }
  }
  return traps;
}

/**
 * The CSRs of one hart model, by address, with the extensions each needs.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { FEATURE, HartContext } from "./csr_hart.ts";
 * import { MaskedCsr } from "./csr_blocks.ts";
 * import { CsrFile } from "./csr_file.ts";
 * import { WordBatch, wordResults } from "./_word_batch.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const file = new CsrFile();
 * file.define(CSR.hedeleg, new MaskedCsr(0, 0xb1ffn), FEATURE.h);
 * const noH = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * strictEqual(file.access(noH, CSR.hedeleg, 0n, 0n), undefined);
 * strictEqual(file.trapCause, 2);
 * const batch = new WordBatch(1);
 * batch.set(0, 0, CSR.hedeleg, 0, 0); // a read
 * const results = wordResults(1);
 * strictEqual(file.runWords(noH, batch, results), 1);
 * strictEqual(results.causes[0], 2);
 * ```
 */
export class CsrFile {
  /** By address; built packed (no holes), so a look-up needs no hole check. */
  #entries: (CsrEntry | undefined)[] = Array.from({ length: 4096 }, () => undefined);
  /**
   * The batch of one access that {@linkcode CsrFile.access} runs (a
   * `WordBatch` like every other, so the loop sees one kind of batch).
   */
  #one: WordBatch = new WordBatch(1);
  #oneResults: WordResults = wordResults(1);
  /** Counts `define` calls: a plan made under another count is stale. */
  #version = 0;
  /** The cause of the last trapping {@linkcode CsrFile.access}. */
  trapCause = 0;

  /**
   * Defines (or redefines) a CSR.
   *
   * @param csr The address.
   * @param block The behaviour.
   * @param requires The extensions a hart needs to access it (`FEATURE` bits).
   */
  define(csr: CsrNum, block: Csr, requires = 0): void {
    this.#entries[csr] = new CsrEntry(csr, block, requires);
    // Batches planned before this look their operations up again.
    this.#version++;
  }

  /**
   * The entry of a CSR.
   *
   * @param csr The address.
   * @returns The entry, or `undefined` when the model has no such CSR.
   */
  entry(csr: CsrNum): CsrEntry | undefined {
    return this.#entries[csr];
  }

  /** The addresses this file defines, ascending. */
  get defined(): CsrNum[] {
    const out: CsrNum[] = [];
    for (let csr = 0; csr < 4096; csr++) if (this.#entries[csr] !== undefined) out.push(csr);
    return out;
  }

  /**
   * Executes one CSR access the way the CSR instructions do. A missing CSR, a
   * missing extension, or a write to a read-only address (bits 11:10 = 0b11)
   * traps: the result is `undefined` and {@linkcode CsrFile.trapCause} says why.
   * A zero `mask` is a pure read, like `csrrs rd, csr, x0`.
   *
   * @param hart The hart.
   * @param csr The address.
   * @param value The new bits.
   * @param mask Which bits to change.
   * @returns The value read, or `undefined` on a trap.
   */
  access(hart: HartContext, csr: CsrNum, value: bigint, mask: bigint): bigint | undefined {
    // One path runs every access, so the blocks are only ever called the same way.
    const one = this.#one;
    const results = this.#oneResults;
    one.csrs[0] = csr;
    putBigint(one.rmw, 0, value);
    putBigint(one.rmw, 2, mask);
    if (this.runWords(hart, one, results) > 0) {
      this.trapCause = results.causes[0]!;
      return undefined;
    }
    return bigintOfWords(results.words[0]!, results.words[1]!);
  }

  /**
   * Executes accesses on one hart, in order, as the CSR instructions do
   * (see {@linkcode CsrFile.access}), with every value as words: operation `k`'s old
   * value goes to `results.words[at + 2k]` (low word) and `[at + 2k + 1]`
   * (untouched on a trap), its trap cause (or 0) to `results.causes[k]`.
   *
   * @param hart The hart.
   * @param batch The operations.
   * @param results Where the old values and trap causes go.
   * @param at Where in `results.words` the first old value goes.
   * @returns How many operations trapped.
   */
  runWords(hart: HartContext, batch: WordAccesses, results: WordResults, at = 0): number {
    let plan = batch.plan as AccessPlan | undefined;
    if (
      plan === undefined || plan.file !== this || plan.version !== this.#version ||
      plan.csrs.length < batch.length
    ) {
      batch.plan = plan = new AccessPlan(this, this.#version, batch.length);
    }
    return runPlanned(plan, this.#entries, hart, batch, results, at);
  }
}

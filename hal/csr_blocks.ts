/**
 * Building blocks for modelling a hart's CSRs, in the spirit of Spike's
 * `csrs.h`: a CSR is an object with a side-effect-free `read`, a WARL `write`,
 * and the `rmw` primitive the CSR instructions use. Masked, constant and view
 * CSRs cover most of the architecture; quirks are small subclasses.
 *
 * Every hart's state lives in slots of one shared `BigUint64Array`, so a
 * machine of thousands of harts is one allocation and a hart costs only its
 * slots.
 *
 * Every access can run in two forms: with `bigint` values (`rmw`, the API's
 * form) and as two 32-bit words per value (`rmwWords`, the form a machine of
 * many harts runs in: no `bigint` is allocated). Each block implements one
 * form and derives the other, so every rule is written once: the blocks a
 * set-up touches (masked storage, views, rules given per 32-bit lane) are
 * word-native, the rest `bigint`-native.
 *
 * @module
 */

import { ALL_ONES } from "./csr_fields.ts";
import {
  bigintOfWords,
  type DynamicMask,
  type HartContext,
  type Lane,
  MaskWords,
} from "./csr_hart.ts";
import { bigintOf, putBigint } from "./_word_batch.ts";

/** Where the `bigint` API of a word-native block puts its operands and result as words. */
const SCRATCH = new Int32Array(6);

/**
 * The CSR contract. `read` is the architectural value with no side effects;
 * `write` applies the WARL rules to a full new value; `rmw` is what
 * `csrrw`/`csrrs`/`csrrc` do: read, then (when `mask` is not zero) write
 * `(old & ~mask) | (value & mask)`, and return the old value. `rmwWords` is
 * `rmw` with every value as two 32-bit words.
 *
 * A `Csr` is written with `bigint` values and gets `rmwWords` from them; a
 * {@linkcode WordCsr} is written in words and gets `read`, `write` and `rmw`.
 *
 * @example Usage
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { Csr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * class Answer extends Csr {
 *   read(): bigint { return 42n; }
 * }
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * strictEqual(new Answer().rmw(hart, 7n, 0n), 42n);
 * const out = new Int32Array(2);
 * new Answer().rmwWords(hart, 0, 0, 0, 0, out, 0);
 * strictEqual(out[0], 42);
 * ```
 */
export abstract class Csr {
  /**
   * The architectural value. No side effects.
   *
   * @param hart The hart.
   * @returns The value a read returns.
   */
  abstract read(hart: HartContext): bigint;

  /**
   * Applies a full new value under the CSR's WARL rules. The default drops
   * every write (a read-only or hard-wired CSR).
   *
   * @param _hart The hart.
   * @param _value The new value.
   */
  write(_hart: HartContext, _value: bigint): void {}

  /**
   * The CSR-instruction primitive.
   *
   * @param hart The hart.
   * @param value The new bits.
   * @param mask Which bits to change; zero means a pure read.
   * @returns The value read before the write.
   */
  rmw(hart: HartContext, value: bigint, mask: bigint): bigint {
    const old = this.read(hart);
    if (mask === ALL_ONES) this.write(hart, value);
    else if (mask !== 0n) this.write(hart, (old & ~mask) | (value & mask));
    return old;
  }

  /**
   * The CSR-instruction primitive on words: `rmw` with `value` and `mask`
   * given as their words, the old value written to `out[at]` (low word) and
   * `out[at + 1]`.
   *
   * @param hart The hart.
   * @param valueLow The new bits, low word.
   * @param valueHigh The new bits, high word.
   * @param maskLow Which bits to change, low word.
   * @param maskHigh Which bits to change, high word.
   * @param out Where the old value goes.
   * @param at Its index in `out`.
   */
  rmwWords(
    hart: HartContext,
    valueLow: number,
    valueHigh: number,
    maskLow: number,
    maskHigh: number,
    out: Int32Array,
    at: number,
  ): void {
    const value = bigintOfWords(valueLow, valueHigh);
    const mask = bigintOfWords(maskLow, maskHigh);
    putBigint(out, at, this.rmw(hart, value, mask));
  }
}

/**
 * A CSR written in words: its one rule is `rmwWords`, and `read`, `write`
 * and `rmw` are that rule with `bigint` values.
 *
 * @example A register that keeps only its low byte
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { WordCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * class LowByte extends WordCsr {
 *   override rmwWords(
 *     hart: HartContext, vl: number, _vh: number, ml: number, _mh: number,
 *     out: Int32Array, at: number,
 *   ): void {
 *     const old = hart.word(0, 0);
 *     out[at] = old;
 *     out[at + 1] = 0;
 *     hart.putWord(0, 0, ((old & ~ml) | (vl & ml)) & 0xff);
 *   }
 * }
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * strictEqual(new LowByte().rmw(hart, 0x1234n, (1n << 64n) - 1n), 0n);
 * strictEqual(new LowByte().read(hart), 0x34n);
 * ```
 */
export abstract class WordCsr extends Csr {
  /** Reads the value (an `rmw` with an empty mask). */
  read(hart: HartContext): bigint {
    this.rmwWords(hart, 0, 0, 0, 0, SCRATCH, 4);
    return bigintOf(SCRATCH, 4);
  }

  /** Writes the value (an `rmw` with a full mask). */
  override write(hart: HartContext, value: bigint): void {
    this.rmw(hart, value, ALL_ONES);
  }

  /** Reads, then writes the masked bits: `rmwWords` on the values' words. */
  override rmw(hart: HartContext, value: bigint, mask: bigint): bigint {
    putBigint(SCRATCH, 0, value);
    putBigint(SCRATCH, 2, mask);
    this.rmwWords(hart, SCRATCH[0]!, SCRATCH[1]!, SCRATCH[2]!, SCRATCH[3]!, SCRATCH, 4);
    return bigintOf(SCRATCH, 4);
  }

  abstract override rmwWords(
    hart: HartContext,
    valueLow: number,
    valueHigh: number,
    maskLow: number,
    maskHigh: number,
    out: Int32Array,
    at: number,
  ): void;
}

/**
 * A CSR with a fixed value; writes are dropped (Spike's `const_csr_t`).
 *
 * @example Usage
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { ConstCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hart = new HartContext(new BigUint64Array(1), 0, 3, new Set());
 * const mhartid = new ConstCsr((h) => BigInt(h.id));
 * mhartid.write(hart, 9n);
 * strictEqual(mhartid.read(hart), 3n);
 * ```
 */
export class ConstCsr extends Csr {
  #value: bigint | ((hart: HartContext) => bigint);

  /**
   * Creates a constant CSR.
   *
   * @param value The value, or a function of the hart.
   */
  constructor(value: bigint | ((hart: HartContext) => bigint)) {
    super();
    this.#value = value;
  }

  /** Reads the value. */
  read(hart: HartContext): bigint {
    const value = this.#value;
    return typeof value === "bigint" ? value : value(hart);
  }
}

/**
 * A CSR stored in one slot whose writable bits are `mask`; the other bits
 * keep their value (Spike's `masked_csr_t`; with an all-ones mask, `basic_csr_t`).
 *
 * @example Usage
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { MaskedCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set(["h"]));
 * const hedeleg = new MaskedCsr(0, 0xb1ffn);
 * hedeleg.write(hart, (1n << 64n) - 1n);
 * strictEqual(hedeleg.read(hart), 0xb1ffn);
 * ```
 */
export class MaskedCsr extends WordCsr {
  /** The slot holding the value. */
  readonly slot: number;
  #mask: MaskWords;

  /**
   * Creates a masked CSR.
   *
   * @param slot The slot holding the value.
   * @param mask The writable bits (or their words per lane, from the hart).
   */
  constructor(slot: number, mask: DynamicMask = ALL_ONES) {
    super();
    this.slot = slot;
    this.#mask = new MaskWords(mask);
  }

  /** Reads, then writes the masked bits of the writable ones. */
  override rmwWords(
    hart: HartContext,
    valueLow: number,
    valueHigh: number,
    maskLow: number,
    maskHigh: number,
    out: Int32Array,
    at: number,
  ): void {
    const words = hart.words;
    const index = hart.wordBase + 2 * this.slot;
    const oldLow = words[index]!;
    const oldHigh = words[index + 1]!;
    out[at] = oldLow;
    out[at + 1] = oldHigh;
    if ((maskLow | maskHigh) === 0) return;
    const writable = this.#mask;
    writable.resolve(hart);
    const changeLow = maskLow & writable.low;
    const changeHigh = maskHigh & writable.high;
    words[index] = (oldLow & ~changeLow) | (valueLow & changeLow);
    words[index + 1] = (oldHigh & ~changeHigh) | (valueHigh & changeHigh);
  }
}

/**
 * How a {@linkcode ViewCsr} maps onto its storage.
 *
 * @example hvip over mip
 * ```ts
 * import { VS_INTERRUPTS } from "@rvhv/percpu";
 * import { HartContext } from "./csr_hart.ts";
 * import { ViewCsr, type ViewOptions } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const MIP = 0;
 * const options: ViewOptions = { readMask: VS_INTERRUPTS, writeMask: VS_INTERRUPTS };
 * const hvip = new ViewCsr(MIP, options);
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set(["h"]));
 * hart.put(MIP, 0x80n); // MTIP pending
 * hvip.write(hart, 0xfffn);
 * strictEqual(hart.get(MIP), 0x4c4n);
 * strictEqual(hvip.read(hart), VS_INTERRUPTS);
 * ```
 */
export interface ViewOptions {
  /** Storage bits the view shows. */
  readMask: DynamicMask;
  /** Storage bits a write through the view may change. */
  writeMask: DynamicMask;
  /**
   * How far storage bits move down in the view (`vsie` shows `mie` bit 2 as
   * bit 1: shift 1), 0 to 31. Default 0.
   */
  shift?: number;
}

/**
 * A masked, optionally shifted view of bits held in another CSR's slot
 * (Spike's `mip_proxy_csr_t`/`mie_proxy_csr_t`): `sie` over `mie`, `hvip` over
 * `mip`, `vsie` over `mie` shifted by one.
 *
 * @example Usage
 * ```ts
 * import { VS_INTERRUPTS } from "@rvhv/percpu";
 * import { HartContext } from "./csr_hart.ts";
 * import { ViewCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set(["h"]));
 * const vsie = new ViewCsr(0, { readMask: VS_INTERRUPTS, writeMask: VS_INTERRUPTS, shift: 1 });
 * vsie.write(hart, 0x222n);
 * strictEqual(hart.get(0), VS_INTERRUPTS);
 * strictEqual(vsie.read(hart), 0x222n);
 * ```
 */
export class ViewCsr extends WordCsr {
  /** The slot of the storage CSR. */
  readonly slot: number;
  #readMask: MaskWords;
  #writeMask: MaskWords;
  #shift: number;

  /**
   * Creates a view.
   *
   * @param slot The storage slot.
   * @param options Masks and shift.
   * @throws {RangeError} For a shift outside 0 to 31.
   */
  constructor(slot: number, options: ViewOptions) {
    super();
    const shift = options.shift ?? 0;
    if (!Number.isInteger(shift) || shift < 0 || shift > 31) {
      throw new RangeError(`A CSR view shifts by 0 to 31 bits, not ${shift}`);
    }
    this.slot = slot;
    this.#readMask = new MaskWords(options.readMask);
    this.#writeMask = options.writeMask === options.readMask
      ? this.#readMask
      : new MaskWords(options.writeMask);
    this.#shift = shift;
  }

  /** Reads the visible storage bits, then writes the masked bits through the view. */
  override rmwWords(
    hart: HartContext,
    valueLow: number,
    valueHigh: number,
    maskLow: number,
    maskHigh: number,
    out: Int32Array,
    at: number,
  ): void {
    // The shifted views (vsie) take the longer way; the rest stay small enough to inline.
    if (this.#shift !== 0) {
      this.#rmwShifted(hart, valueLow, valueHigh, maskLow, maskHigh, out, at);
      return;
    }
    const words = hart.words;
    const index = hart.wordBase + 2 * this.slot;
    const storedLow = words[index]!;
    const storedHigh = words[index + 1]!;
    const shown = this.#readMask;
    shown.resolve(hart);
    const oldLow = storedLow & shown.low;
    const oldHigh = storedHigh & shown.high;
    out[at] = oldLow;
    out[at + 1] = oldHigh;
    if ((maskLow | maskHigh) === 0) return;
    // The new value is made from what the view shows: a writable bit it hides reads as 0.
    const nextLow = (oldLow & ~maskLow) | (valueLow & maskLow);
    const nextHigh = (oldHigh & ~maskHigh) | (valueHigh & maskHigh);
    const writable = this.#writeMask;
    if (writable !== shown) writable.resolve(hart);
    const writeLow = writable.low;
    const writeHigh = writable.high;
    words[index] = (storedLow & ~writeLow) | (nextLow & writeLow);
    words[index + 1] = (storedHigh & ~writeHigh) | (nextHigh & writeHigh);
  }

  /** {@linkcode ViewCsr.rmwWords} for a view that shifts its bits. */
  #rmwShifted(
    hart: HartContext,
    valueLow: number,
    valueHigh: number,
    maskLow: number,
    maskHigh: number,
    out: Int32Array,
    at: number,
  ): void {
    const words = hart.words;
    const index = hart.wordBase + 2 * this.slot;
    const storedLow = words[index]!;
    const storedHigh = words[index + 1]!;
    const shown = this.#readMask;
    shown.resolve(hart);
    const shift = this.#shift;
    const visibleLow = storedLow & shown.low;
    const visibleHigh = storedHigh & shown.high;
    const oldLow = (visibleLow >>> shift) | (visibleHigh << (32 - shift));
    const oldHigh = visibleHigh >>> shift;
    out[at] = oldLow;
    out[at + 1] = oldHigh;
    if ((maskLow | maskHigh) === 0) return;
    const nextLow = (oldLow & ~maskLow) | (valueLow & maskLow);
    const nextHigh = (oldHigh & ~maskHigh) | (valueHigh & maskHigh);
    const writable = this.#writeMask;
    if (writable !== shown) writable.resolve(hart);
    const writeLow = writable.low;
    const writeHigh = writable.high;
    words[index] = (storedLow & ~writeLow) | ((nextLow << shift) & writeLow);
    words[index + 1] = (storedHigh & ~writeHigh) |
      (((nextHigh << shift) | (nextLow >>> (32 - shift))) & writeHigh);
  }
}

/**
 * A CSR instruction's effect on one lane: the rule of a CSR whose every
 * operation is bitwise (each bit of the result and of the new state depends
 * only on the same bit of its inputs, or on whole-hart conditions), given
 * the lane's word of the new bits and of the mask; returns the lane's word
 * of the old value. Lane 0 runs before lane 1.
 *
 * @example hideleg keeping only its delegable bits
 * ```ts
 * import { HartContext, wordsOf } from "./csr_hart.ts";
 * import { type LaneRmw } from "./csr_blocks.ts";
 * import { VS_INTERRUPTS } from "./csr_fields.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const HIDELEG = 0;
 * const DELEGABLE = wordsOf(VS_INTERRUPTS);
 * const hideleg: LaneRmw = (hart, lane, value, mask) => {
 *   const old = hart.word(HIDELEG, lane);
 *   const change = mask & DELEGABLE[lane];
 *   hart.putWord(HIDELEG, lane, (old & ~change) | (value & change));
 *   return old;
 * };
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set(["h"]));
 * strictEqual(hideleg(hart, 0, -1, -1), 0);
 * strictEqual(hart.get(HIDELEG), VS_INTERRUPTS);
 * ```
 */
export type LaneRmw = (hart: HartContext, lane: Lane, value: number, mask: number) => number;

/**
 * A CSR given by its rule per lane (a {@linkcode LaneRmw}): what the QEMU
 * profiles' read-modify-write functions for the interrupt and delegation
 * registers are. A read is the rule with an empty mask.
 *
 * @example Usage
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { LaneCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * // A register whose bit 5 always reads as zero.
 * const csr = new LaneCsr((hart, lane, value, mask) => {
 *   const old = hart.word(0, lane);
 *   hart.putWord(0, lane, (old & ~mask) | (value & mask));
 *   return lane === 0 ? old & ~0x20 : old;
 * });
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * csr.rmw(hart, 0xffn, 0xffn);
 * strictEqual(csr.read(hart), 0xdfn);
 * ```
 */
export class LaneCsr extends WordCsr {
  #rmw: LaneRmw;

  /**
   * Creates a CSR from its rule per lane.
   *
   * @param rmw The rule.
   */
  constructor(rmw: LaneRmw) {
    super();
    this.#rmw = rmw;
  }

  /** Runs the rule on lane 0, then lane 1. */
  override rmwWords(
    hart: HartContext,
    valueLow: number,
    valueHigh: number,
    maskLow: number,
    maskHigh: number,
    out: Int32Array,
    at: number,
  ): void {
    const rmw = this.#rmw;
    const oldLow = rmw(hart, 0, valueLow, maskLow);
    const oldHigh = rmw(hart, 1, valueHigh, maskHigh);
    out[at] = oldLow;
    out[at + 1] = oldHigh;
  }
}

/**
 * A CSR stored whole in one slot, read as stored, whose WARL rule applies
 * to writes only (given with `bigint` values): reads run in words, writes
 * through the rule.
 *
 * @example hgatp keeping its mode only when the mode is supported
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { StoredCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const HGATP = 0;
 * const hgatp = new StoredCsr(HGATP, (hart, value) => {
 *   if (value >> 60n === 0n || value >> 60n === 8n) hart.put(HGATP, value);
 * });
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set(["h"]));
 * hgatp.write(hart, (9n << 60n) | 5n); // Sv48x4: refused
 * strictEqual(hgatp.read(hart), 0n);
 * hgatp.write(hart, (8n << 60n) | 5n);
 * strictEqual(hgatp.read(hart), (8n << 60n) | 5n);
 * ```
 */
export class StoredCsr extends Csr {
  /** The slot holding the value. */
  readonly slot: number;
  #write: (hart: HartContext, value: bigint) => void;

  /**
   * Creates a stored CSR.
   *
   * @param slot The slot holding the value.
   * @param write The WARL rule: stores what a write of `value` leaves.
   */
  constructor(slot: number, write: (hart: HartContext, value: bigint) => void) {
    super();
    this.slot = slot;
    this.#write = write;
  }

  /** Reads the value. */
  read(hart: HartContext): bigint {
    return hart.get(this.slot);
  }

  /** Writes the value through the rule. */
  override write(hart: HartContext, value: bigint): void {
    this.#write(hart, value);
  }

  /** A read in words; a write through the rule. */
  override rmwWords(
    hart: HartContext,
    valueLow: number,
    valueHigh: number,
    maskLow: number,
    maskHigh: number,
    out: Int32Array,
    at: number,
  ): void {
    if ((maskLow | maskHigh) !== 0) {
      super.rmwWords(hart, valueLow, valueHigh, maskLow, maskHigh, out, at);
      return;
    }
    out[at] = hart.word(this.slot, 0);
    out[at + 1] = hart.word(this.slot, 1);
  }
}

/**
 * The hooks of a {@linkcode FunctionCsr}.
 *
 * @example A counter that advances on every access
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { FunctionCsr, type FunctionCsrHooks } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hooks: FunctionCsrHooks = {
 *   read: (hart) => hart.get(0),
 *   rmw(hart, _value, _mask) {
 *     const old = hart.get(0);
 *     hart.put(0, old + 1n);
 *     return old;
 *   },
 * };
 * const counter = new FunctionCsr(hooks);
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * strictEqual(counter.rmw(hart, 0n, 0n), 0n);
 * strictEqual(counter.rmw(hart, 0n, 0n), 1n);
 * strictEqual(counter.read(hart), 2n);
 * ```
 */
export interface FunctionCsrHooks {
  /** The architectural value. */
  read(hart: HartContext): bigint;
  /** The WARL write; omitted for a read-only CSR. */
  write?(hart: HartContext, value: bigint): void;
  /**
   * A complete `rmw`, for CSRs whose instruction semantics are not
   * read-then-write (reads with side effects, registers of pending bits).
   */
  rmw?(hart: HartContext, value: bigint, mask: bigint): bigint;
}

/**
 * A CSR given by functions: the escape hatch for coupled or quirky registers.
 *
 * @example Usage
 * ```ts
 * import { HartContext } from "./csr_hart.ts";
 * import { FunctionCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * // A register whose bit 5 always reads as zero.
 * const csr = new FunctionCsr({
 *   read: (h) => h.get(0) & ~0x20n,
 *   write: (h, v) => h.put(0, v),
 * });
 * csr.rmw(hart, 0xffn, 0xffn);
 * strictEqual(csr.read(hart), 0xdfn);
 * ```
 */
export class FunctionCsr extends Csr {
  #hooks: FunctionCsrHooks;

  /**
   * Creates a CSR from functions.
   *
   * @param hooks `read`, and `write` and/or `rmw`.
   */
  constructor(hooks: FunctionCsrHooks) {
    super();
    this.#hooks = hooks;
  }

  /** Reads the value. */
  read(hart: HartContext): bigint {
    return this.#hooks.read(hart);
  }

  /** Writes the value. */
  override write(hart: HartContext, value: bigint): void {
    this.#hooks.write?.(hart, value);
  }

  /** Reads, then writes the masked bits, like the CSR instructions. */
  override rmw(hart: HartContext, value: bigint, mask: bigint): bigint {
    if (this.#hooks.rmw !== undefined) return this.#hooks.rmw(hart, value, mask);
    return super.rmw(hart, value, mask);
  }
}

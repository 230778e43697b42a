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
import type { CsrNum, HartId } from "./types.ts";
import { WordBatch, type WordResults, wordResults } from "./_word_batch.ts";

/**
 * Accesses as the CSR instructions take them, by index: CSR number, and
 * words `4k` to `4k + 3` of `rmw` the new bits (low, high) and the mask of
 * the bits to change (low, high). A `WordBatch` is one.
 */
export type WordAccesses = Pick<WordBatch, "length" | "csrs" | "rmw" | "plan">;

/** Which 32-bit word of a 64-bit value: 0 the low one, 1 the high one. */
export type Lane = 0 | 1;

/**
 * A 64-bit value as its two 32-bit words, low first, each a signed 32-bit
 * integer (what JavaScript's bitwise operators produce).
 *
 * @example Usage
 * ```ts
 * import { type Words, wordsOf } from "./csr_blocks.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hcounteren: Words = wordsOf(0xffff_ffffn);
 * deepStrictEqual(hcounteren, [-1, 0]);
 * deepStrictEqual(wordsOf(1n << 63n), [0, -0x8000_0000]);
 * ```
 */
export type Words = readonly [number, number];

/**
 * Splits a 64-bit constant into its words.
 *
 * @param value A value within 64 bits.
 * @returns Its words, low first.
 */
export function wordsOf(value: bigint): Words {
  return Object.freeze([
    Number(BigInt.asIntN(32, value)),
    Number(BigInt.asIntN(32, value >> 32n)),
  ]) as Words;
}

// Conversions between the two forms go through one small buffer seen both
// ways: a bigint stored as two words, or two words read as one bigint, with
// no arithmetic. The layout is little-endian, as on every platform Deno runs.
const CONVERT = new BigUint64Array(4);
const CONVERT_WORDS = new Int32Array(CONVERT.buffer);
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error("The emulator's CSR model needs a little-endian platform");
}

/**
 * The 64-bit value of two words.
 *
 * @param low The low word.
 * @param high The high word.
 * @returns The value, within 64 bits.
 */
export function bigintOfWords(low: number, high: number): bigint {
  CONVERT_WORDS[0] = low;
  CONVERT_WORDS[1] = high;
  return CONVERT[0]!;
}

/**
 * A value given per lane as a 64-bit value.
 *
 * @param laneValue The value's word in a lane.
 * @param hart The hart it is computed for.
 * @returns The value.
 */
export function bigintOfLanes(
  laneValue: (hart: HartContext, lane: Lane) => number,
  hart: HartContext,
): bigint {
  return bigintOfWords(laneValue(hart, 0), laneValue(hart, 1));
}

/**
 * A mask that depends only on a hart's extensions, for a {@linkcode MaskedCsr}
 * or {@linkcode ViewCsr}, written with `bigint` values.
 *
 * @example Usage
 * ```ts
 * import { extensionMask, HartContext } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const epc = extensionMask((hart) => hart.features.c ? ~1n & 0xffn : ~3n & 0xffn);
 * strictEqual(epc.lane(new HartContext(new BigUint64Array(1), 0, 0, new Set(["c"])), 0), 0xfe);
 * strictEqual(epc.lane(new HartContext(new BigUint64Array(1), 0, 0, new Set()), 0), 0xfc);
 * ```
 *
 * @param mask The mask, from the hart's extensions only.
 * @returns The mask.
 */
export function extensionMask(mask: (hart: HartContext) => bigint): StateMask {
  return { lane: (hart, lane) => wordsOf(mask(hart))[lane] };
}

/**
 * A mask that depends on a hart's extensions and on the value of one of its
 * slots, for a {@linkcode MaskedCsr} or {@linkcode ViewCsr}.
 *
 * @example sie's mask follows mideleg
 * ```ts
 * import { HartContext, slotMask, wordsOf } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const MIDELEG = 0;
 * const S = wordsOf(0x222n);
 * const sieMask = slotMask(MIDELEG, (hart, lane) => hart.word(MIDELEG, lane) & S[lane]);
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * hart.put(MIDELEG, 0x20n);
 * strictEqual(sieMask.lane(hart, 0), 0x20);
 * strictEqual(sieMask.reads, MIDELEG);
 * ```
 *
 * @param reads The slot the mask reads.
 * @param lane The mask's word per lane, from the extensions and that slot only.
 * @returns The mask.
 */
export function slotMask(reads: number, lane: LaneValue): StateMask {
  return { reads, lane };
}

/** Bits of `HartFeatures.bits`: the extensions a CSR may require. */
export const FEATURE = Object.freeze({
  f: 1 << 0,
  c: 1 << 1,
  v: 1 << 2,
  h: 1 << 3,
  sstc: 1 << 4,
  sscofpmf: 1 << 5,
  svpbmt: 1 << 6,
  zicbom: 1 << 7,
  zicboz: 1 << 8,
});

/**
 * The extensions whose presence changes CSR behaviour, as plain booleans so
 * that CSR masks can test them without a set look-up on every access.
 *
 * @example Usage
 * ```ts
 * import { HartContext, type HartFeatures } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set(["i", "f", "h", "sstc"]));
 * const features: HartFeatures = hart.features;
 * strictEqual(features.h, true);
 * strictEqual(features.sstc, true);
 * strictEqual(features.v, false);
 * ```
 */
export interface HartFeatures {
  /** Single-precision floating point (mstatus.FS). */
  readonly f: boolean;
  /** Compressed instructions (xepc alignment). */
  readonly c: boolean;
  /** Vector (mstatus.VS). */
  readonly v: boolean;
  /** Hypervisor. */
  readonly h: boolean;
  /** Supervisor timer compare (stimecmp, vstimecmp, STCE). */
  readonly sstc: boolean;
  /** Counter-overflow interrupt (LCOFI). */
  readonly sscofpmf: boolean;
  /** Page-based memory types (PBMTE). */
  readonly svpbmt: boolean;
  /** Cache-block management (CBIE, CBCFE). */
  readonly zicbom: boolean;
  /** Cache-block zero (CBZE). */
  readonly zicboz: boolean;
  /** The same, as `FEATURE` bits (what a CSR's required extensions are checked against). */
  readonly bits: number;
}

/**
 * The features of a set of extensions. Compute them once per ISA and pass
 * them to every {@linkcode HartContext} of that ISA.
 *
 * @example Usage
 * ```ts
 * import { featuresOf, HartContext } from "./csr_blocks.ts";
 * import { parseIsa } from "./isa.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const { extensions } = parseIsa("rv64imafdch");
 * const features = featuresOf(extensions);
 * const slots = new BigUint64Array(2 * 8); // two harts of 8 slots each
 * const harts = [0, 1].map((id) => new HartContext(slots, id * 8, id, extensions, features));
 * strictEqual(harts[1]!.features, harts[0]!.features);
 * strictEqual(features.h, true);
 * ```
 *
 * @param extensions Lowercase extension names.
 * @returns The features.
 */
export function featuresOf(extensions: ReadonlySet<string>): HartFeatures {
  let bits = 0;
  for (const [name, bit] of Object.entries(FEATURE)) if (extensions.has(name)) bits |= bit;
  return Object.freeze({
    f: extensions.has("f"),
    c: extensions.has("c"),
    v: extensions.has("v"),
    h: extensions.has("h"),
    sstc: extensions.has("sstc"),
    sscofpmf: extensions.has("sscofpmf"),
    svpbmt: extensions.has("svpbmt"),
    zicbom: extensions.has("zicbom"),
    zicboz: extensions.has("zicboz"),
    bits,
  });
}

/**
 * The state of one hart as CSR blocks see it: a window of slots starting at
 * `base` in a shared `BigUint64Array` (and the same memory as 32-bit words),
 * and the hart's features.
 *
 * @example Usage
 * ```ts
 * import { HartContext } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const slots = new BigUint64Array(8);
 * const hart = new HartContext(slots, 4, 1, new Set(["h"])); // hart 1 owns slots 4 to 7
 * hart.put(0, 0xb10dn);
 * strictEqual(slots[4], 0xb10dn);
 * strictEqual(hart.get(0), 0xb10dn);
 * strictEqual(hart.word(0, 0), 0xb10d); // the same slot, as its low word
 * strictEqual(hart.hasH, true);
 * strictEqual(hart.priv, 3); // accesses come from M-mode unless a backend says otherwise
 * ```
 */
export class HartContext {
  /** The shared slot storage of every hart of the machine. */
  readonly slots: BigUint64Array;
  /** The same storage as 32-bit words: slot `s` is words `2s` (low) and `2s + 1` (high). */
  readonly words: Int32Array;
  /** This hart's first slot. */
  base: number;
  /** This hart's first word (`2 * base`). */
  wordBase: number;
  /** The hart id (`mhartid`). */
  id: HartId;
  /** The extensions this hart has (single letters and multi-letter names, lowercase). */
  readonly extensions: ReadonlySet<string>;
  /** Whether the hart has the H extension (cached from `extensions`). */
  readonly hasH: boolean;
  /** `features.bits`, at hand for the access checks. */
  readonly featureBits: number;
  /** The extensions that change CSR behaviour, as booleans. */
  readonly features: HartFeatures;
  /** The privilege level of the accessor: 3 (M) unless a backend says otherwise. */
  priv: number;

  /**
   * Creates a hart context.
   *
   * @param slots The shared storage.
   * @param base This hart's first slot.
   * @param id The hart id.
   * @param extensions The hart's extensions.
   * @param features Their features, when already computed (harts with one ISA share them).
   * @param words `slots` as 32-bit words, when already made (the harts of a machine share it).
   */
  constructor(
    slots: BigUint64Array,
    base: number,
    id: HartId,
    extensions: ReadonlySet<string>,
    features: HartFeatures = featuresOf(extensions),
    words: Int32Array = new Int32Array(slots.buffer, slots.byteOffset, slots.length * 2),
  ) {
    this.slots = slots;
    this.words = words;
    this.base = base;
    this.wordBase = base * 2;
    this.id = id;
    this.extensions = extensions;
    this.features = features;
    this.hasH = features.h;
    this.featureBits = features.bits;
    this.priv = 3;
  }

  /**
   * Points this context at another hart of the same machine and ISA: a
   * machine of many harts keeps one context per ISA and moves it, rather
   * than one object per hart.
   *
   * @param id The hart id.
   * @param base Its first slot.
   * @returns This context.
   */
  moveTo(id: HartId, base: number): this {
    this.id = id;
    this.base = base;
    this.wordBase = 2 * base;
    return this;
  }

  /**
   * Reads a slot of this hart.
   *
   * @param slot The slot index within the hart's window.
   * @returns The slot's value.
   */
  get(slot: number): bigint {
    return this.slots[this.base + slot]!;
  }

  /**
   * Writes a slot of this hart.
   *
   * @param slot The slot index within the hart's window.
   * @param value The new value (taken modulo 2^64).
   */
  put(slot: number, value: bigint): void {
    this.slots[this.base + slot] = value;
  }

  /**
   * Reads one word of a slot of this hart.
   *
   * @param slot The slot index within the hart's window.
   * @param lane Which word.
   * @returns The word, as a signed 32-bit integer.
   */
  word(slot: number, lane: Lane): number {
    return this.words[this.wordBase + 2 * slot + lane]!;
  }

  /**
   * Writes one word of a slot of this hart.
   *
   * @param slot The slot index within the hart's window.
   * @param lane Which word.
   * @param word The new word (taken modulo 2^32).
   */
  putWord(slot: number, lane: Lane, word: number): void {
    this.words[this.wordBase + 2 * slot + lane] = word;
  }

  /**
   * Whether a slot of this hart has any of some bits set.
   *
   * @param slot The slot index within the hart's window.
   * @param bits The bits, as words.
   * @returns `true` when one of them is set.
   */
  hasAny(slot: number, bits: Words): boolean {
    const index = this.wordBase + 2 * slot;
    return ((this.words[index]! & bits[0]) | (this.words[index + 1]! & bits[1])) !== 0;
  }

  /**
   * Whether the hart has an extension.
   *
   * @param name A single letter or a multi-letter name, lowercase.
   * @returns `true` when present.
   */
  has(name: string): boolean {
    return this.extensions.has(name);
  }
}

/**
 * A value computed per lane: its word in lane 0 (bits 0–31) and in lane 1
 * (bits 32–63). Masks that depend on the hart's state (`sie` shows the `mie`
 * bits `mideleg` delegates) are bitwise expressions, so each lane is computed
 * from the same lane of the slots it reads.
 *
 * @example sie's mask: mideleg's delegated supervisor bits
 * ```ts
 * import { HartContext, type LaneValue, type Words, wordsOf } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const MIDELEG = 0;
 * const S_BITS: Words = wordsOf(0x222n);
 * const sieMask: LaneValue = (hart, lane) => hart.word(MIDELEG, lane) & S_BITS[lane];
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * hart.put(MIDELEG, 0x2n);
 * strictEqual(sieMask(hart, 0), 0x2);
 * strictEqual(sieMask(hart, 1), 0);
 * ```
 */
export type LaneValue = (hart: HartContext, lane: Lane) => number;

/**
 * A mask computed from the hart: from its extensions and, when `reads` is
 * given, from the value of that slot, and from nothing else. A block computes
 * it again only when one of those changed (the harts of one ISA in one state
 * share it), so the promise matters.
 *
 * @example Usage
 * ```ts
 * import { type StateMask, wordsOf } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const HIDELEG = 0;
 * const VS = wordsOf(0x444n);
 * const vsie: StateMask = { reads: HIDELEG, lane: (hart, lane) => hart.word(HIDELEG, lane) & VS[lane] };
 * strictEqual(vsie.reads, HIDELEG);
 * ```
 */
export interface StateMask {
  /** The slot the mask reads besides the extensions; none when absent. */
  readonly reads?: number;
  /** The mask's word per lane. */
  readonly lane: LaneValue;
}

/**
 * A mask that may depend on the hart (e.g. `sie` on `mideleg`): a constant,
 * or a {@linkcode StateMask}.
 *
 * @example sie shows the mie bits mideleg delegates
 * ```ts
 * import { type DynamicMask, HartContext, slotMask, ViewCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const MIE = 0;
 * const MIDELEG = 1;
 * const delegated: DynamicMask = slotMask(MIDELEG, (hart, lane) => hart.word(MIDELEG, lane));
 * const sie = new ViewCsr(MIE, { readMask: delegated, writeMask: delegated });
 * const hart = new HartContext(new BigUint64Array(2), 0, 0, new Set());
 * hart.put(MIDELEG, 0x222n);
 * sie.write(hart, 0xaaan);
 * strictEqual(hart.get(MIE), 0x222n);
 * ```
 */
export type DynamicMask = bigint | StateMask;

/**
 * A {@linkcode DynamicMask} ready for the word form: `low` and `high` are
 * its words for the hart last passed to `resolve` (always, for a constant).
 */
class MaskWords {
  low = 0;
  high = 0;
  readonly #lane: LaneValue | undefined;
  readonly #reads: number;
  #extensions: ReadonlySet<string> | undefined;
  #readLow = 0;
  #readHigh = 0;

  constructor(mask: DynamicMask) {
    if (typeof mask === "bigint") {
      [this.low, this.high] = wordsOf(mask);
      this.#lane = undefined;
      this.#reads = -1;
    } else {
      this.#lane = mask.lane;
      this.#reads = mask.reads ?? -1;
    }
  }

  /** Brings `low` and `high` up to date for a hart: computed again only when its inputs changed. */
  resolve(hart: HartContext): void {
    const lane = this.#lane;
    if (lane === undefined) return;
    let readLow = 0;
    let readHigh = 0;
    if (this.#reads >= 0) {
      const index = hart.wordBase + 2 * this.#reads;
      readLow = hart.words[index]!;
      readHigh = hart.words[index + 1]!;
    }
    if (
      hart.extensions === this.#extensions && readLow === this.#readLow &&
      readHigh === this.#readHigh
    ) {
      return;
    }
    this.low = lane(hart, 0);
    this.high = lane(hart, 1);
    this.#extensions = hart.extensions;
    this.#readLow = readLow;
    this.#readHigh = readHigh;
  }
}

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
 * import { Csr, HartContext } from "./csr_blocks.ts";
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
    CONVERT[1] = this.rmw(hart, value, mask);
    out[at] = CONVERT_WORDS[2]!;
    out[at + 1] = CONVERT_WORDS[3]!;
  }
}

/**
 * A CSR written in words: its one rule is `rmwWords`, and `read`, `write`
 * and `rmw` are that rule with `bigint` values.
 *
 * @example A register that keeps only its low byte
 * ```ts
 * import { HartContext, WordCsr } from "./csr_blocks.ts";
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
    this.rmwWords(hart, 0, 0, 0, 0, CONVERT_WORDS, 4);
    return CONVERT[2]!;
  }

  /** Writes the value (an `rmw` with a full mask). */
  override write(hart: HartContext, value: bigint): void {
    this.rmw(hart, value, ALL_ONES);
  }

  /** Reads, then writes the masked bits: `rmwWords` on the values' words. */
  override rmw(hart: HartContext, value: bigint, mask: bigint): bigint {
    CONVERT[0] = value;
    CONVERT[1] = mask;
    this.rmwWords(
      hart,
      CONVERT_WORDS[0]!,
      CONVERT_WORDS[1]!,
      CONVERT_WORDS[2]!,
      CONVERT_WORDS[3]!,
      CONVERT_WORDS,
      4,
    );
    return CONVERT[2]!;
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
 * import { ConstCsr, HartContext } from "./csr_blocks.ts";
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
 * import { HartContext, MaskedCsr } from "./csr_blocks.ts";
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
 * import { HartContext, ViewCsr, type ViewOptions } from "./csr_blocks.ts";
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
 * import { HartContext, ViewCsr } from "./csr_blocks.ts";
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
    const words = hart.words;
    const index = hart.wordBase + 2 * this.slot;
    const storedLow = words[index]!;
    const storedHigh = words[index + 1]!;
    const shown = this.#readMask;
    shown.resolve(hart);
    const readLow = shown.low;
    const readHigh = shown.high;
    let oldLow = storedLow & readLow;
    let oldHigh = storedHigh & readHigh;
    const shift = this.#shift;
    if (shift !== 0) {
      oldLow = (oldLow >>> shift) | (oldHigh << (32 - shift));
      oldHigh = oldHigh >>> shift;
    }
    out[at] = oldLow;
    out[at + 1] = oldHigh;
    if ((maskLow | maskHigh) === 0) return;
    let nextLow = (oldLow & ~maskLow) | (valueLow & maskLow);
    let nextHigh = (oldHigh & ~maskHigh) | (valueHigh & maskHigh);
    if (shift !== 0) {
      nextHigh = (nextHigh << shift) | (nextLow >>> (32 - shift));
      nextLow = nextLow << shift;
    }
    const writable = this.#writeMask;
    if (writable !== shown) writable.resolve(hart);
    const writeLow = writable.low;
    const writeHigh = writable.high;
    words[index] = (storedLow & ~writeLow) | (nextLow & writeLow);
    words[index + 1] = (storedHigh & ~writeHigh) | (nextHigh & writeHigh);
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
 * import { HartContext, type LaneRmw, wordsOf } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const HIDELEG = 0;
 * const DELEGABLE = wordsOf(0x444n);
 * const hideleg: LaneRmw = (hart, lane, value, mask) => {
 *   const old = hart.word(HIDELEG, lane);
 *   const change = mask & DELEGABLE[lane];
 *   hart.putWord(HIDELEG, lane, (old & ~change) | (value & change));
 *   return old;
 * };
 * const hart = new HartContext(new BigUint64Array(1), 0, 0, new Set(["h"]));
 * strictEqual(hideleg(hart, 0, -1, -1), 0);
 * strictEqual(hart.get(HIDELEG), 0x444n);
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
 * import { HartContext, LaneCsr } from "./csr_blocks.ts";
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
 * import { HartContext, StoredCsr } from "./csr_blocks.ts";
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
 * import { FunctionCsr, type FunctionCsrHooks, HartContext } from "./csr_blocks.ts";
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
 * import { FunctionCsr, HartContext } from "./csr_blocks.ts";
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

/**
 * One CSR of a {@linkcode CsrFile}.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { type CsrEntry, CsrFile, FEATURE, MaskedCsr } from "./csr_blocks.ts";
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
 * import { CsrFile, FEATURE, HartContext, MaskedCsr } from "./csr_blocks.ts";
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
    CONVERT[0] = value;
    CONVERT[1] = mask;
    for (let k = 0; k < 4; k++) one.rmw[k] = CONVERT_WORDS[k]!;
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

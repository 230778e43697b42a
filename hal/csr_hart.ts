/**
 * A hart as the CSR blocks see it: its window of the machine's slots (as
 * 64-bit values and as 32-bit words), its extensions as features, and the
 * masks computed from its state. Every access can run with `bigint` values
 * or with each value as two 32-bit words (the form a machine of many harts
 * runs in: no `bigint` is allocated); this is what both forms read.
 *
 * @module
 */

import type { HartId } from "./types.ts";
import { bigintOf } from "./_word_batch.ts";

/** Which 32-bit word of a 64-bit value: 0 the low one, 1 the high one. */
export type Lane = 0 | 1;

/**
 * A 64-bit value as its two 32-bit words, low first, each a signed 32-bit
 * integer (what JavaScript's bitwise operators produce).
 *
 * @example Usage
 * ```ts
 * import { type Words, wordsOf } from "./csr_hart.ts";
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

/**
 * The 64-bit value of two words.
 *
 * @param low The low word.
 * @param high The high word.
 * @returns The value, within 64 bits.
 */
export function bigintOfWords(low: number, high: number): bigint {
  PAIR[0] = low;
  PAIR[1] = high;
  return bigintOf(PAIR, 0);
}

const PAIR = new Int32Array(2);

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
 * import { HartContext, type HartFeatures } from "./csr_hart.ts";
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
 * import { featuresOf, HartContext } from "./csr_hart.ts";
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
 * import { HartContext } from "./csr_hart.ts";
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
 * import { HartContext, type LaneValue, type Words, wordsOf } from "./csr_hart.ts";
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
 * import { type StateMask, wordsOf } from "./csr_hart.ts";
 * import { VS_INTERRUPTS } from "./csr_fields.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const HIDELEG = 0;
 * const VS = wordsOf(VS_INTERRUPTS);
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
 * import { type DynamicMask, HartContext, slotMask } from "./csr_hart.ts";
 * import { ViewCsr } from "./csr_blocks.ts";
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
export class MaskWords {
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
 * A mask that depends only on a hart's extensions, for a {@linkcode MaskedCsr}
 * or {@linkcode ViewCsr}, written with `bigint` values.
 *
 * @example Usage
 * ```ts
 * import { extensionMask, HartContext } from "./csr_hart.ts";
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
 * import { HartContext, slotMask, wordsOf } from "./csr_hart.ts";
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

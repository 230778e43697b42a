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
 * @module
 */

import { ALL_ONES } from "./csr_fields.ts";
import type { CsrNum, HartId } from "./types.ts";

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
  });
}

/**
 * The state of one hart as CSR blocks see it: a window of slots starting at
 * `base` in a shared `BigUint64Array`, and the hart's features.
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
 * strictEqual(hart.hasH, true);
 * strictEqual(hart.priv, 3); // accesses come from M-mode unless a backend says otherwise
 * ```
 */
export class HartContext {
  /** The shared slot storage of every hart of the machine. */
  readonly slots: BigUint64Array;
  /** This hart's first slot. */
  readonly base: number;
  /** The hart id (`mhartid`). */
  readonly id: HartId;
  /** The extensions this hart has (single letters and multi-letter names, lowercase). */
  readonly extensions: ReadonlySet<string>;
  /** Whether the hart has the H extension (cached from `extensions`). */
  readonly hasH: boolean;
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
   */
  constructor(
    slots: BigUint64Array,
    base: number,
    id: HartId,
    extensions: ReadonlySet<string>,
    features: HartFeatures = featuresOf(extensions),
  ) {
    this.slots = slots;
    this.base = base;
    this.id = id;
    this.extensions = extensions;
    this.features = features;
    this.hasH = features.h;
    this.priv = 3;
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
 * A mask that may depend on the hart's state (e.g. `sie` on `mideleg`).
 *
 * @example sie shows the mie bits mideleg delegates
 * ```ts
 * import { type DynamicMask, HartContext, ViewCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const MIE = 0;
 * const MIDELEG = 1;
 * const delegated: DynamicMask = (hart) => hart.get(MIDELEG);
 * const sie = new ViewCsr(MIE, { readMask: delegated, writeMask: delegated });
 * const hart = new HartContext(new BigUint64Array(2), 0, 0, new Set());
 * hart.put(MIDELEG, 0x222n);
 * sie.write(hart, 0xaaan);
 * strictEqual(hart.get(MIE), 0x222n);
 * ```
 */
export type DynamicMask = bigint | ((hart: HartContext) => bigint);

function maskOf(mask: DynamicMask, hart: HartContext): bigint {
  return typeof mask === "bigint" ? mask : mask(hart);
}

/**
 * The CSR contract. `read` is the architectural value with no side effects;
 * `write` applies the WARL rules to a full new value; `rmw` is what
 * `csrrw`/`csrrs`/`csrrc` do: read, then (when `mask` is not zero) write
 * `(old & ~mask) | (value & mask)`, and return the old value.
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
  #value: DynamicMask;

  /**
   * Creates a constant CSR.
   *
   * @param value The value, or a function of the hart.
   */
  constructor(value: DynamicMask) {
    super();
    this.#value = value;
  }

  /** Reads the value. */
  read(hart: HartContext): bigint {
    return maskOf(this.#value, hart);
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
export class MaskedCsr extends Csr {
  /** The slot holding the value. */
  readonly slot: number;
  #mask: DynamicMask;
  #keep: bigint;

  /**
   * Creates a masked CSR.
   *
   * @param slot The slot holding the value.
   * @param mask The writable bits (or a function of the hart).
   */
  constructor(slot: number, mask: DynamicMask = ALL_ONES) {
    super();
    this.slot = slot;
    this.#mask = mask;
    this.#keep = typeof mask === "bigint" ? ~mask & ALL_ONES : 0n;
  }

  /** Reads the value. */
  read(hart: HartContext): bigint {
    return hart.get(this.slot);
  }

  /** Reads, then writes the masked bits, like the CSR instructions. */
  override rmw(hart: HartContext, value: bigint, mask: bigint): bigint {
    const index = hart.base + this.slot;
    const old = hart.slots[index]!;
    if (mask === 0n) return old;
    const writable = this.#mask;
    if (typeof writable === "bigint") {
      const next = mask === ALL_ONES ? value : (old & ~mask) | (value & mask);
      hart.slots[index] = writable === ALL_ONES ? next : (old & this.#keep) | (next & writable);
    } else {
      this.write(hart, mask === ALL_ONES ? value : (old & ~mask) | (value & mask));
    }
    return old;
  }

  /** Writes the value. */
  override write(hart: HartContext, value: bigint): void {
    const mask = this.#mask;
    if (typeof mask === "bigint") {
      // A full-width register needs no read; a static mask needs no inversion.
      if (mask === ALL_ONES) hart.put(this.slot, value);
      else hart.put(this.slot, (hart.get(this.slot) & this.#keep) | (value & mask));
      return;
    }
    const dynamic = mask(hart);
    hart.put(this.slot, (hart.get(this.slot) & ~dynamic) | (value & dynamic));
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
   * bit 1: shift 1). Default 0.
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
export class ViewCsr extends Csr {
  /** The slot of the storage CSR. */
  readonly slot: number;
  #readMask: DynamicMask;
  #writeMask: DynamicMask;
  #shift: bigint;

  /**
   * Creates a view.
   *
   * @param slot The storage slot.
   * @param options Masks and shift.
   */
  constructor(slot: number, options: ViewOptions) {
    super();
    this.slot = slot;
    this.#readMask = options.readMask;
    this.#writeMask = options.writeMask;
    this.#shift = BigInt(options.shift ?? 0);
  }

  /** Reads the value. */
  read(hart: HartContext): bigint {
    const bits = hart.get(this.slot) & maskOf(this.#readMask, hart);
    return this.#shift === 0n ? bits : bits >> this.#shift;
  }

  /** Writes the value. */
  override write(hart: HartContext, value: bigint): void {
    const mask = maskOf(this.#writeMask, hart);
    const shifted = this.#shift === 0n ? value : value << this.#shift;
    hart.put(this.slot, (hart.get(this.slot) & ~mask) | (shifted & mask));
  }

  /** Reads, then writes the masked bits, like the CSR instructions (one storage read). */
  override rmw(hart: HartContext, value: bigint, mask: bigint): bigint {
    const index = hart.base + this.slot;
    const stored = hart.slots[index]!;
    const shift = this.#shift;
    const visible = stored & maskOf(this.#readMask, hart);
    const old = shift === 0n ? visible : visible >> shift;
    if (mask === 0n) return old;
    const next = mask === ALL_ONES ? value : (old & ~mask) | (value & mask);
    const writable = maskOf(this.#writeMask, hart);
    hart.slots[index] = (stored & ~writable) | ((shift === 0n ? next : next << shift) & writable);
    return old;
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
 * Whether a hart may access a CSR at all: 0 when it may, else the exception
 * cause the access raises (2, illegal instruction, for a missing extension).
 *
 * @example Usage
 * ```ts
 * import { type CsrPredicate, HartContext } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const needsH: CsrPredicate = (hart) => (hart.hasH ? 0 : 2);
 * strictEqual(needsH(new HartContext(new BigUint64Array(1), 0, 0, new Set(["h"]))), 0);
 * strictEqual(needsH(new HartContext(new BigUint64Array(1), 0, 0, new Set())), 2);
 * ```
 */
export type CsrPredicate = (hart: HartContext) => number;

/**
 * One CSR of a {@linkcode CsrFile}.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { type CsrEntry, CsrFile, MaskedCsr } from "./csr_blocks.ts";
 * import { ok, strictEqual } from "node:assert/strict";
 *
 * const file = new CsrFile();
 * file.define(CSR.sscratch, new MaskedCsr(0));
 * const entry: CsrEntry | undefined = file.entry(CSR.sscratch);
 * ok(entry?.block instanceof MaskedCsr);
 * strictEqual(entry.predicate, undefined); // always accessible
 * strictEqual(file.entry(CSR.hgatp), undefined);
 * ```
 */
export interface CsrEntry {
  /** The address. */
  readonly csr: CsrNum;
  /** The behaviour. */
  readonly block: Csr;
  /** The access check; absent means always accessible. */
  readonly predicate: CsrPredicate | undefined;
}

/**
 * The CSRs of one hart model, by address, with their access predicates.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { CsrFile, HartContext, MaskedCsr } from "./csr_blocks.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const file = new CsrFile();
 * file.define(CSR.hedeleg, new MaskedCsr(0, 0xb1ffn), (h) => (h.hasH ? 0 : 2));
 * const noH = new HartContext(new BigUint64Array(1), 0, 0, new Set());
 * strictEqual(file.access(noH, CSR.hedeleg, 0n, 0n), undefined);
 * strictEqual(file.trapCause, 2);
 * ```
 */
export class CsrFile {
  #entries: (CsrEntry | undefined)[] = new Array(4096);
  /** The cause of the last trapping {@linkcode CsrFile.access}. */
  trapCause = 0;

  /**
   * Defines (or redefines) a CSR.
   *
   * @param csr The address.
   * @param block The behaviour.
   * @param predicate The access check.
   */
  define(csr: CsrNum, block: Csr, predicate?: CsrPredicate): void {
    this.#entries[csr] = { csr, block, predicate };
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
   * failing predicate, or a write to a read-only address (bits 11:10 = 0b11)
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
    const entry = this.#entries[csr];
    if (entry === undefined) {
      this.trapCause = 2;
      return undefined;
    }
    if (entry.predicate !== undefined) {
      const cause = entry.predicate(hart);
      if (cause !== 0) {
        this.trapCause = cause;
        return undefined;
      }
    }
    if (mask !== 0n && (csr >> 10) === 0b11) {
      this.trapCause = 2;
      return undefined;
    }
    const block = entry.block;
    // Monomorphic call sites for the common blocks let the engine inline them.
    if (block instanceof MaskedCsr) return block.rmw(hart, value, mask);
    if (block instanceof ViewCsr) return block.rmw(hart, value, mask);
    return block.rmw(hart, value, mask);
  }
}

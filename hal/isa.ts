/**
 * RISC-V ISA strings (`rv64imafdch_sstc`): parsing into a set of extensions
 * and the `misa` value they imply.
 *
 * @module
 */

/**
 * A parsed ISA string.
 *
 * @example Usage
 * ```ts
 * import { type IsaSpec, parseIsa } from "./isa.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const isa: IsaSpec = parseIsa("rv64gch");
 * strictEqual(isa.xlen, 64);
 * deepStrictEqual(
 *   [...isa.extensions].sort(),
 *   ["a", "c", "d", "f", "h", "i", "m", "zicsr", "zifencei"],
 * );
 * ```
 */
export interface IsaSpec {
  /** The string as given. */
  readonly text: string;
  /** Register width: only 64 is modelled. */
  readonly xlen: 64;
  /** Extensions, lowercase: single letters and multi-letter names (`sstc`). */
  readonly extensions: ReadonlySet<string>;
}

/** The single-letter extensions accepted, in canonical order. */
const SINGLE_LETTERS = "imafdqcbvhsu";
const MULTI_LETTER_REGEXP = /^([sxz][a-z]+?)(\d+(?:p\d+)?)?$/;
const BASE_REGEXP = /^rv(32|64|128)([a-z0-9]*)$/;

/**
 * Parses an ISA string. `g` expands to `imafd_zicsr_zifencei`; version
 * numbers (`i2p1`) are accepted and dropped.
 *
 * @example Usage
 * ```ts
 * import { parseIsa } from "./isa.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const isa = parseIsa("rv64imafdch_sstc");
 * strictEqual(isa.extensions.has("h"), true);
 * strictEqual(isa.extensions.has("sstc"), true);
 * ```
 *
 * @param text The ISA string.
 * @returns The parsed ISA.
 * @throws {SyntaxError} When the string is not an RV64 ISA string.
 */
export function parseIsa(text: string): IsaSpec {
  const lower = text.trim().toLowerCase();
  const [head = "", ...multi] = lower.split("_");
  const base = BASE_REGEXP.exec(head);
  if (base === null) {
    throw new SyntaxError(
      `Cannot parse ISA string "${text}": it must start with rv64 followed by extension letters`,
    );
  }
  if (base[1] !== "64") {
    throw new SyntaxError(`Cannot use ISA string "${text}": only RV64 harts are modelled`);
  }
  const extensions = new Set<string>();
  const letters = base[2]!.replace(/\d+(p\d+)?/g, "");
  for (const letter of letters) {
    if (letter === "g") {
      for (const l of "imafd") extensions.add(l);
      extensions.add("zicsr");
      extensions.add("zifencei");
    } else if (SINGLE_LETTERS.includes(letter)) {
      extensions.add(letter);
    } else {
      throw new SyntaxError(
        `Cannot parse ISA string "${text}": unknown single-letter extension "${letter}"`,
      );
    }
  }
  if (!extensions.has("i")) {
    throw new SyntaxError(`Cannot use ISA string "${text}": the base integer ISA "i" is missing`);
  }
  if (extensions.has("d") && !extensions.has("f")) {
    throw new SyntaxError(`Cannot use ISA string "${text}": extension "d" requires "f"`);
  }
  for (const name of multi) {
    const match = MULTI_LETTER_REGEXP.exec(name);
    if (match === null) {
      throw new SyntaxError(
        `Cannot parse ISA string "${text}": "${name}" is not a multi-letter extension name`,
      );
    }
    extensions.add(match[1]!);
  }
  return { text, xlen: 64, extensions };
}

/**
 * The `misa` value of a hart with these extensions: MXL = 2 (64-bit) and one
 * bit per single-letter extension. S and U are always set: every modelled
 * hart has supervisor and user mode.
 *
 * @example Usage
 * ```ts
 * import { misaOf, parseIsa } from "./isa.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(misaOf(parseIsa("rv64imafdch")), 0x80000000001411adn);
 * ```
 *
 * @param isa The parsed ISA.
 * @returns The misa value.
 */
export function misaOf(isa: IsaSpec): bigint {
  let misa = 2n << 62n;
  for (const ext of isa.extensions) {
    if (ext.length === 1) misa |= misaBit(ext);
  }
  return misa | misaBit("s") | misaBit("u");
}

/**
 * The `misa` bit of a single-letter extension (`a` is bit 0).
 *
 * @example Usage
 * ```ts
 * import { misaBit } from "./isa.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(misaBit("h"), 0x80n);
 * ```
 *
 * @param letter The extension's letter, lowercase.
 * @returns The bit.
 */
export function misaBit(letter: string): bigint {
  return 1n << BigInt(letter.charCodeAt(0) - 97);
}

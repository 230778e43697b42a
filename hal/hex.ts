/**
 * CSR values as text: lowercase `0x…` strings, the form traces, JSON output
 * and the HTTP API use (a `bigint` is not JSON).
 *
 * @module
 */

import { ALL_ONES } from "./csr_fields.ts";

const HEX_VALUE_REGEXP = /^0x[0-9a-f]+$/i;

/**
 * Formats a CSR value as a lowercase `0x…` string.
 *
 * @example Usage
 * ```ts
 * import { hex } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(hex(0xB10Dn), "0xb10d");
 * strictEqual(hex(-1n), "0xffffffffffffffff");
 * ```
 *
 * @param value The value; negative values are taken as 64-bit two's complement.
 * @returns The text.
 */
export function hex(value: bigint): string {
  // The common case skips asUintN: traces format millions of values.
  return value >= 0n && value <= ALL_ONES
    ? `0x${value.toString(16)}`
    : `0x${BigInt.asUintN(64, value).toString(16)}`;
}

/**
 * A JSON-ready copy of a value: every `bigint` (a CSR value) becomes its
 * lowercase `0x…` string, as the HTTP API and the CLI's `--json` write them;
 * functions and symbols are dropped. `JSON.stringify` of a `diffStates`
 * result or a `csrReport()` throws on its bigints; of this, it does not.
 *
 * @example Usage
 * ```ts
 * import { RISCVPerCpu, toJsonValue } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const report = (await RISCVPerCpu.create(0, hal)).csrReport();
 * const text = JSON.stringify(toJsonValue(report));
 * strictEqual(JSON.parse(text)[0].kept, "0xb10d");
 * await hal.close();
 * ```
 *
 * @param value Anything.
 * @returns A copy `JSON.stringify` takes.
 */
export function toJsonValue(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v) => typeof v === "bigint" ? hex(v) : v));
}

/**
 * Parses a `0x…` hex string (or a decimal string) into a 64-bit value.
 *
 * @example Usage
 * ```ts
 * import { parseHex } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseHex("0xB10D"), 0xb10dn);
 * strictEqual(parseHex("17"), 17n);
 * ```
 *
 * @param text The text.
 * @returns The value.
 * @throws {SyntaxError} When the text is not a number, or does not fit in 64 bits.
 */
export function parseHex(text: string): bigint {
  const trimmed = text.trim().replaceAll("_", "");
  if (!HEX_VALUE_REGEXP.test(trimmed) && !/^[0-9]+$/.test(trimmed)) {
    throw new SyntaxError(
      `Cannot parse "${text}" as a CSR value: expected 0x followed by hex digits`,
    );
  }
  const value = BigInt(trimmed);
  if (value > ALL_ONES) {
    throw new SyntaxError(`Cannot parse "${text}" as a CSR value: it does not fit in 64 bits`);
  }
  return value;
}

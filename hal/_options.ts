/**
 * Helpers for validating plugin options, every failure an `invalidOption`
 * error carrying the option's key path.
 *
 * @module
 */

import { invalidOption } from "./errors.ts";
import { parseHex } from "./hex.ts";

/** A key path below a plugin's `options`. */
export type OptionPath = readonly (string | number)[];

/** Describes a value for an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `"${value}"`;
  if (typeof value === "object") return "a map";
  return `${typeof value} ${String(value)}`;
}

/** Requires a plain object (a YAML map); `undefined` becomes `{}`. */
export function objectOption(raw: unknown, path: OptionPath): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw invalidOption(path, `expected a map, got ${describeValue(raw)}`);
  }
  return raw as Record<string, unknown>;
}

/** Rejects keys that are not in `allowed`, naming the first unknown one. */
export function rejectUnknownKeys(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  path: OptionPath,
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw invalidOption(
        [...path, key],
        `unknown option "${key}"; expected one of ${allowed.map((k) => `"${k}"`).join(", ")}`,
      );
    }
  }
}

/** An integer in `[min, max]`, or the default when absent. */
export function integerOption(
  value: unknown,
  path: OptionPath,
  bounds: { min: number; max: number },
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw invalidOption(path, `expected an integer, got ${describeValue(value)}`);
  }
  if (value < bounds.min || value > bounds.max) {
    throw invalidOption(
      path,
      `expected an integer from ${bounds.min} to ${bounds.max}, got ${value}`,
    );
  }
  return value;
}

/** One of `choices`, or the default when absent. */
export function choiceOption<T extends string>(
  value: unknown,
  path: OptionPath,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
    throw invalidOption(
      path,
      `expected one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${describeValue(value)}`,
    );
  }
  return value as T;
}

/** A 64-bit value given as a bigint, a safe integer, or a `0x…` string. */
export function bigintOption(value: unknown, path: OptionPath, fallback: bigint): bigint {
  if (value === undefined) return fallback;
  if (typeof value === "bigint") {
    if (value < 0n || value >= 1n << 64n) throw invalidOption(path, "expected a 64-bit value");
    return value;
  }
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string") {
    try {
      return parseHex(value);
    } catch (error) {
      throw invalidOption(path, (error as Error).message);
    }
  }
  throw invalidOption(path, `expected a number or a "0x…" string, got ${describeValue(value)}`);
}

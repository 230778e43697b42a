/**
 * Shapes: the form of a manifest's keys and of a built-in plugin's options,
 * written once, as data. The same shape validates a value (each failure a
 * message at the key path it is about) and becomes that value's JSON
 * Schema ({@linkcode shapeJsonSchema}; `manifest/json_schema.ts` assembles
 * the manifest's), so the validator and the schema editors use cannot
 * disagree on what they both check. What a shape cannot say (an ISA
 * string's grammar, a value that must fit 64 bits, two options that
 * exclude each other) is checked by the code that reads the value, after
 * its shape.
 *
 * @module
 */

import { invalidOption } from "./errors.ts";
import { parseHex } from "./hex.ts";
import { closest } from "./_suggest.ts";

/** A key path: map keys and list indices. */
export type ShapePath = readonly (string | number)[];

/** What every shape may say besides its form. */
interface ShapeBase {
  /** What the value is for: the schema's `description`, which editors show. */
  readonly description?: string;
  /** The value taken when the key is absent (documentation: the schema's `default`). */
  readonly default?: unknown;
  /** What the value must be, for messages (`a hart id (an integer ≥ 0)`). */
  readonly expected?: string;
  /** The whole message for a value of the wrong form, when the usual one says too little. */
  readonly mismatch?: (got: string, value: unknown) => string;
}

/** A map with known keys (and, with `values`, any other key). */
export interface MapShape extends ShapeBase {
  /** Kind. */
  readonly kind: "map";
  /** The known keys, in the order they are checked. */
  readonly properties: Readonly<Record<string, Shape>>;
  /** Keys that must be there. */
  readonly required?: readonly string[];
  /** What to add when a required key is missing (`add "version: 1"`). */
  readonly hints?: Readonly<Record<string, string>>;
  /** The shape of keys not in `properties` (`"any"`: any value); without it such keys are refused. */
  readonly values?: Shape | "any";
  /** What a key not in `properties` must look like. */
  readonly keyPattern?: RegExp;
  /** What such a key must be, for messages (`a valid -cpu property name`). */
  readonly keyExpected?: string;
  /** Whether nothing (YAML's empty value) stands for the empty map. */
  readonly nullable?: boolean;
}

/** A list. */
export interface ListShape extends ShapeBase {
  /** Kind. */
  readonly kind: "list";
  /** Each item's shape. */
  readonly items: Shape;
  /** When items must differ: the message for a repeat. */
  readonly unique?: (item: unknown) => string;
  /** Whether nothing stands for the empty list. */
  readonly nullable?: boolean;
}

/** A non-empty string. */
export interface TextShape extends ShapeBase {
  /** Kind. */
  readonly kind: "string";
  /** What it must match (no flags: JSON Schema patterns have none). */
  readonly pattern?: RegExp;
}

/** An integer in a range. */
export interface IntegerShape extends ShapeBase {
  /** Kind. */
  readonly kind: "integer";
  /** The least. */
  readonly min: number;
  /** The most. */
  readonly max: number;
}

/** `true` or `false`. */
export interface BooleanShape extends ShapeBase {
  /** Kind. */
  readonly kind: "boolean";
}

/** One of a few values. */
export interface ChoiceShape extends ShapeBase {
  /** Kind. */
  readonly kind: "choice";
  /** The values. */
  readonly values: readonly (string | number)[];
  /** Whether a string matches regardless of case. */
  readonly ignoreCase?: boolean;
}

/** A 64-bit value: a `bigint` (from code), a safe integer ≥ 0, or a `"0x…"` string. */
export interface U64Shape extends ShapeBase {
  /** Kind. */
  readonly kind: "u64";
}

/** Any of several shapes, told apart by the value's type. */
export interface EitherShape extends ShapeBase {
  /** Kind. */
  readonly kind: "either";
  /** The shapes. */
  readonly of: readonly Shape[];
  /** What the value must be, for messages. */
  readonly expected: string;
}

/** The form a value takes. */
export type Shape =
  | MapShape
  | ListShape
  | TextShape
  | IntegerShape
  | BooleanShape
  | ChoiceShape
  | U64Shape
  | EitherShape;

type Extra<S> = Omit<S, "kind">;

/** A map shape. */
export function map(
  properties: Readonly<Record<string, Shape>>,
  extra: Omit<Extra<MapShape>, "properties"> = {},
): MapShape {
  return Object.freeze({ kind: "map", properties, ...extra });
}

/** A list shape. */
export function list(items: Shape, extra: Omit<Extra<ListShape>, "items"> = {}): ListShape {
  return Object.freeze({ kind: "list", items, ...extra });
}

/** A non-empty string shape. */
export function text(extra: Extra<TextShape> = {}): TextShape {
  return Object.freeze({ kind: "string", ...extra });
}

/** An integer shape. */
export function integer(
  min: number,
  max: number,
  extra: Omit<Extra<IntegerShape>, "min" | "max"> = {},
): IntegerShape {
  return Object.freeze({ kind: "integer", min, max, ...extra });
}

/** A boolean shape. */
export function boolean(extra: Extra<BooleanShape> = {}): BooleanShape {
  return Object.freeze({ kind: "boolean", ...extra });
}

/** A shape of one of a few values. */
export function choice(
  values: readonly (string | number)[],
  extra: Omit<Extra<ChoiceShape>, "values"> = {},
): ChoiceShape {
  return Object.freeze({ kind: "choice", values, ...extra });
}

/** A 64-bit value shape. */
export function u64(extra: Extra<U64Shape> = {}): U64Shape {
  return Object.freeze({ kind: "u64", ...extra });
}

/** A shape of any of several. */
export function either(
  expected: string,
  of: readonly Shape[],
  extra: Omit<Extra<EitherShape>, "of" | "expected"> = {},
): EitherShape {
  return Object.freeze({ kind: "either", expected, of, ...extra });
}

/**
 * A value as messages name it: strings JSON-quoted (so a control character
 * never reaches a terminal raw), `number 5`, `a map`, `a list`, `nothing`.
 *
 * @param value The value.
 * @returns The description.
 */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object") return "a map";
  return `${typeof value} ${String(value)}`;
}

/** How a failed check reports. */
export interface ShapeCheck {
  /** What a map's keys are called in messages: manifest `key`s, plugin `option`s. */
  readonly noun: "key" | "option";
  /**
   * Reports a failure; must throw.
   *
   * @param path Where: the offending value, or (`atKey`) the offending key.
   * @param detail What is wrong.
   * @param atKey Whether the key itself is wrong (unknown), not its value.
   */
  readonly fail: (path: ShapePath, detail: string, atKey: boolean) => never;
}

/** A failure inside the check, before it is reported. */
class Failure {
  constructor(
    readonly path: ShapePath,
    readonly detail: string,
    readonly atKey = false,
  ) {}
}

/**
 * Checks a value against a shape: unknown and missing keys, types, ranges,
 * choices, patterns and repeats, in the shape's key order; the first
 * failure is reported through `check.fail`.
 *
 * @param shape The shape.
 * @param value The value (plain data: what YAML or JSON gives, or code passes).
 * @param path Where the value is.
 * @param check How to report.
 */
export function checkShape(shape: Shape, value: unknown, path: ShapePath, check: ShapeCheck): void {
  try {
    visit(shape, value, path, check.noun);
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    check.fail(error.path, error.detail, error.atKey);
  }
}

/**
 * Checks a plugin's options against their shape; the first failure is an
 * `invalidOption` error (a `TypeError` whose `path` names the option).
 *
 * @param shape The options' shape.
 * @param raw The options, from code or a manifest's `backend.options`.
 * @throws {TypeError} With a `path` naming the offending option.
 */
export function checkOptions(shape: Shape, raw: unknown, path: ShapePath = []): void {
  checkShape(shape, raw, path, {
    noun: "option",
    fail: (at, detail) => {
      throw invalidOption(at, detail);
    },
  });
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The strings a shape offers by name, for "did you mean". */
function choices(shape: Shape): string[] {
  if (shape.kind === "choice") return shape.values.filter((v) => typeof v === "string");
  if (shape.kind === "either") return shape.of.flatMap(choices);
  return [];
}

function quote(value: string | number): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** What a shape's values are, for messages. */
function expectedOf(shape: Shape): string {
  if (shape.expected !== undefined) return shape.expected;
  switch (shape.kind) {
    case "map":
      return "a map";
    case "list":
      return "a list";
    case "string":
      return "a non-empty string";
    case "integer":
      return shape.max === Number.MAX_SAFE_INTEGER
        ? `an integer ≥ ${shape.min}`
        : `an integer from ${shape.min} to ${shape.max}`;
    case "boolean":
      return "true or false";
    case "choice":
      return `one of ${shape.values.map(quote).join(", ")}`;
    case "u64":
      return 'a number or a "0x…" string';
    case "either":
      return shape.expected;
  }
}

function mismatch(shape: Shape, value: unknown, path: ShapePath): never {
  const got = describeValue(value);
  if (shape.mismatch !== undefined) throw new Failure(path, shape.mismatch(got, value));
  const close = typeof value === "string" ? closest(value, choices(shape)) : undefined;
  throw new Failure(
    path,
    `expected ${expectedOf(shape)}, got ${got}${
      close === undefined ? "" : ` (did you mean "${close}"?)`
    }`,
  );
}

/** Whether a value's type is one a shape takes (an `either` tries only those). */
function takesType(shape: Shape, value: unknown): boolean {
  switch (shape.kind) {
    case "map":
      return isMap(value) || (value === null && shape.nullable === true);
    case "list":
      return Array.isArray(value) || (value === null && shape.nullable === true);
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "choice":
      return shape.values.some((v) => typeof v === typeof value);
    case "u64":
      return ["number", "string", "bigint"].includes(typeof value);
    case "either":
      return shape.of.some((s) => takesType(s, value));
  }
}

const U64_MAX = (1n << 64n) - 1n;

function visit(shape: Shape, value: unknown, path: ShapePath, noun: "key" | "option"): void {
  switch (shape.kind) {
    case "map":
      return visitMap(shape, value, path, noun);
    case "list": {
      if (value === null && shape.nullable) return;
      if (!Array.isArray(value)) return mismatch(shape, value, path);
      const seen = new Set<unknown>();
      value.forEach((item, i) => {
        visit(shape.items, item, [...path, i], noun);
        if (shape.unique === undefined) return;
        if (seen.has(item)) throw new Failure([...path, i], shape.unique(item));
        seen.add(item);
      });
      return;
    }
    case "string":
      if (typeof value !== "string" || value === "" || shape.pattern?.test(value) === false) {
        return mismatch(shape, value, path);
      }
      return;
    case "integer":
      if (
        typeof value !== "number" || !Number.isInteger(value) || value < shape.min ||
        value > shape.max
      ) return mismatch(shape, value, path);
      return;
    case "boolean":
      if (typeof value !== "boolean") return mismatch(shape, value, path);
      return;
    case "choice": {
      const fold = (v: unknown) => shape.ignoreCase && typeof v === "string" ? v.toUpperCase() : v;
      if (!shape.values.some((v) => fold(v) === fold(value))) return mismatch(shape, value, path);
      return;
    }
    case "u64":
      if (typeof value === "bigint") {
        if (value < 0n || value > U64_MAX) throw new Failure(path, "expected a 64-bit value");
      } else if (typeof value === "string") {
        try {
          parseHex(value);
        } catch (error) {
          throw new Failure(path, (error as Error).message);
        }
      } else if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
        return mismatch(shape, value, path);
      }
      return;
    case "either": {
      const candidates = shape.of.filter((s) => takesType(s, value));
      const failures: Failure[] = [];
      for (const candidate of candidates) {
        try {
          visit(candidate, value, path, noun);
          return;
        } catch (error) {
          if (!(error instanceof Failure)) throw error;
          failures.push(error);
        }
      }
      // One shape of the value's type, a map or list, or failing inside: its failure says the most.
      const only = failures.length === 1 ? failures[0]! : undefined;
      const structured = candidates[0]?.kind === "map" || candidates[0]?.kind === "list";
      if (only !== undefined && (structured || only.path.length > path.length)) throw only;
      return mismatch(shape, value, path);
    }
  }
}

function visitMap(shape: MapShape, given: unknown, path: ShapePath, noun: "key" | "option"): void {
  // Nothing, where it may stand for the empty map, still lacks the required keys.
  const value = (given === null || given === undefined) && shape.nullable ? {} : given;
  if (!isMap(value)) return mismatch(shape, value, path);
  const known = Object.keys(shape.properties);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(shape.properties, key)) continue;
    if (shape.values !== undefined) {
      if (shape.keyPattern !== undefined && !shape.keyPattern.test(key)) {
        throw new Failure(
          [...path, key],
          `${JSON.stringify(key)} is not ${shape.keyExpected ?? "a valid name"}`,
          true,
        );
      }
      continue;
    }
    const close = closest(key, known);
    const where = noun === "option"
      ? ""
      : path.length === 0
      ? " in the manifest"
      : ` in "${path.join(".")}"`;
    throw new Failure(
      [...path, key],
      `unknown ${noun} ${JSON.stringify(key)}${where}${
        close === undefined ? "" : ` (did you mean "${close}"?)`
      }; expected one of ${known.map((k) => `"${k}"`).join(", ")}`,
      true,
    );
  }
  for (const [key, property] of Object.entries(shape.properties)) {
    const item = value[key];
    if (item === undefined) {
      if (shape.required?.includes(key)) {
        const hint = shape.hints?.[key];
        throw new Failure(
          path,
          `missing ${noun} "${key}"${path.length === 0 ? "" : ` in "${path.join(".")}"`}${
            hint === undefined ? "" : `; ${hint}`
          }`,
        );
      }
      continue;
    }
    visit(property, item, [...path, key], noun);
  }
  const values = shape.values;
  if (values !== undefined && values !== "any") {
    for (const [key, item] of Object.entries(value)) {
      if (!Object.hasOwn(shape.properties, key)) visit(values, item, [...path, key], noun);
    }
  }
}

/** A pattern's source for JSON Schema, which has no flags. */
function patternSource(pattern: RegExp): string {
  if (pattern.flags !== "") {
    throw new Error(`shape pattern ${pattern} has flags; JSON Schema patterns cannot`);
  }
  return pattern.source;
}

/** A pattern matching any of `words` whatever their case: `[Aa][Bb]…`. */
function anyCase(words: readonly string[]): string {
  const letter = (c: string) =>
    c.toLowerCase() === c.toUpperCase()
      ? c.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")
      : `[${c.toUpperCase()}${c.toLowerCase()}]`;
  return `^(?:${words.map((word) => [...word].map(letter).join("")).join("|")})$`;
}

/** The largest integer JSON and YAML carry exactly. */
const SAFE_MAX = Number.MAX_SAFE_INTEGER;

/**
 * The JSON Schema (draft 2020-12) of a shape: what an editor checks and
 * completes. `u64` strings are matched by form; whether one fits in 64
 * bits is the validator's to say.
 *
 * @param shape The shape.
 * @returns The schema, plain JSON.
 */
export function shapeJsonSchema(shape: Shape): Record<string, unknown> {
  const about = {
    ...(shape.description === undefined ? {} : { description: shape.description }),
    ...(shape.default === undefined ? {} : { default: shape.default }),
  };
  const orNull = (type: string, nullable?: boolean) => nullable ? [type, "null"] : type;
  switch (shape.kind) {
    case "map":
      return {
        ...about,
        type: orNull("object", shape.nullable),
        properties: Object.fromEntries(
          Object.entries(shape.properties).map(([key, s]) => [key, shapeJsonSchema(s)]),
        ),
        ...(shape.required === undefined || shape.required.length === 0
          ? {}
          : { required: [...shape.required] }),
        additionalProperties: shape.values === undefined
          ? false
          : shape.values === "any"
          ? true
          : shapeJsonSchema(shape.values),
        ...(shape.keyPattern === undefined
          ? {}
          : { propertyNames: { pattern: patternSource(shape.keyPattern) } }),
      };
    case "list":
      return {
        ...about,
        type: orNull("array", shape.nullable),
        items: shapeJsonSchema(shape.items),
        ...(shape.unique === undefined ? {} : { uniqueItems: true }),
      };
    case "string":
      return {
        ...about,
        type: "string",
        minLength: 1,
        ...(shape.pattern === undefined ? {} : { pattern: patternSource(shape.pattern) }),
      };
    case "integer":
      return { ...about, type: "integer", minimum: shape.min, maximum: shape.max };
    case "boolean":
      return { ...about, type: "boolean" };
    case "choice": {
      const strings = shape.values.filter((v): v is string => typeof v === "string");
      if (!shape.ignoreCase || strings.length === 0) return { ...about, enum: [...shape.values] };
      // The names as written, for completion; any case, as the validator takes them.
      return {
        ...about,
        anyOf: [{ enum: [...shape.values] }, { type: "string", pattern: anyCase(strings) }],
      };
    }
    case "u64":
      return {
        ...about,
        anyOf: [
          { type: "integer", minimum: 0, maximum: SAFE_MAX },
          { type: "string", pattern: "^\\s*(?:0[xX][0-9a-fA-F_]+|[0-9_]+)\\s*$" },
        ],
      };
    case "either":
      return { ...about, anyOf: shape.of.map(shapeJsonSchema) };
  }
}

/**
 * A small JSON Schema (draft 2020-12) validator for the keywords the
 * manifest's schema uses, written from the specification, independently of
 * the generator: `type`, `properties`, `required`, `additionalProperties`,
 * `propertyNames`, `items`, `uniqueItems`, `enum`, `const`, `anyOf`,
 * `allOf`, `if`/`then`/`else`, `pattern`, `minLength`, `minimum`,
 * `maximum`, and the annotations `$schema`, `title`, `description`,
 * `default`. Any other keyword is an error: a schema this cannot read is
 * not silently taken as valid.
 */

type Schema = boolean | { [keyword: string]: unknown };

const ANNOTATIONS = new Set(["$schema", "title", "description", "default"]);
const KEYWORDS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "uniqueItems",
  "enum",
  "const",
  "anyOf",
  "allOf",
  "if",
  "then",
  "else",
  "pattern",
  "minLength",
  "minimum",
  "maximum",
]);

/** Every keyword {@linkcode validate} reads. */
export const SUPPORTED_KEYWORDS: ReadonlySet<string> = new Set([...KEYWORDS, ...ANNOTATIONS]);

/** One violation: where in the instance, and which keyword. */
export interface Violation {
  readonly at: string;
  readonly keyword: string;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

/** JSON equality, as `enum`, `const` and `uniqueItems` compare. */
function equal(a: unknown, b: unknown): boolean {
  if (typeOf(a) !== typeOf(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => equal(item, other[i]));
  }
  if (typeof a === "object" && a !== null) {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    const keys = Object.keys(x);
    return keys.length === Object.keys(y).length &&
      keys.every((key) => Object.hasOwn(y, key) && equal(x[key], y[key]));
  }
  return a === b;
}

/**
 * Validates an instance against a schema.
 *
 * @param schema The schema.
 * @param value The instance (plain JSON).
 * @param at The instance path, for violations.
 * @returns The violations; empty when valid.
 */
export function validate(schema: Schema, value: unknown, at = ""): Violation[] {
  if (schema === true) return [];
  if (schema === false) return [{ at, keyword: "false" }];
  const out: Violation[] = [];
  const fail = (keyword: string) => out.push({ at, keyword });
  for (const keyword of Object.keys(schema)) {
    if (!KEYWORDS.has(keyword) && !ANNOTATIONS.has(keyword)) {
      throw new Error(`unsupported JSON Schema keyword "${keyword}" at ${at || "/"}`);
    }
  }
  const s = schema as Record<string, unknown>;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type as string[] : [s.type as string];
    if (!types.some((type) => hasType(value, type))) fail("type");
  }
  if (s.enum !== undefined && !(s.enum as unknown[]).some((v) => equal(v, value))) fail("enum");
  if ("const" in s && !equal(s.const, value)) fail("const");
  if (typeof value === "string") {
    if (s.minLength !== undefined && [...value].length < (s.minLength as number)) {
      fail("minLength");
    }
    if (s.pattern !== undefined && !new RegExp(s.pattern as string, "u").test(value)) {
      fail("pattern");
    }
  }
  if (typeof value === "number") {
    if (s.minimum !== undefined && value < (s.minimum as number)) fail("minimum");
    if (s.maximum !== undefined && value > (s.maximum as number)) fail("maximum");
  }
  if (Array.isArray(value)) {
    if (s.items !== undefined) {
      value.forEach((item, i) => out.push(...validate(s.items as Schema, item, `${at}/${i}`)));
    }
    if (s.uniqueItems === true) {
      if (value.some((item, i) => value.slice(0, i).some((prior) => equal(prior, item)))) {
        fail("uniqueItems");
      }
    }
  }
  if (typeOf(value) === "object") {
    const object = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of (s.required ?? []) as string[]) {
      if (!Object.hasOwn(object, key)) out.push({ at: `${at}/${key}`, keyword: "required" });
    }
    for (const [key, item] of Object.entries(object)) {
      if (s.propertyNames !== undefined) {
        out.push(...validate(s.propertyNames as Schema, key, `${at}/${key}`));
      }
      if (Object.hasOwn(properties, key)) {
        out.push(...validate(properties[key]!, item, `${at}/${key}`));
      } else if (s.additionalProperties !== undefined) {
        out.push(...validate(s.additionalProperties as Schema, item, `${at}/${key}`));
      }
    }
  }
  if (s.anyOf !== undefined) {
    if (!(s.anyOf as Schema[]).some((sub) => validate(sub, value, at).length === 0)) fail("anyOf");
  }
  for (const sub of (s.allOf ?? []) as Schema[]) out.push(...validate(sub, value, at));
  if (s.if !== undefined) {
    const branch = validate(s.if as Schema, value, at).length === 0 ? s.then : s.else;
    if (branch !== undefined) out.push(...validate(branch as Schema, value, at));
  }
  return out;
}

/**
 * The manifest's JSON Schema (draft 2020-12), generated from the shapes
 * the validators check: {@linkcode MANIFEST_SHAPE} for the manifest, and
 * each built-in plugin's options shape for `backend.options` when
 * `backend.plugin` names it (`if`/`then`); a module plugin's options may be
 * any map. `deno task schema` writes it to
 * `manifest/rvhv-manifest.schema.json`, which editors read through the
 * first line of a manifest:
 *
 * ```yaml
 * # yaml-language-server: $schema=../manifest/rvhv-manifest.schema.json
 * ```
 *
 * The schema checks the form; rvhv also checks what a schema cannot say
 * (ISA strings, 64-bit ranges, options that exclude each other, hart ids
 * the backend lacks), with the file, line and column.
 *
 * @module
 */

import { shapeJsonSchema } from "../hal/_shape.ts";
import { BUILTIN_PLUGINS } from "./registry.ts";
import { MANIFEST_SHAPE } from "./schema.ts";

/**
 * Where the schema is committed, relative to the repository root.
 *
 * @example Usage
 * ```ts
 * import { MANIFEST_SCHEMA_PATH } from "./json_schema.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(MANIFEST_SCHEMA_PATH.endsWith(".schema.json"));
 * ```
 */
export const MANIFEST_SCHEMA_PATH = "manifest/rvhv-manifest.schema.json";

/**
 * The manifest's JSON Schema.
 *
 * @example Usage
 * ```ts
 * import { manifestJsonSchema } from "./json_schema.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const schema = await manifestJsonSchema();
 * deepStrictEqual(schema.required, ["version", "backend"]);
 * ```
 *
 * @returns The schema, plain JSON.
 * @throws {Error} When a built-in plugin states no `optionsSchema`.
 */
export async function manifestJsonSchema(): Promise<Record<string, unknown>> {
  const root = shapeJsonSchema(MANIFEST_SHAPE) as {
    properties: { backend: Record<string, unknown> };
  };
  root.properties.backend.allOf = await Promise.all(
    [...BUILTIN_PLUGINS].map(async ([name, load]) => {
      const options = (await load()).optionsSchema;
      if (options === undefined) throw new Error(`built-in plugin "${name}" has no optionsSchema`);
      return {
        if: { properties: { plugin: { const: name } }, required: ["plugin"] },
        then: { properties: { options } },
      };
    }),
  );
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "rvhv manifest",
    description: "A backend, its options and the per-CPU set-up of its harts (docs/manifest.md). " +
      "rvhv checks more than this schema: ISA strings, 64-bit ranges, hart ids the backend lacks.",
    ...root,
  };
}

/**
 * The schema file's text: what `deno task schema` writes and a test
 * compares with the committed file.
 *
 * @example Usage
 * ```ts
 * import { manifestSchemaText } from "./json_schema.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(JSON.parse(await manifestSchemaText()).title, "rvhv manifest");
 * ```
 *
 * @returns The JSON, two-space indented, with a final newline.
 */
export async function manifestSchemaText(): Promise<string> {
  return JSON.stringify(await manifestJsonSchema(), null, 2) + "\n";
}

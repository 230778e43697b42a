#!/usr/bin/env -S deno run --allow-write=manifest/rvhv-manifest.schema.json
/**
 * Writes the manifest's JSON Schema, `manifest/rvhv-manifest.schema.json`,
 * generated from the shapes the manifest and plugin validators check
 * (`manifest/json_schema.ts`). `tests/schema/manifest_schema_test.ts` fails
 * when the committed file differs from what this writes now.
 *
 * ```sh
 * deno task schema
 * ```
 *
 * @module
 */

import { MANIFEST_SCHEMA_PATH, manifestSchemaText } from "../manifest/json_schema.ts";

const path = new URL(`../${MANIFEST_SCHEMA_PATH}`, import.meta.url);
await Deno.writeTextFile(path, await manifestSchemaText());
console.log(`wrote ${MANIFEST_SCHEMA_PATH}`);

/**
 * The package version, kept equal to `deno.json`'s (a test checks it).
 *
 * @module
 */

/**
 * The version of `@rvhv/percpu`; recorded traces name it in their `tool`
 * field.
 *
 * @example Usage
 * ```ts
 * import { VERSION } from "@rvhv/percpu";
 * import { match } from "node:assert/strict";
 *
 * match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION: string = "0.1.0";

/**
 * The package version, kept equal to `deno.json`'s (a test checks it).
 *
 * @module
 */

/** The version of `@rvhv/percpu`. */
export const VERSION: string = "0.1.0";

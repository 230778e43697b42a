/**
 * The check every manifest test makes of a refusal: a `ManifestError` at
 * this line and key path, whose message says this.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ManifestError } from "../../hal/errors.ts";

/**
 * A matcher for `rejects`/`throws`: the error is a `ManifestError` at
 * `line`, with key path `path`, and its message matches `detail`.
 *
 * @param line The 1-based line.
 * @param path The key path.
 * @param detail What the message says.
 * @returns The matcher.
 */
export function manifestErrorAt(
  line: number,
  path: readonly (string | number)[],
  detail: RegExp,
): (error: unknown) => true {
  return (error: unknown) => {
    ok(error instanceof ManifestError, `expected ManifestError, got ${error}`);
    strictEqual(error.line, line, error.message);
    deepStrictEqual(error.path, path.map(String));
    ok(detail.test(error.message), `${error.message} should match ${detail}`);
    return true;
  };
}

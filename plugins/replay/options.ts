/**
 * The replay plugin's options and their validation.
 *
 * @module
 */

import {
  describeValue,
  integerOption,
  objectOption,
  rejectUnknownKeys,
} from "../../hal/_options.ts";
import { invalidOption } from "../../hal/errors.ts";
import { DEFAULT_LOOKAHEAD } from "../../trace/reader.ts";

/**
 * Options of `plugin: replay`, as written in code or YAML.
 *
 * @example Usage
 * ```ts
 * import replayPlugin from "@rvhv/percpu/replay";
 * import { type ReplayOptions } from "./options.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const options: ReplayOptions = { path: "run.jsonl", lookahead: 4096 };
 * deepStrictEqual(replayPlugin.parseOptions(options), {
 *   path: "run.jsonl", strict: true, lookahead: 4096,
 * });
 * ```
 */
export interface ReplayOptions {
  /** The trace file (relative paths resolve against the working directory). */
  path: string;
  /** Whether events left unconsumed at `close()` are an error. Default `true`. */
  strict?: boolean;
  /** How many events replay may hold in memory at once. Default 65536. */
  lookahead?: number;
}

/**
 * Validated replay options with every default filled in.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_LOOKAHEAD } from "../../trace/reader.ts";
 * import { parseReplayOptions, type ResolvedReplayOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const resolved: ResolvedReplayOptions = parseReplayOptions({ path: "run.jsonl", strict: false });
 * strictEqual(resolved.strict, false);
 * strictEqual(resolved.lookahead, DEFAULT_LOOKAHEAD);
 * ```
 */
export interface ResolvedReplayOptions {
  /** The trace file. */
  readonly path: string;
  /** Whether unconsumed events are an error. */
  readonly strict: boolean;
  /** The lookahead bound. */
  readonly lookahead: number;
}

const OPTION_KEYS = ["path", "strict", "lookahead"];

/**
 * Validates replay options and fills in the defaults.
 *
 * @example Usage
 * ```ts
 * import { parseReplayOptions } from "./options.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(parseReplayOptions({ path: "run.jsonl" }), {
 *   path: "run.jsonl", strict: true, lookahead: 65536,
 * });
 * ```
 *
 * @param raw Options from code or from a manifest's `backend.options`.
 * @returns The resolved options.
 * @throws {TypeError} With a `path` naming the offending option.
 */
export function parseReplayOptions(raw: unknown): ResolvedReplayOptions {
  const options = objectOption(raw, []);
  rejectUnknownKeys(options, OPTION_KEYS, []);
  if (typeof options.path !== "string" || options.path === "") {
    throw invalidOption(
      ["path"],
      options.path === undefined
        ? 'the replay plugin needs "path", the trace file to replay'
        : `expected a trace file path, got ${describeValue(options.path)}`,
    );
  }
  if (options.strict !== undefined && typeof options.strict !== "boolean") {
    throw invalidOption(["strict"], `expected true or false, got ${describeValue(options.strict)}`);
  }
  return {
    path: options.path,
    strict: options.strict ?? true,
    lookahead: integerOption(
      options.lookahead,
      ["lookahead"],
      { min: 1, max: 1 << 30 },
      DEFAULT_LOOKAHEAD,
    ),
  };
}

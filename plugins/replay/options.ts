/**
 * The replay plugin's options and their validation.
 *
 * @module
 */

import { boolean, checkOptions, integer, map, type MapShape, text } from "../../hal/_shape.ts";
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

/** Whether unconsumed events are an error when none is said. */
const DEFAULT_STRICT = true;

/**
 * The replay plugin's options: their forms, defaults and meanings, as
 * `parseReplayOptions` checks them and the manifest's JSON Schema says
 * them (`manifest/rvhv-manifest.schema.json`).
 *
 * @example Usage
 * ```ts
 * import { REPLAY_OPTIONS_SHAPE } from "./options.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(REPLAY_OPTIONS_SHAPE.required, ["path"]);
 * ```
 */
export const REPLAY_OPTIONS_SHAPE: MapShape = map({
  path: text({
    expected: "a trace file path",
    description: "The trace file (relative paths resolve against the working directory).",
  }),
  strict: boolean({
    default: DEFAULT_STRICT,
    description: "Whether events left unconsumed at close() are an error.",
  }),
  lookahead: integer(1, 1 << 30, {
    default: DEFAULT_LOOKAHEAD,
    description: "How many events replay may hold in memory at once.",
  }),
}, {
  required: ["path"],
  hints: { path: 'add "path: <trace.jsonl>", the trace file to replay' },
  nullable: true,
});

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
  checkOptions(REPLAY_OPTIONS_SHAPE, raw);
  const options = raw as ReplayOptions;
  return {
    path: options.path,
    strict: options.strict ?? DEFAULT_STRICT,
    lookahead: options.lookahead ?? DEFAULT_LOOKAHEAD,
  };
}

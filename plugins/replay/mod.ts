/**
 * Record and replay: write every CSR access of a run on any backend to a
 * trace (`recordHal`), answer a later run from that trace with no emulator
 * or QEMU behind it (`createReplayHal`, `plugin: replay`), and say exactly
 * where a run departs from its recording (`TraceDivergence`), where two
 * recordings part (`diffTraces`) and how two live systems differ
 * (`diffStates`).
 *
 * Traces are JSON Lines (`rvhv-trace` version 1): a header on line 1, one
 * event per CSR access after it, values as lowercase `0x…` strings. Matching
 * is by hart, operation, CSR and operand, in per-hart order; harts may
 * interleave differently from the recording within the lookahead bound
 * (65,536 events held in memory at most by default), which keeps memory
 * constant whatever the trace's length.
 *
 * Exports: `createReplayHal`, `ReplayHal`, its options and the default
 * plugin. Recording and the diffs are core (`@rvhv/percpu`): `recordHal`,
 * `RecordingHal`, `diffTraces`, `diffStates`, `TraceReader`,
 * `readTraceHeader` and their result types are re-exported here too, where
 * users of record and replay look for them.
 *
 * Permissions: replaying and diffing need `--allow-read` for the trace
 * files; recording needs `--allow-write` (and `--allow-read`) for the
 * trace's folder. `diffStates` needs only what its backends need.
 *
 * @example Record a run, then replay it strictly
 * ```ts
 * import { createReplayHal, recordHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet, TraceDivergence } from "@rvhv/percpu";
 * import { rejects } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * const recording = await recordHal(await createEmulatorHal({ harts: 4 }), { path });
 * await (await PerCpuSet.init(recording)).enableAll();
 * await recording.close();
 *
 * // The same code runs against the trace alone, and uses every event of it.
 * const replay = await createReplayHal({ path, strict: true });
 * await (await PerCpuSet.init(replay)).enableAll();
 * await replay.close();
 *
 * // Different code departs from the recording at its first different access.
 * const kvm = await createReplayHal({ path, strict: false });
 * await rejects(PerCpuSet.init(kvm, { policy: "kvm" }), TraceDivergence);
 * await kvm.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import type { HalPlugin } from "../../hal/types.ts";
import { parseReplayOptions, REPLAY_OPTIONS_SHAPE, type ResolvedReplayOptions } from "./options.ts";
import { shapeJsonSchema } from "../../hal/_shape.ts";
import { createReplayHal, type ReplayHal } from "./replay_hal.ts";

export { createReplayHal, ReplayHal } from "./replay_hal.ts";
export {
  diffStates,
  diffTraces,
  readTraceHeader,
  recordHal,
  RecordingHal,
  type StateDiff,
  type TraceDiff,
  type TraceEvent,
  type TraceHeader,
  TraceReader,
} from "../../trace/mod.ts";

/**
 * Replay as a plugin: what `backend.plugin: replay` loads. Options: `path`
 * (the trace, required), `strict` (default `true`), `lookahead` (default
 * 65536).
 *
 * Requires `--allow-read` for the trace file.
 *
 * @example Usage
 * ```ts
 * import replayPlugin from "@rvhv/percpu/replay";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => replayPlugin.parseOptions({}), /missing option "path"/);
 * ```
 */
const replayPlugin: HalPlugin = Object.freeze({
  name: "replay",
  describe: "answers every CSR access from a recorded trace; no emulator or QEMU needed",
  permissions: Object.freeze(["--allow-read"]) as readonly string[],
  parseOptions: parseReplayOptions,
  optionsSchema: shapeJsonSchema(REPLAY_OPTIONS_SHAPE),
  create(options: unknown): Promise<ReplayHal> {
    // parseOptions made these: the manifest loader always passes its result.
    return createReplayHal(options as ResolvedReplayOptions);
  },
});

export default replayPlugin;

/**
 * Traces: the `rvhv-trace` format, its reader and writer, the recorder that
 * wraps any backend, and the trace and state diffs. Core, not a plugin: every
 * backend can be recorded, and the replay plugin only serves a trace back.
 *
 * @module
 */

export { recordHal, RecordingHal } from "./recorder.ts";
export { diffStates, diffTraces, type StateDiff, type TraceDiff } from "./diff.ts";
export type { TraceEvent, TraceHeader } from "./format.ts";
export { readTraceHeader, TraceReader } from "./reader.ts";

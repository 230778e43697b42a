/**
 * `recordHal`: wraps any backend and writes every CSR access it serves to a
 * trace, changing nothing else.
 *
 * Requires `--allow-write` and `--allow-read` for the trace's folder.
 *
 * @module
 */

import { BackendHal, type CheckedCsrOp, type HalBackend } from "../hal/backend_hal.ts";
import { registerWordRunner, syncBatchOf, type WordPort, wordPortOf } from "../hal/_sync_batch.ts";
import { OP_KIND, type WordBatch, type WordResults, type WordRunner } from "../hal/_word_batch.ts";
import type { AxVCpuHal, CsrResult, HalInfo, HartId, TraceRecording } from "../hal/types.ts";
import { VERSION } from "../version.ts";
import { toJsonValue } from "../hal/hex.ts";
import { TRACE_FORMAT, TRACE_VERSION, type TraceHeader } from "./format.ts";
import { TraceWriter } from "./writer.ts";

/**
 * The header for a recording of `inner`: what {@linkcode recordHal} writes
 * on line 1, and what a hand-written trace ({@linkcode TraceWriter}) starts
 * with.
 *
 * @example Usage
 * ```ts
 * import { headerFor } from "./recorder.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 2, profile: "qemu-7.2" });
 * const header = headerFor(hal);
 * strictEqual(header.backend, "emulator");
 * strictEqual(header.profile, "qemu-7.2");
 * deepStrictEqual(header.harts, [0, 1]);
 * match(header.tool, /^@rvhv\/percpu@/);
 * await hal.close();
 * ```
 *
 * @param inner The recorded backend.
 * @param manifest The manifest, if any.
 * @returns The header.
 */
export function headerFor(inner: AxVCpuHal, manifest?: object): TraceHeader {
  const info = toJsonValue(inner.info()) as HalInfo;
  let recordedManifest: Record<string, unknown> | undefined;
  if (manifest !== undefined) {
    recordedManifest = toJsonValue(manifest) as Record<string, unknown>;
    delete recordedManifest.record;
  }
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    backend: info.backend,
    isa: info.isa,
    ...(typeof info.profile === "string" ? { profile: info.profile } : {}),
    ...(typeof info.firmware === "string" ? { firmware: info.firmware } : {}),
    harts: [...inner.harts],
    info,
    ...(recordedManifest === undefined ? {} : { manifest: recordedManifest }),
    created: new Date().toISOString(),
    tool: `@rvhv/percpu@${VERSION}`,
  };
}

/** Appends a batch's accesses to the trace, in operation order. */
function append(
  writer: TraceWriter,
  hart: HartId,
  ops: readonly CheckedCsrOp[],
  results: CsrResult[],
): CsrResult[] {
  if (writer.finished) return results;
  const n = Math.min(ops.length, results.length);
  for (let k = 0; k < n; k++) {
    const op = ops[k]!;
    const result = results[k]!;
    const arg = op.op === "read" ? undefined : op.value;
    if (result.ok) writer.append(hart, op.op, op.csr, arg, result.value, undefined);
    else writer.append(hart, op.op, op.csr, arg, undefined, result.trapCause);
  }
  return results;
}

/**
 * Records the word batches an in-process backend runs: each batch runs on
 * the inner backend's word port and its operations are appended from the
 * words, with no object or `bigint` per access.
 */
class RecordingRunner implements WordRunner {
  #inner: WordPort;
  #writer: TraceWriter;

  constructor(inner: WordPort, writer: TraceWriter) {
    this.#inner = inner;
    this.#writer = writer;
  }

  runWords(hart: HartId, batch: WordBatch, results: WordResults, at = 0): number {
    const writer = this.#writer;
    let traps: number;
    try {
      traps = this.#inner.run(hart, batch, results, at);
    } catch (error) {
      // Not a trap: nothing reached a hart, so nothing is recorded.
      writer.flushQuietly();
      throw error;
    }
    if (writer.finished) return traps;
    const { kinds, csrs, operands } = batch;
    const { words, causes } = results;
    for (let k = 0; k < batch.length; k++) {
      const cause = causes[k]!;
      writer.appendWords(
        hart,
        kinds[k]!,
        csrs[k]!,
        kinds[k] !== OP_KIND.read,
        operands[2 * k]!,
        operands[2 * k + 1]!,
        words[at + 2 * k]!,
        words[at + 2 * k + 1]!,
        cause === 0 ? -1 : cause,
      );
    }
    return traps;
  }
}

/**
 * A backend that records: every CSR access served by `inner` is appended to
 * a trace; everything else is forwarded unchanged (same results, same
 * `info()`, frames, translation, interrupts).
 *
 * Accesses that fail without reaching a hart (an unknown hart, an invalid
 * argument, a backend failure) are not recorded; the trace is flushed when
 * they happen. `close()` closes the inner backend, then finishes the trace.
 *
 * @example Usage
 * ```ts
 * import { recordHal, type RecordingHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const hal: RecordingHal = await recordHal(await createEmulatorHal(), { path: `${dir}/run.jsonl` });
 * await hal.csr.write(0, CSR.sscratch, 5n);
 * strictEqual(hal.recording.events, 1);
 * deepStrictEqual(await hal.recording.readEvents(), [
 *   { i: 0, hart: 0, op: "write", csr: "sscratch", num: "0x140", arg: "0x5", ret: "0x0" },
 * ]);
 * strictEqual(hal.info().backend, "emulator"); // forwarded unchanged
 * await hal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RecordingHal extends BackendHal {
  /** The recorded backend. */
  readonly inner: AxVCpuHal;
  /** The trace's header. */
  readonly header: TraceHeader;
  /** The trace being written. */
  readonly recording: TraceRecording;

  /**
   * Wraps a backend; prefer {@linkcode recordHal}.
   *
   * @param inner The backend to record.
   * @param writer Where the events go.
   * @param header The header the writer wrote.
   */
  constructor(inner: AxVCpuHal, writer: TraceWriter, header: TraceHeader) {
    const sync = syncBatchOf(inner.csr);
    const backend: HalBackend = {
      name: inner.info().backend,
      harts: inner.harts,
      info: () => inner.info(),
      synchronous: sync !== undefined,
      run: sync !== undefined
        ? (hart, ops) => {
          try {
            return append(writer, hart, ops, sync(hart, ops));
          } catch (error) {
            writer.flushQuietly();
            throw error;
          }
        }
        : (hart, ops) =>
          inner.csr.batch(hart, ops).then(
            (results) => append(writer, hart, ops, results),
            (error) => {
              // Not a trap: nothing reached a hart, so nothing is recorded.
              writer.flushQuietly();
              throw error;
            },
          ),
      memory: inner,
      irqFetch: () => inner.irqFetch(),
      async close() {
        try {
          await inner.close();
        } finally {
          // The trace is finished even when the inner backend fails to close.
          writer.finish();
        }
      },
    };
    // An in-process inner backend is recorded in words too, so the per-CPU core's word
    // form reaches it through the recording.
    const words = wordPortOf(inner.csr);
    if (words !== undefined) registerWordRunner(backend, new RecordingRunner(words, writer));
    super(backend);
    this.inner = inner;
    this.header = header;
    this.recording = Object.freeze({
      get path(): string {
        return writer.path;
      },
      get events(): number {
        return writer.events;
      },
      async readEvents(limit = Infinity): Promise<Record<string, unknown>[]> {
        if (!writer.finished) writer.flush();
        const text = await Deno.readTextFile(writer.finished ? writer.path : writer.partialPath);
        const lines = text.split("\n").slice(1).filter((line) => line !== "");
        return lines.slice(Math.max(0, lines.length - limit)).map((line) => JSON.parse(line));
      },
    });
  }
}

/**
 * Wraps a backend so that every CSR access it serves is recorded to a trace
 * at `path` (DESIGN's `rvhv-trace` format). Events go to `<path>.partial`
 * in batches; `close()` renames it to `<path>`. If the run dies of an
 * exception first, the partial file holds every event recorded until then.
 * Nothing here handles signals: close the backend to finish the trace.
 *
 * Batches are recorded as their member operations, each with the value the
 * hart returned or the trap it raised; single operations as one-operation
 * batches. The recording is synchronous exactly when the inner backend is.
 *
 * Requires `--allow-write` and `--allow-read` for the trace's folder.
 *
 * @example Record the set-up of two emulated harts
 * ```ts
 * import { readTraceHeader, recordHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * const hal = await recordHal(await createEmulatorHal({ harts: 2 }), { path });
 * const harts = await PerCpuSet.init(hal);
 * await harts.enableAll();
 * await harts.disableAll();
 * await hal.close(); // run.jsonl holds every CSR access of the set-up and the restore
 * strictEqual(hal.recording.events, 54);
 * strictEqual(readTraceHeader(path).harts.length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param inner The backend to record.
 * @param options The trace's path and the manifest for the header.
 * @returns The recording backend.
 * @throws {AxError} Kind `"NotFound"` or `"Io"` when the trace cannot be created.
 */
export function recordHal(inner: AxVCpuHal, options: {
  /** Where the trace goes; events are written to `<path>.partial` until `close()`. */
  path: string;
  /** The manifest the run was booted from; recorded in the header (without `record`). */
  manifest?: object;
}): Promise<RecordingHal> {
  try {
    const header = headerFor(inner, options.manifest);
    const writer = TraceWriter.create(options.path, header);
    return Promise.resolve(new RecordingHal(inner, writer, header));
  } catch (error) {
    return Promise.reject(error);
  }
}

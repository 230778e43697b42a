/**
 * `recordHal`: wraps any backend and writes every CSR access it serves to a
 * trace, changing nothing else.
 *
 * Requires `--allow-write` and `--allow-read` for the trace's folder.
 *
 * @module
 */

import { CsrTrap } from "../../hal/errors.ts";
import type {
  AxVCpuHal,
  CsrNum,
  CsrOp,
  CsrPort,
  CsrResult,
  HalInfo,
  HartId,
} from "../../hal/types.ts";
import { VERSION } from "../../version.ts";
import {
  jsonSafe,
  TRACE_FORMAT,
  TRACE_VERSION,
  type TraceHeader,
  type TraceOp,
} from "./trace_format.ts";
import { TraceWriter } from "./trace_writer.ts";

/**
 * Options of {@linkcode recordHal}.
 *
 * @example Usage
 * ```ts
 * import { readTraceHeader, recordHal, type RecordOptions } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const options: RecordOptions = {
 *   path: `${dir}/run.jsonl`,
 *   manifest: { version: 1, backend: { plugin: "emulator" }, record: "run.jsonl" },
 *   handleSigint: false, // this script finishes the trace itself
 * };
 * await (await recordHal(await createEmulatorHal(), options)).close();
 * // The header keeps the manifest, without its "record" key.
 * deepStrictEqual(readTraceHeader(options.path).manifest, { version: 1, backend: { plugin: "emulator" } });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface RecordOptions {
  /** Where the trace goes; events are written to `<path>.partial` until `close()`. */
  path: string;
  /** The manifest the run was booted from; recorded in the header (without `record`). */
  manifest?: object;
  /**
   * Finish the trace (rename it to `path`) and exit with code 130 on SIGINT.
   * Default `true`.
   */
  handleSigint?: boolean;
}

/** One access waiting for its turn to be written. */
type Access = [
  hart: HartId,
  op: TraceOp,
  csr: CsrNum,
  arg: bigint | undefined,
  ret: bigint | undefined,
  trap: number | undefined,
];

function isTrapOf(error: unknown, hart: HartId, csr: CsrNum): error is CsrTrap {
  return error instanceof CsrTrap && error.hart === hart && error.csr === csr;
}

/**
 * The header for a recording of `inner`: what {@linkcode recordHal} writes
 * on line 1, and what a hand-written trace ({@linkcode TraceWriter}) starts
 * with.
 *
 * @example Usage
 * ```ts
 * import { headerFor } from "@rvhv/percpu/replay";
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
  const info = jsonSafe(inner.info()) as HalInfo;
  let recordedManifest: Record<string, unknown> | undefined;
  if (manifest !== undefined) {
    recordedManifest = jsonSafe(manifest) as Record<string, unknown>;
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

/**
 * The CSR port of a {@linkcode RecordingHal}: forwards every call and
 * records what came back, in call order.
 */
class RecordingCsrPort implements CsrPort {
  readonly batchSync?: (hart: HartId, ops: readonly CsrOp[]) => CsrResult[];
  #inner: CsrPort;
  #writer: TraceWriter;
  /** Asynchronous calls get a number in call order; they are written in that order. */
  #nextCall = 0;
  #nextWrite = 0;
  /** Calls that settled before an earlier one: their accesses (`undefined`: nothing to record). */
  #early: Map<number, Access[] | undefined> = new Map();

  constructor(inner: CsrPort, writer: TraceWriter) {
    this.#inner = inner;
    this.#writer = writer;
    if (inner.batchSync !== undefined) this.batchSync = this.#batchSync;
  }

  read(hart: HartId, csr: CsrNum): Promise<bigint> {
    return this.#single(this.#inner.read(hart, csr), hart, "read", csr, undefined);
  }

  write(hart: HartId, csr: CsrNum, value: bigint): Promise<bigint> {
    return this.#single(this.#inner.write(hart, csr, value), hart, "write", csr, value);
  }

  set(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint> {
    return this.#single(this.#inner.set(hart, csr, mask), hart, "set", csr, mask);
  }

  clear(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint> {
    return this.#single(this.#inner.clear(hart, csr, mask), hart, "clear", csr, mask);
  }

  batch(hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> {
    const promise = this.#inner.batch(hart, ops);
    const snapshot = Array.isArray(ops) ? ops.slice() : [];
    const seq = this.#nextCall++;
    return promise.then(
      (results) => {
        this.#settle(seq, accessesOf(hart, snapshot, results));
        return results;
      },
      (error) => {
        this.#settle(seq, undefined);
        this.#writer.flushQuietly();
        throw error;
      },
    );
  }

  #batchSync(hart: HartId, ops: readonly CsrOp[]): CsrResult[] {
    let results: CsrResult[];
    try {
      results = this.#inner.batchSync!(hart, ops);
    } catch (error) {
      this.#writer.flushQuietly();
      throw error;
    }
    if (this.#nextWrite !== this.#nextCall) {
      // Asynchronous calls are in flight: take a place after them.
      this.#settle(this.#nextCall++, accessesOf(hart, ops, results));
      return results;
    }
    const writer = this.#writer;
    if (writer.finished) return results;
    const n = Math.min(ops.length, results.length);
    for (let k = 0; k < n; k++) {
      const op = ops[k]!;
      const result = results[k]!;
      if (result.ok) {
        writer.append(
          hart,
          op.op,
          op.csr,
          op.op === "read" ? undefined : op.value,
          result.value,
          undefined,
        );
      } else {
        writer.append(
          hart,
          op.op,
          op.csr,
          op.op === "read" ? undefined : op.value,
          undefined,
          result.trapCause,
        );
      }
    }
    return results;
  }

  /** Writes the accesses that settled early, in call order; what is still in flight is lost. */
  drainAll(): void {
    for (const seq of [...this.#early.keys()].sort((a, b) => a - b)) {
      this.#write(this.#early.get(seq));
    }
    this.#early.clear();
    this.#nextWrite = this.#nextCall;
  }

  #single(
    promise: Promise<bigint>,
    hart: HartId,
    op: TraceOp,
    csr: CsrNum,
    arg: bigint | undefined,
  ): Promise<bigint> {
    const seq = this.#nextCall++;
    return promise.then(
      (value) => {
        if (seq === this.#nextWrite && this.#early.size === 0) {
          // The usual case, one access at a time: straight to the writer.
          this.#nextWrite++;
          if (!this.#writer.finished) this.#writer.append(hart, op, csr, arg, value, undefined);
        } else {
          this.#settle(seq, [[hart, op, csr, arg, value, undefined]]);
        }
        return value;
      },
      (error) => {
        if (isTrapOf(error, hart, csr)) {
          this.#settle(seq, [[hart, op, csr, arg, undefined, error.trapCause]]);
        } else {
          // Not a trap: nothing reached a hart, so nothing is recorded.
          this.#settle(seq, undefined);
          this.#writer.flushQuietly();
        }
        throw error;
      },
    );
  }

  #settle(seq: number, accesses: Access[] | undefined): void {
    if (seq !== this.#nextWrite) {
      this.#early.set(seq, accesses);
      return;
    }
    this.#write(accesses);
    this.#nextWrite++;
    while (this.#early.has(this.#nextWrite)) {
      this.#write(this.#early.get(this.#nextWrite));
      this.#early.delete(this.#nextWrite);
      this.#nextWrite++;
    }
  }

  #write(accesses: Access[] | undefined): void {
    if (accesses === undefined || this.#writer.finished) return;
    for (const [hart, op, csr, arg, ret, trap] of accesses) {
      this.#writer.append(hart, op, csr, arg, ret, trap);
    }
  }
}

function accessesOf(
  hart: HartId,
  ops: readonly CsrOp[],
  results: readonly CsrResult[],
): Access[] {
  const n = Math.min(ops.length, results.length);
  const accesses = new Array<Access>(n);
  for (let k = 0; k < n; k++) {
    const op = ops[k]!;
    const result = results[k]!;
    accesses[k] = [
      hart,
      op.op,
      op.csr,
      op.op === "read" ? undefined : op.value,
      result.ok ? result.value : undefined,
      result.ok ? undefined : result.trapCause,
    ];
  }
  return accesses;
}

/**
 * A backend that records: every CSR access served by `inner` is appended to
 * a trace; everything else is forwarded unchanged (same results, same
 * errors, same `info()`, frames, translation, interrupts).
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
 * strictEqual(hal.events, 1);
 * deepStrictEqual(await hal.readEvents(), [
 *   { i: 0, hart: 0, op: "write", csr: "sscratch", num: "0x140", arg: "0x5", ret: "0x0" },
 * ]);
 * strictEqual(hal.info().backend, "emulator"); // forwarded unchanged
 * await hal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RecordingHal implements AxVCpuHal {
  /** The recorded backend. */
  readonly inner: AxVCpuHal;
  /** CSR access that records. */
  readonly csr: CsrPort;
  /** The trace's header. */
  readonly header: TraceHeader;
  #writer: TraceWriter;
  #port: RecordingCsrPort;
  #closing: Promise<void> | undefined;

  /**
   * Wraps a backend; prefer {@linkcode recordHal}.
   *
   * @param inner The backend to record.
   * @param writer Where the events go.
   * @param header The header the writer wrote.
   */
  constructor(inner: AxVCpuHal, writer: TraceWriter, header: TraceHeader) {
    this.inner = inner;
    this.header = header;
    this.#writer = writer;
    this.#port = new RecordingCsrPort(inner.csr, writer);
    this.csr = this.#port;
  }

  /** The inner backend's harts. */
  get harts(): readonly HartId[] {
    return this.inner.harts;
  }

  /** The trace's final path. */
  get path(): string {
    return this.#writer.path;
  }

  /** How many events were recorded so far. */
  get events(): number {
    return this.#writer.events;
  }

  /**
   * The events recorded so far, as the trace lines' JSON objects (what
   * `GET /api/trace` serves). Flushes first, then reads the partial file.
   *
   * Requires `--allow-read` for the trace.
   *
   * @param limit At most this many, the most recent.
   * @returns The events in recording order.
   */
  async readEvents(limit = Infinity): Promise<Record<string, unknown>[]> {
    const writer = this.#writer;
    if (!writer.finished) writer.flush();
    const text = await Deno.readTextFile(writer.finished ? writer.path : writer.partialPath);
    const lines = text.split("\n").slice(1).filter((line) => line !== "");
    return lines.slice(Math.max(0, lines.length - limit)).map((line) => JSON.parse(line));
  }

  /** The inner backend's `info()`. */
  info(): HalInfo {
    return this.inner.info();
  }

  /** Forwarded to the inner backend. */
  allocFrame(): bigint | undefined {
    return this.inner.allocFrame();
  }

  /** Forwarded to the inner backend. */
  deallocFrame(pa: bigint): void {
    this.inner.deallocFrame(pa);
  }

  /** Forwarded to the inner backend. */
  physToVirt(pa: bigint): bigint {
    return this.inner.physToVirt(pa);
  }

  /** Forwarded to the inner backend. */
  virtToPhys(va: bigint): bigint {
    return this.inner.virtToPhys(va);
  }

  /** Forwarded to the inner backend. */
  irqFetch(): number {
    return this.inner.irqFetch();
  }

  /**
   * Closes the inner backend, then finishes the trace (flush, rename
   * `<path>.partial` to `<path>`). Idempotent. The trace is finished even
   * when the inner backend fails to close; that error is then rethrown.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      let failure: { error: unknown } | undefined;
      try {
        await this.inner.close();
      } catch (error) {
        failure = { error };
      }
      this.#port.drainAll();
      this.#writer.finish();
      if (failure !== undefined) throw failure.error;
    })();
    return this.#closing;
  }
}

/**
 * Wraps a backend so that every CSR access it serves is recorded to a trace
 * at `path` (DESIGN's `rvhv-trace` format). Events go to `<path>.partial`
 * in batches; `close()` (or SIGINT) renames it to `<path>`. If the run dies
 * of an exception first, the partial file holds every event recorded until
 * then.
 *
 * Batches are recorded as their member operations, each with the value the
 * hart returned or the trap it raised. The wrapped backend offers
 * `batchSync` exactly when the inner one does.
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
 * strictEqual(hal.events, 54);
 * strictEqual(readTraceHeader(path).harts.length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param inner The backend to record.
 * @param options The trace's path, the manifest for the header, SIGINT handling.
 * @returns The recording backend.
 * @throws {AxError} Kind `"NotFound"` or `"Io"` when the trace cannot be created.
 */
export function recordHal(inner: AxVCpuHal, options: RecordOptions): Promise<RecordingHal> {
  try {
    const header = headerFor(inner, options.manifest);
    const writer = TraceWriter.create(options.path, header, {
      handleSigint: options.handleSigint ?? true,
    });
    return Promise.resolve(new RecordingHal(inner, writer, header));
  } catch (error) {
    return Promise.reject(error);
  }
}

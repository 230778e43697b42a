/**
 * The replay backend: answers every CSR access from a trace, with no
 * emulator or QEMU behind it, and says exactly where a run departs from the
 * recording.
 *
 * Requires `--allow-read` for the trace file.
 *
 * @module
 */

import { BackendHal, type CheckedCsrOp } from "../../hal/backend_hal.ts";
import { AxError, TraceDivergence } from "../../hal/errors.ts";
import type { CsrNum, CsrResult, HalInfo, HartId } from "../../hal/types.ts";
import { describeRequest, type TraceEvent, type TraceHeader } from "../../trace/format.ts";
import { DEFAULT_LOOKAHEAD, TraceReader } from "../../trace/reader.ts";

/**
 * Options of {@linkcode createReplayHal}.
 *
 * @example Replay part of a trace
 * ```ts
 * import { createReplayHal, recordHal } from "@rvhv/percpu/replay";
 * import { type ReplayHalOptions } from "./replay_hal.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * const recording = await recordHal(await createEmulatorHal({ harts: 2 }), { path });
 * await PerCpuSet.init(recording);
 * await recording.close();
 *
 * const options: ReplayHalOptions = { path, strict: false, lookahead: 1024 };
 * const replay = await createReplayHal(options);
 * await PerCpuSet.init(replay, { harts: [0] }); // hart 1's events stay unused
 * strictEqual(replay.consumed, recording.recording.events / 2);
 * await replay.close(); // not strict: no error for the rest
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export type ReplayHalOptions = Parameters<typeof createReplayHal>[0];

/** The events of one hart read ahead and not yet consumed, oldest first. */
class HartQueue {
  items: TraceEvent[] = [];
  head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  at(k: number): TraceEvent | undefined {
    return this.items[this.head + k];
  }

  push(event: TraceEvent): void {
    this.items.push(event);
  }

  drop(n: number): void {
    this.head += n;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * A backend that answers from a trace.
 *
 * A request is matched against the next unconsumed event of its hart (per-hart
 * order is strict; harts may interleave differently from the recording) by
 * operation, CSR and operand; the event's value (or trap) is the answer. The
 * first request that differs rejects with `TraceDivergence` and consumes
 * nothing; its `index` is the `i` of the event the trace holds next for that
 * hart, or the trace's event count when it holds nothing more for it. Harts
 * and `info()` come from the trace's header; frames come from a local
 * allocator over the emulator's default RAM region.
 *
 * @example Usage
 * ```ts
 * import { createReplayHal, recordHal, type ReplayHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * const recording = await recordHal(await createEmulatorHal({ harts: 2 }), { path });
 * await recording.csr.write(1, CSR.sscratch, 7n);
 * await recording.close();
 *
 * const replay: ReplayHal = await createReplayHal({ path });
 * deepStrictEqual(replay.harts, [0, 1]);
 * strictEqual(replay.info().backend, "replay");
 * strictEqual(replay.info().recorded, "emulator");
 * strictEqual(await replay.csr.write(1, CSR.sscratch, 7n), 0n); // the recorded answer
 * strictEqual(replay.consumed, 1);
 * await replay.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ReplayHal extends BackendHal {
  /** The trace's header. */
  readonly header: TraceHeader;
  /** The trace file. */
  readonly path: string;
  /** Whether unconsumed events are an error at `close()`. */
  readonly strict: boolean;
  /** The lookahead bound. */
  readonly lookahead: number;
  #reader: TraceReader;
  #queues: Map<HartId, HartQueue>;
  #buffered = 0;
  #consumed = 0;
  #eof = false;
  #failed = false;

  /**
   * Wraps an open trace; prefer {@linkcode createReplayHal}.
   *
   * @param reader The trace, positioned at its first event.
   * @param options Strictness and the lookahead bound.
   */
  constructor(reader: TraceReader, options: Omit<ReplayHalOptions, "path"> = {}) {
    const lookahead = options.lookahead ?? DEFAULT_LOOKAHEAD;
    if (!Number.isSafeInteger(lookahead) || lookahead < 1) {
      throw new AxError(
        "InvalidInput",
        `Cannot replay ${reader.file}: lookahead must be a positive integer, got ${lookahead}`,
      );
    }
    const header = reader.header;
    const info: HalInfo = Object.freeze({
      ...header.info,
      backend: "replay",
      recorded: header.backend,
      trace: reader.file,
    });
    const self: { hal?: ReplayHal } = {};
    super({
      name: "replay",
      harts: header.harts,
      info: () => info,
      synchronous: true,
      run: (hart, ops) => self.hal!.#answer(hart, ops),
      close: () => self.hal!.#close(),
    });
    self.hal = this;
    this.#reader = reader;
    this.header = header;
    this.path = reader.file;
    this.strict = options.strict ?? true;
    this.lookahead = lookahead;
    this.#queues = new Map(this.harts.map((hart) => [hart, new HartQueue()]));
  }

  /** How many events the run has consumed. */
  get consumed(): number {
    return this.#consumed;
  }

  /**
   * The replay's progress: events consumed so far, and events read ahead
   * but not yet asked for.
   *
   * @returns The counters.
   */
  stats(): { consumed: number; buffered: number } {
    return { consumed: this.#consumed, buffered: this.#buffered };
  }

  /**
   * Closes the trace. In strict mode, events the run did not consume are an
   * error: the promise rejects with a `TraceDivergence` at the first of them
   * (unless the run already diverged or hit the lookahead bound: that error
   * is the one that matters). Idempotent.
   *
   * @throws {TraceDivergence} In strict mode, when events are left.
   * @throws {TraceFormatError} When the rest of the trace is malformed (strict mode reads it).
   */
  #close(): void {
    try {
      if (this.strict && !this.#failed) this.#checkConsumed();
    } finally {
      this.#reader.close();
      this.#queues.forEach((queue) => (queue.items = []));
    }
  }

  /** Throws a divergence at the first unconsumed event, counting the rest of the file. */
  #checkConsumed(): void {
    let first: TraceEvent | undefined;
    for (const queue of this.#queues.values()) {
      const head = queue.at(0);
      if (head !== undefined && (first === undefined || head.i < first.i)) first = head;
    }
    let left = this.#buffered;
    if (!this.#eof) {
      for (let event = this.#reader.next(); event !== undefined; event = this.#reader.next()) {
        first ??= event;
        left++;
      }
      this.#eof = true;
    }
    if (first === undefined) return;
    throw new TraceDivergence({
      file: this.path,
      index: first.i,
      hart: first.hart,
      csr: first.csr,
      expected: describeRequest(first.op, first.csr, first.arg),
      actual: `close() with ${left} event${left === 1 ? "" : "s"} left unconsumed`,
    });
  }

  /** The queue of `hart`, filled until it holds `count` events or the trace ends. */
  #fill(hart: HartId, count: number): HartQueue {
    const queue = this.#queues.get(hart)!;
    while (queue.size < count && !this.#eof) {
      if (this.#buffered >= this.lookahead) {
        this.#failed = true;
        throw new AxError(
          "InvalidData",
          `Cannot replay hart ${hart} from ${this.path}: its next event is not within the ` +
            `lookahead bound of ${this.lookahead} events held in memory (read up to line ${this.#reader.line}); ` +
            `the run asks this hart for more than the trace holds next, or the harts are ` +
            `interleaved further apart than the bound: replay with a larger "lookahead"`,
          { hart },
        );
      }
      let event: TraceEvent | undefined;
      try {
        event = this.#reader.next();
      } catch (error) {
        // A malformed line is the answer: close() must not bury it under a divergence.
        this.#failed = true;
        throw error;
      }
      if (event === undefined) {
        this.#eof = true;
        break;
      }
      this.#queues.get(event.hart)!.push(event);
      this.#buffered++;
    }
    return queue;
  }

  #diverge(
    hart: HartId,
    csr: CsrNum,
    event: TraceEvent | undefined,
    actual: string,
  ): TraceDivergence {
    this.#failed = true;
    return new TraceDivergence({
      file: this.path,
      index: event?.i ?? this.#reader.eventsRead,
      hart,
      csr,
      expected: event === undefined
        ? `end of trace for hart ${hart}`
        : describeRequest(event.op, event.csr, event.arg),
      actual,
    });
  }

  /** Answers a checked batch from the hart's next events; the first mismatch diverges. */
  #answer(hart: HartId, ops: readonly CheckedCsrOp[]): CsrResult[] {
    const n = ops.length;
    const queue = this.#fill(hart, n);
    for (let k = 0; k < n; k++) {
      const op = ops[k]!;
      const arg = op.op === "read" ? undefined : op.value;
      const event = queue.at(k);
      if (event === undefined || event.op !== op.op || event.csr !== op.csr || event.arg !== arg) {
        throw this.#diverge(hart, op.csr, event, describeRequest(op.op, op.csr, arg));
      }
    }
    const results = new Array<CsrResult>(n);
    for (let k = 0; k < n; k++) {
      const event = queue.at(k)!;
      results[k] = event.trap === undefined
        ? { ok: true, value: event.ret! }
        : { ok: false, trapCause: event.trap };
    }
    queue.drop(n);
    this.#buffered -= n;
    this.#consumed += n;
    return results;
  }
}

/**
 * Opens a trace as a backend: every CSR access is answered from the trace,
 * in per-hart order, and the first request that differs from the recording
 * rejects with a `TraceDivergence` naming the event, the hart, the CSR, what
 * the trace holds and what arrived, and how to re-record.
 *
 * The trace is streamed: at most `lookahead` events are held in memory, so a
 * 10-million-event trace replays in the memory a short one needs.
 *
 * Requires `--allow-read` for the trace file.
 *
 * @example Replay a recorded set-up
 * ```ts
 * import { createReplayHal, recordHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * const recording = await recordHal(await createEmulatorHal({ harts: 4, profile: "qemu-7.2" }), { path });
 * await (await PerCpuSet.init(recording)).enableAll();
 * await recording.close();
 *
 * const hal = await createReplayHal({ path });
 * const harts = await PerCpuSet.init(hal); // answered from the trace
 * await harts.enableAll();
 * strictEqual(harts.get(3).csrReport().find((e) => e.name === "hedeleg")!.kept, 0xb10dn);
 * await hal.close(); // strict: rejects if the run left events unconsumed
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param options The trace, strictness and the lookahead bound.
 * @returns The backend.
 * @throws {AxError} Kind `"NotFound"` when the trace does not exist, `"Io"`
 *   when it cannot be read, `"InvalidInput"` for a bad lookahead.
 * @throws {TraceFormatError} When the header is malformed or of an unknown version.
 */
export function createReplayHal(options: {
  /** The trace file. */
  path: string;
  /**
   * Whether events left unconsumed at `close()` are an error (nock's
   * "was not used"). Default `true`.
   */
  strict?: boolean;
  /**
   * The lookahead bound: at most this many events are held in memory at
   * once. A request whose hart's next event lies further ahead rejects.
   * Default {@linkcode DEFAULT_LOOKAHEAD}.
   */
  lookahead?: number;
}): Promise<ReplayHal> {
  let reader: TraceReader | undefined;
  try {
    reader = TraceReader.open(options.path);
    return Promise.resolve(new ReplayHal(reader, options));
  } catch (error) {
    reader?.close();
    return Promise.reject(error);
  }
}

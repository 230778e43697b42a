/**
 * The replay backend: answers every CSR access from a trace, with no
 * emulator or QEMU behind it, and says exactly where a run departs from the
 * recording.
 *
 * Requires `--allow-read` for the trace file.
 *
 * @module
 */

import { AxError, CsrTrap, TraceDivergence } from "../../hal/errors.ts";
import { HostMemory } from "../../hal/host_memory.ts";
import type {
  AxVCpuHal,
  CsrNum,
  CsrOp,
  CsrPort,
  CsrResult,
  HalInfo,
  HartId,
} from "../../hal/types.ts";
import {
  describeRequest,
  type TraceEvent,
  type TraceHeader,
  type TraceOp,
} from "./trace_format.ts";
import { TraceReader } from "./trace_reader.ts";

/**
 * The default lookahead bound: how many events replay holds in memory at
 * once (read from the file but not yet asked for) while it looks for the
 * next event of the hart a request is for.
 *
 * @example Usage
 * ```ts
 * import { createReplayHal, DEFAULT_LOOKAHEAD, recordHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * await (await recordHal(await createEmulatorHal(), { path })).close();
 * const replay = await createReplayHal({ path });
 * strictEqual(replay.lookahead, DEFAULT_LOOKAHEAD);
 * await replay.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const DEFAULT_LOOKAHEAD = 65536;

/** The RAM replay's frames come from (the emulator's default region). */
const RAM_BASE = 0x8000_0000n;
const RAM_SIZE: bigint = 128n << 20n;
/** Host physical-to-virtual offset (ArceOS's riscv64 linear map, as the emulator). */
const XLEN_MASK = (1n << 64n) - 1n;

/**
 * Options of {@linkcode createReplayHal}.
 *
 * @example Replay part of a trace
 * ```ts
 * import { createReplayHal, recordHal, type ReplayHalOptions } from "@rvhv/percpu/replay";
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
 * strictEqual(replay.consumed, recording.events / 2);
 * await replay.close(); // not strict: no error for the rest
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface ReplayHalOptions {
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
}

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

const OPS: ReadonlySet<string> = new Set(["read", "write", "set", "clear"]);

function checkCsrNumber(csr: unknown, where: string): asserts csr is CsrNum {
  if (typeof csr !== "number" || !Number.isInteger(csr) || csr < 0 || csr > 0xfff) {
    throw new AxError(
      "InvalidInput",
      `Cannot use ${where}: CSR number ${String(csr)} is not an integer from 0x000 to 0xfff`,
    );
  }
}

function checkValue(value: unknown, where: string): bigint {
  if (typeof value !== "bigint") {
    throw new AxError(
      "InvalidInput",
      `Cannot use ${where}: CSR values are bigint, got ${typeof value}`,
    );
  }
  return value < 0n || value > XLEN_MASK ? BigInt.asUintN(64, value) : value;
}

/** The CSR port of a {@linkcode ReplayHal}. */
class ReplayCsrPort implements CsrPort {
  #hal: ReplayHal;
  #answer: (hart: HartId, op: TraceOp, csr: CsrNum, arg: bigint | undefined) => TraceEvent;
  #answerBatch: (hart: HartId, ops: readonly CsrOp[]) => CsrResult[];

  constructor(
    hal: ReplayHal,
    answer: (hart: HartId, op: TraceOp, csr: CsrNum, arg: bigint | undefined) => TraceEvent,
    answerBatch: (hart: HartId, ops: readonly CsrOp[]) => CsrResult[],
  ) {
    this.#hal = hal;
    this.#answer = answer;
    this.#answerBatch = answerBatch;
  }

  #one(hart: HartId, op: TraceOp, csr: CsrNum, value: unknown): Promise<bigint> {
    try {
      this.#hal.checkHart(hart);
      checkCsrNumber(csr, `CSR ${op} on hart ${hart}`);
      const arg = op === "read" ? undefined : checkValue(value, `CSR ${op}`);
      const event = this.#answer(hart, op, csr, arg);
      if (event.trap !== undefined) {
        return Promise.reject(new CsrTrap({ hart, csr, trapCause: event.trap, op }));
      }
      return Promise.resolve(event.ret!);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  read(hart: HartId, csr: CsrNum): Promise<bigint> {
    return this.#one(hart, "read", csr, undefined);
  }

  write(hart: HartId, csr: CsrNum, value: bigint): Promise<bigint> {
    return this.#one(hart, "write", csr, value);
  }

  set(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint> {
    return this.#one(hart, "set", csr, mask);
  }

  clear(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint> {
    return this.#one(hart, "clear", csr, mask);
  }

  batch(hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> {
    try {
      return Promise.resolve(this.batchSync(hart, ops));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  batchSync(hart: HartId, ops: readonly CsrOp[]): CsrResult[] {
    this.#hal.checkHart(hart);
    return this.#answerBatch(hart, ops);
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
export class ReplayHal implements AxVCpuHal {
  /** The harts of the recorded backend. */
  readonly harts: readonly HartId[];
  /** CSR access answered from the trace (with `batchSync`: replay runs in memory). */
  readonly csr: CsrPort;
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
  #closed = false;
  #failed = false;
  #closing: Promise<void> | undefined;
  #memory: HostMemory = new HostMemory({ base: RAM_BASE, size: RAM_SIZE });
  #info: HalInfo;

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
    this.#reader = reader;
    this.header = reader.header;
    this.path = reader.file;
    this.strict = options.strict ?? true;
    this.lookahead = lookahead;
    this.harts = this.header.harts;
    this.#queues = new Map(this.harts.map((hart) => [hart, new HartQueue()]));
    this.#info = Object.freeze({
      ...this.header.info,
      backend: "replay",
      recorded: this.header.backend,
      trace: this.path,
    });
    this.csr = new ReplayCsrPort(
      this,
      (hart, op, csr, arg) => this.#answer(hart, op, csr, arg),
      (hart, ops) => this.#answerBatch(hart, ops),
    );
  }

  /** How many events the run has consumed. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Describes the backend: the recorded backend's `info()`, with `backend: "replay"`. */
  info(): HalInfo {
    return this.#info;
  }

  /**
   * Throws when a hart cannot be reached (closed backend, unknown hart).
   *
   * @param hart The hart.
   * @throws {AxError} Kind `"BadState"` after `close()`, `"NotFound"` for a
   *   hart the trace does not have.
   */
  checkHart(hart: HartId): void {
    if (this.#closed) {
      throw new AxError("BadState", `Cannot access hart ${hart}: the replay HAL is closed`, {
        hart,
      });
    }
    if (!this.#queues.has(hart)) {
      throw new AxError(
        "NotFound",
        `Cannot access hart ${hart}: the trace ${this.path} has harts ${
          this.harts.length > 8 ? `${this.harts[0]} to ${this.harts.at(-1)}` : this.harts.join(", ")
        }`,
        { hart },
      );
    }
  }

  /** Allocates one 4 KiB frame; `undefined` when none is left. */
  allocFrame(): bigint | undefined {
    return this.#memory.allocFrame();
  }

  /** Returns a frame. */
  deallocFrame(pa: bigint): void {
    this.#memory.deallocFrame(pa);
  }

  /** Host physical to host virtual address (ArceOS's riscv64 linear map). */
  physToVirt(pa: bigint): bigint {
    return this.#memory.physToVirt(pa);
  }

  /** Host virtual to host physical address. */
  virtToPhys(va: bigint): bigint {
    return this.#memory.virtToPhys(va);
  }

  /** No host interrupts are replayed: always 0. */
  irqFetch(): number {
    return 0;
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
  close(): Promise<void> {
    this.#closing ??= (() => {
      this.#closed = true;
      try {
        if (this.strict && !this.#failed) this.#checkConsumed();
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      } finally {
        this.#reader.close();
        this.#queues.forEach((queue) => (queue.items = []));
      }
    })();
    return this.#closing;
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
      const event = this.#reader.next();
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

  #answer(hart: HartId, op: TraceOp, csr: CsrNum, arg: bigint | undefined): TraceEvent {
    const queue = this.#fill(hart, 1);
    const event = queue.at(0);
    if (event === undefined || event.op !== op || event.csr !== csr || event.arg !== arg) {
      throw this.#diverge(hart, csr, event, describeRequest(op, csr, arg));
    }
    queue.drop(1);
    this.#buffered--;
    this.#consumed++;
    return event;
  }

  #answerBatch(hart: HartId, ops: readonly CsrOp[]): CsrResult[] {
    if (!Array.isArray(ops)) {
      throw new AxError(
        "InvalidInput",
        `Cannot run a CSR batch on hart ${hart}: ops is not an array`,
      );
    }
    const n = ops.length;
    const args = new Array<bigint | undefined>(n);
    for (let k = 0; k < n; k++) {
      const op = ops[k];
      const where = `operation ${k} of a CSR batch on hart ${hart}`;
      if (op === null || typeof op !== "object" || !OPS.has(op.op)) {
        throw new AxError(
          "InvalidInput",
          `Cannot run ${where}: op must be read, write, set or clear`,
        );
      }
      checkCsrNumber(op.csr, where);
      args[k] = op.op === "read" ? undefined : checkValue(op.value, where);
    }
    const queue = this.#fill(hart, n);
    for (let k = 0; k < n; k++) {
      const op = ops[k]!;
      const event = queue.at(k);
      if (
        event === undefined || event.op !== op.op || event.csr !== op.csr || event.arg !== args[k]
      ) {
        throw this.#diverge(hart, op.csr, event, describeRequest(op.op, op.csr, args[k]));
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
export function createReplayHal(options: ReplayHalOptions): Promise<ReplayHal> {
  let reader: TraceReader | undefined;
  try {
    reader = TraceReader.open(options.path);
    return Promise.resolve(new ReplayHal(reader, options));
  } catch (error) {
    reader?.close();
    return Promise.reject(error);
  }
}

/**
 * The trace writer: appends events to `<path>.partial` in batches and
 * renames it to `<path>` when the recording finishes (`finish()`). The
 * library installs no signal handlers: a program that wants a trace finished
 * on SIGINT closes its system there (the CLI does).
 *
 * Every flush writes whole lines, so the partial file is a valid trace up
 * to its last event at any time. Buffered events are written when a batch
 * is full and, at the latest, when the event loop next turns (an unref'd
 * zero-delay timer), so a run that stops on an exception finds every event
 * it recorded in the partial file. While a writer is open the process's
 * `unload`, `error` and `unhandledrejection` events flush it too, so a
 * process that dies of an uncaught exception (or exits without closing)
 * loses nothing either.
 *
 * Requires `--allow-write` (and `--allow-read`) for the trace's folder.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";
import { putBigint } from "../hal/_word_batch.ts";
import { csrName } from "../hal/csr_numbers.ts";
import type { CsrNum, HartId } from "../hal/types.ts";
import { csrHex, TRACE_OPS, type TraceHeader, type TraceOp } from "./format.ts";

/** How many events the writer buffers before it writes them out. */
export const FLUSH_EVENTS = 8192;

/** The write buffer: 8192 lines of up to 128 bytes. */
const BUFFER_BYTES = 1024 * 1024;
/** More bytes than any line takes (two 20-digit numbers, the longest CSR name, two values). */
const LINE_MAX_BYTES = 256;
/** (op, CSR) pairs: `op << 12 | csr`. */
const SLOTS = 4 * 0x1000;
/** Cached line suffixes per slot. */
const WAYS = 4;
const ENCODER = new TextEncoder();
/** Room for the decimal digits of an event number or hart id (2^53 has 16). */
const DECIMAL_DIGITS = 20;
/** An operand and an outcome given as bigints, as words. */
const APPENDED = new Int32Array(4);
const HART_KEY: Uint8Array = ENCODER.encode(',"hart":');
const ARG_KEY: Uint8Array = ENCODER.encode(',"arg":"');
const RET_KEY: Uint8Array = ENCODER.encode(',"ret":"');
const TRAP_KEY: Uint8Array = ENCODER.encode(',"trap":');
/** Per slot, once used: the bytes of `"op":"…","csr":"…","num":"…"`. */
const OP_CSR_BYTES: (Uint8Array | undefined)[] = new Array(SLOTS).fill(undefined);

function opCode(op: TraceOp): number {
  return op === "read" ? 0 : op === "write" ? 1 : op === "set" ? 2 : 3;
}

function opCsrBytes(slot: number): Uint8Array {
  const csr = slot & 0xfff;
  return OP_CSR_BYTES[slot] ??= ENCODER.encode(
    `"op":"${TRACE_OPS[slot >> 12]}","csr":"${csrName(csr)}","num":"${csrHex(csr)}"`,
  );
}

/**
 * Writes `"op":…,"csr":…,"num":…[,"arg":…],"ret":…}` or `…,"trap":N}` and
 * the newline; values as their 32-bit words (low, high), `trap` -1 for none.
 */
function putSuffix(
  buf: Uint8Array,
  pos: number,
  slot: number,
  hasArg: boolean,
  argLow: number,
  argHigh: number,
  retLow: number,
  retHigh: number,
  trap: number,
): number {
  const prefix = opCsrBytes(slot);
  buf.set(prefix, pos);
  pos += prefix.length;
  if (hasArg) {
    buf.set(ARG_KEY, pos);
    pos = putHex(buf, pos + ARG_KEY.length, argLow, argHigh);
    buf[pos++] = 0x22; // "
  }
  if (trap < 0) {
    buf.set(RET_KEY, pos);
    pos = putHex(buf, pos + RET_KEY.length, retLow, retHigh);
    buf[pos++] = 0x22; // "
  } else {
    buf.set(TRAP_KEY, pos);
    pos = putUint(buf, pos + TRAP_KEY.length, trap);
  }
  buf[pos] = 0x7d; // }
  buf[pos + 1] = 0x0a; // newline
  return pos + 2;
}

/** The lowercase hex digits, as bytes. */
const HEX_DIGITS: Uint8Array = ENCODER.encode("0123456789abcdef");

/** Writes `0x` and the lowercase hex digits of the 64-bit value of two words. */
function putHex(buf: Uint8Array, pos: number, low: number, high: number): number {
  buf[pos] = 0x30; // 0
  buf[pos + 1] = 0x78; // x
  pos += 2;
  if (high === 0) return putHexDigits(buf, pos, low >>> 0, 1);
  pos = putHexDigits(buf, pos, high >>> 0, 1);
  return putHexDigits(buf, pos, low >>> 0, 8);
}

/** Writes the hex digits of a 32-bit value, at least `least` of them (zeros in front). */
function putHexDigits(buf: Uint8Array, pos: number, value: number, least: number): number {
  let digits = least;
  while (digits < 8 && value >>> (4 * digits) !== 0) digits++;
  for (let k = digits - 1; k >= 0; k--) {
    buf[pos + k] = HEX_DIGITS[value & 0xf]!;
    value >>>= 4;
  }
  return pos + digits;
}

/** Writes the decimal digits of a non-negative integer at `pos`; returns the position after. */
function putUint(buf: Uint8Array, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = 48 + n;
    return pos + 1;
  }
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  const end = pos + digits;
  for (let at = end - 1; at >= pos; at--) {
    const next = Math.floor(n / 10);
    buf[at] = 48 + n - next * 10;
    n = next;
  }
  return end;
}

/** The writers that are open, for the process hooks. */
const open: Set<TraceWriter> = new Set();
let hooked = false;

function flushAll(): void {
  for (const writer of open) writer.flushQuietly();
}

function updateHooks(): void {
  const wantHooks = open.size > 0;
  if (wantHooks !== hooked) {
    for (const type of ["unload", "error", "unhandledrejection"]) {
      if (wantHooks) globalThis.addEventListener(type, flushAll);
      else globalThis.removeEventListener(type, flushAll);
    }
    hooked = wantHooks;
  }
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

/**
 * Writes one trace: the header at once, then events in batches of 8192,
 * to `<path>.partial`; {@linkcode TraceWriter.finish}
 * renames it to `<path>`.
 *
 * Requires `--allow-write` and `--allow-read` for the trace's folder.
 *
 * @example Write a trace by hand
 * ```ts
 * import { TraceReader } from "@rvhv/percpu/replay";
 * import { headerFor } from "./recorder.ts";
 * import { TraceWriter } from "./writer.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const hal = await createEmulatorHal();
 * const writer = TraceWriter.create(`${dir}/run.jsonl`, headerFor(hal));
 * writer.append(0, "write", CSR.hedeleg, 0xb10dn, 0n, undefined);
 * writer.append(0, "read", CSR.hgatp, undefined, undefined, 2); // a trap
 * writer.finish(); // run.jsonl.partial → run.jsonl
 * const reader = TraceReader.open(`${dir}/run.jsonl`);
 * strictEqual([...reader].length, 2);
 * await hal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TraceWriter {
  /** The trace's final path. */
  readonly path: string;
  /** Where events go until the trace is finished: `<path>.partial`. */
  readonly partialPath: string;
  #file: Deno.FsFile | undefined;
  /** The buffered lines, as bytes: no string per event, nothing to encode at a flush. */
  #buf: Uint8Array = new Uint8Array(BUFFER_BYTES);
  #pos = 0;
  #buffered = 0;
  #events = 0;
  /** `#events` in decimal, right-aligned: the next line's `"i"`, counted up in place. */
  #eventDigits: Uint8Array = new Uint8Array(DECIMAL_DIGITS).fill(0x30);
  #eventDigitCount = 1;
  /** The last line's hart, and its decimal digits (a hart's accesses come in runs). */
  #lastHart = -1;
  #hartDigits: Uint8Array = new Uint8Array(DECIMAL_DIGITS);
  #hartDigitCount = 0;
  #finished = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failure: AxError | undefined;
  #idleFlush = (): void => {
    this.#timer = undefined;
    this.flushQuietly();
  };
  // Per (op, CSR), a few recent (operand, outcome) pairs and the line suffix each gave: the
  // set-up reads a CSR before and after writing it, so one entry per slot would always miss.
  // An entry is its operand's and outcome's words and what they are (`#cacheKind`: 1 for an
  // operand, 2 for a value read; 0 for an empty entry), and the trap (-1 for none).
  #cacheWords: Int32Array = new Int32Array(SLOTS * WAYS * 4);
  #cacheKind: Uint8Array = new Uint8Array(SLOTS * WAYS);
  #cacheTrap: Int16Array = new Int16Array(SLOTS * WAYS);
  #cacheSuffix: (Uint8Array | undefined)[] = new Array(SLOTS * WAYS).fill(undefined);
  #cacheNext: Uint8Array = new Uint8Array(SLOTS);
  /** Per slot, hits and misses: a slot whose values keep changing is not cached. */
  #cacheHits: Uint16Array = new Uint16Array(SLOTS);
  #cacheMisses: Uint16Array = new Uint16Array(SLOTS);

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.partialPath = `${path}.partial`;
    this.#file = file;
  }

  /**
   * Creates (or truncates) `<path>.partial` and writes the header line.
   *
   * @param path The trace's final path.
   * @param header The header.
   * @returns The writer.
   * @throws {AxError} Kind `"NotFound"` when the folder does not exist, `"Io"`
   *   when the file cannot be created or written.
   */
  static create(path: string, header: TraceHeader): TraceWriter {
    const partial = `${path}.partial`;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(partial, { write: true, create: true, truncate: true });
    } catch (error) {
      const kind = error instanceof Deno.errors.NotFound ? "NotFound" : "Io";
      throw new AxError(
        kind,
        `Cannot record trace ${path}: cannot create ${partial}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const writer = new TraceWriter(path, file);
    try {
      writeAll(file, ENCODER.encode(JSON.stringify(header) + "\n"));
    } catch (error) {
      file.close();
      throw new AxError("Io", `Cannot write trace ${partial}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    open.add(writer);
    updateHooks();
    return writer;
  }

  /** How many events were appended. */
  get events(): number {
    return this.#events;
  }

  /** Whether the trace is finished (renamed) or abandoned. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * Appends one event. `arg` is `undefined` for reads; exactly one of `ret`
   * and `trap` is given.
   *
   * @param hart The hart.
   * @param op The operation.
   * @param csr The CSR.
   * @param arg The operand of `write`/`set`/`clear`.
   * @param ret The value the instruction read.
   * @param trap The exception cause the hart raised instead.
   * @throws {AxError} Kind `"BadState"` after {@linkcode TraceWriter.finish};
   *   `"Io"` when a flush fails.
   */
  append(
    hart: HartId,
    op: TraceOp,
    csr: CsrNum,
    arg: bigint | undefined,
    ret: bigint | undefined,
    trap: number | undefined,
  ): void {
    putBigint(APPENDED, 0, arg ?? 0n);
    putBigint(APPENDED, 2, ret ?? 0n);
    this.appendWords(
      hart,
      opCode(op),
      csr,
      arg !== undefined,
      APPENDED[0]!,
      APPENDED[1]!,
      APPENDED[2]!,
      APPENDED[3]!,
      trap ?? -1,
    );
  }

  /**
   * {@linkcode TraceWriter.append} with values as their 32-bit words: what a
   * recording of in-process word batches appends, with no `bigint`.
   *
   * @param hart The hart.
   * @param op The operation, by index in `TRACE_OPS`.
   * @param csr The CSR.
   * @param hasArg Whether the operation has an operand (not a read).
   * @param argLow The operand's low word.
   * @param argHigh The operand's high word.
   * @param retLow The value read's low word (ignored for a trap).
   * @param retHigh The value read's high word.
   * @param trap The exception cause the hart raised, or -1.
   * @throws {AxError} As `append`.
   */
  appendWords(
    hart: HartId,
    op: number,
    csr: CsrNum,
    hasArg: boolean,
    argLow: number,
    argHigh: number,
    retLow: number,
    retHigh: number,
    trap: number,
  ): void {
    if (this.#finished) {
      throw new AxError("BadState", `Cannot record to trace ${this.path}: it is finished`);
    }
    if (!hasArg) argLow = argHigh = 0;
    if (trap >= 0) retLow = retHigh = 0;
    const kind = (hasArg ? 1 : 0) | (trap < 0 ? 2 : 0);
    const slot = (op << 12) | csr;
    const base = slot * WAYS;
    let suffix: Uint8Array | undefined;
    const misses = this.#cacheMisses[slot]!;
    const caching = misses < 64 || this.#cacheHits[slot]! * 4 >= misses;
    if (caching) {
      const words = this.#cacheWords;
      for (let way = base; way < base + WAYS; way++) {
        if (
          this.#cacheKind[way] === kind + 4 && this.#cacheTrap[way] === trap &&
          words[4 * way] === argLow && words[4 * way + 1] === argHigh &&
          words[4 * way + 2] === retLow && words[4 * way + 3] === retHigh
        ) {
          suffix = this.#cacheSuffix[way];
          break;
        }
      }
      if (suffix !== undefined) {
        if (++this.#cacheHits[slot]! === 0xffff) this.#decay(slot);
      } else if (++this.#cacheMisses[slot]! === 0xffff) {
        this.#decay(slot);
      }
    }
    if (this.#pos + LINE_MAX_BYTES > this.#buf.length) this.flush();
    // {"i":<i>,"hart":<hart>,<suffix>
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos] = 0x7b; // {
    buf[pos + 1] = 0x22; // "
    buf[pos + 2] = 0x69; // i
    buf[pos + 3] = 0x22; // "
    buf[pos + 4] = 0x3a; // :
    pos = this.#putEventNumber(buf, pos + 5);
    // A short copy as a loop: TypedArray.set costs more than a few bytes do.
    for (let k = 0; k < HART_KEY.length; k++) buf[pos++] = HART_KEY[k]!;
    pos = this.#putHart(buf, pos, hart);
    buf[pos++] = 0x2c; // ,
    if (suffix !== undefined) {
      buf.set(suffix, pos);
      pos += suffix.length;
    } else if (!caching) {
      pos = putSuffix(buf, pos, slot, hasArg, argLow, argHigh, retLow, retHigh, trap);
    } else {
      const start = pos;
      pos = putSuffix(buf, pos, slot, hasArg, argLow, argHigh, retLow, retHigh, trap);
      const way = base + this.#cacheNext[slot]!;
      this.#cacheNext[slot] = (this.#cacheNext[slot]! + 1) % WAYS;
      const words = this.#cacheWords;
      words[4 * way] = argLow;
      words[4 * way + 1] = argHigh;
      words[4 * way + 2] = retLow;
      words[4 * way + 3] = retHigh;
      // 4 marks the entry as filled.
      this.#cacheKind[way] = kind + 4;
      this.#cacheTrap[way] = trap;
      this.#cacheSuffix[way] = buf.slice(start, pos);
    }
    this.#pos = pos;
    this.#events++;
    if (++this.#buffered >= FLUSH_EVENTS) {
      this.flush();
    } else if (this.#timer === undefined) {
      const timer = setTimeout(this.#idleFlush, 0);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Writes the next line's event number, then counts it up (decimal, in place). */
  #putEventNumber(buf: Uint8Array, pos: number): number {
    const digits = this.#eventDigits;
    const count = this.#eventDigitCount;
    for (let k = DECIMAL_DIGITS - count; k < DECIMAL_DIGITS; k++) buf[pos++] = digits[k]!;
    let k = DECIMAL_DIGITS - 1;
    while (k >= DECIMAL_DIGITS - count && digits[k] === 0x39) digits[k--] = 0x30; // 9 → 0, carry
    if (k >= DECIMAL_DIGITS - count) digits[k]!++;
    else {
      digits[k] = 0x31; // a new leading 1
      this.#eventDigitCount++;
    }
    return pos;
  }

  /** Writes a hart id in decimal, its digits kept while the same hart's lines follow. */
  #putHart(buf: Uint8Array, pos: number, hart: HartId): number {
    const digits = this.#hartDigits;
    if (hart !== this.#lastHart) {
      this.#hartDigitCount = putUint(digits, 0, hart);
      this.#lastHart = hart;
    }
    for (let k = 0; k < this.#hartDigitCount; k++) buf[pos++] = digits[k]!;
    return pos;
  }

  /** Halves a slot's counters, so it can start (or stop) being cached again. */
  #decay(slot: number): void {
    this.#cacheHits[slot] = this.#cacheHits[slot]! >> 1;
    this.#cacheMisses[slot] = this.#cacheMisses[slot]! >> 1;
  }

  /**
   * Writes the buffered events to the partial file.
   *
   * @throws {AxError} Kind `"Io"` when the write fails.
   */
  flush(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#pos === 0 || this.#file === undefined) return;
    const bytes = this.#buf.subarray(0, this.#pos);
    this.#pos = 0;
    this.#buffered = 0;
    try {
      writeAll(this.#file, bytes);
    } catch (error) {
      // The trace cannot be trusted any more: every later flush and finish() says so.
      this.#failure = new AxError(
        "Io",
        `Cannot write trace ${this.partialPath}: ${(error as Error).message}`,
        { cause: error },
      );
      throw this.#failure;
    }
  }

  /**
   * {@linkcode TraceWriter.flush}, ignoring failures (for timers and process
   * hooks; a failure is reported by the next `flush()` or `finish()`).
   */
  flushQuietly(): void {
    try {
      this.flush();
    } catch {
      // Kept in #failure for finish() to report.
    }
  }

  /**
   * Flushes, closes the partial file and renames it to the final path.
   * Idempotent.
   *
   * @throws {AxError} Kind `"Io"` when the last write or the rename fails.
   */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    open.delete(this);
    updateHooks();
    const file = this.#file!;
    try {
      this.flush();
    } finally {
      this.#file = undefined;
      file.close();
    }
    try {
      Deno.renameSync(this.partialPath, this.path);
    } catch (error) {
      throw new AxError(
        "Io",
        `Cannot finish trace ${this.path}: cannot rename ${this.partialPath}: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }

  /** {@linkcode TraceWriter.finish}, ignoring failures. */
  finishQuietly(): void {
    try {
      this.finish();
    } catch {
      // The partial file stays behind; nothing can be reported now.
    }
  }
}

/**
 * The trace writer: appends events to `<path>.partial` in batches and
 * renames it to `<path>` when the recording finishes (on `finish()` or on
 * SIGINT).
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

import { AxError } from "../../hal/errors.ts";
import { csrName } from "../../hal/csr_numbers.ts";
import type { CsrNum, HartId } from "../../hal/types.ts";
import { csrHex, TRACE_OPS, type TraceHeader, traceHex, type TraceOp } from "./trace_format.ts";

/** How many events the writer buffers before it writes them out. */
export const FLUSH_EVENTS = 8192;

/** The exit code of a recording process stopped by SIGINT (128 + 2). */
export const SIGINT_EXIT_CODE = 130;

const OP_CODE: Readonly<Record<TraceOp, number>> = { read: 0, write: 1, set: 2, clear: 3 };
/** Per (op, CSR): `"op":"…","csr":"…","num":"…"`. */
const OP_CSR_PREFIX: readonly string[] = Array.from(
  { length: 4 * 0x1000 },
  (_, slot) =>
    `"op":"${TRACE_OPS[slot >> 12]}","csr":"${csrName(slot & 0xfff)}","num":"${
      csrHex(slot & 0xfff)
    }"`,
);

/** Options of {@linkcode TraceWriter.create}. */
export interface TraceWriterOptions {
  /**
   * Finish the trace (flush, rename) and exit the process with code 130 on
   * SIGINT. Default `true`.
   */
  handleSigint?: boolean;
}

/** The writers that are open, for the process hooks. */
const open: Set<TraceWriter> = new Set();
let hooked = false;
let sigintHooked = false;

function flushAll(): void {
  for (const writer of open) writer.flushQuietly();
}

function onSigint(): void {
  for (const writer of [...open]) writer.finishQuietly();
  Deno.exit(SIGINT_EXIT_CODE);
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
  const wantSigint = [...open].some((writer) => writer.handlesSigint);
  if (wantSigint !== sigintHooked) {
    try {
      if (wantSigint) Deno.addSignalListener("SIGINT", onSigint);
      else Deno.removeSignalListener("SIGINT", onSigint);
      sigintHooked = wantSigint;
    } catch {
      // A platform without SIGINT: close() still finishes the trace.
    }
  }
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

/**
 * Writes one trace: the header at once, then events in batches of
 * {@linkcode FLUSH_EVENTS}, to `<path>.partial`; {@linkcode TraceWriter.finish}
 * renames it to `<path>`.
 *
 * Requires `--allow-write` and `--allow-read` for the trace's folder.
 *
 * @example Usage
 * ```ts ignore
 * import { TraceWriter } from "@rvhv/percpu/replay";
 *
 * const writer = TraceWriter.create("run.jsonl", header);
 * writer.append(0, "write", 0x602, 0xb10dn, 0n, undefined);
 * writer.finish(); // run.jsonl.partial → run.jsonl
 * ```
 */
export class TraceWriter {
  /** The trace's final path. */
  readonly path: string;
  /** Where events go until the trace is finished: `<path>.partial`. */
  readonly partialPath: string;
  /** Whether SIGINT finishes this trace and exits. */
  readonly handlesSigint: boolean;
  #file: Deno.FsFile | undefined;
  #encoder: TextEncoder = new TextEncoder();
  #chunk = "";
  #buffered = 0;
  #events = 0;
  #finished = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failure: AxError | undefined;
  #idleFlush = (): void => {
    this.#timer = undefined;
    this.flushQuietly();
  };
  // Per (op, CSR): the last operand and outcome, and the line suffix they gave.
  #lastArg: (bigint | undefined)[] = new Array(4 * 0x1000).fill(undefined);
  #lastRet: (bigint | undefined)[] = new Array(4 * 0x1000).fill(undefined);
  #lastTrap: Int16Array = new Int16Array(4 * 0x1000);
  #lastSuffix: (string | undefined)[] = new Array(4 * 0x1000).fill(undefined);

  private constructor(path: string, file: Deno.FsFile, handleSigint: boolean) {
    this.path = path;
    this.partialPath = `${path}.partial`;
    this.#file = file;
    this.handlesSigint = handleSigint;
  }

  /**
   * Creates (or truncates) `<path>.partial` and writes the header line.
   *
   * @param path The trace's final path.
   * @param header The header.
   * @param options SIGINT handling.
   * @returns The writer.
   * @throws {AxError} Kind `"NotFound"` when the folder does not exist, `"Io"`
   *   when the file cannot be created or written.
   */
  static create(path: string, header: TraceHeader, options: TraceWriterOptions = {}): TraceWriter {
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
    const writer = new TraceWriter(path, file, options.handleSigint ?? true);
    try {
      writeAll(file, writer.#encoder.encode(JSON.stringify(header) + "\n"));
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
    if (this.#finished) {
      throw new AxError("BadState", `Cannot record to trace ${this.path}: it is finished`);
    }
    const slot = (OP_CODE[op] << 12) | csr;
    const trapCode = trap === undefined ? -1 : trap;
    let suffix = this.#lastSuffix[slot];
    if (
      suffix === undefined || this.#lastArg[slot] !== arg || this.#lastRet[slot] !== ret ||
      this.#lastTrap[slot] !== trapCode
    ) {
      suffix = OP_CSR_PREFIX[slot]! +
        (arg === undefined ? "" : `,"arg":"${traceHex(arg)}"`) +
        (trap === undefined ? `,"ret":"${traceHex(ret!)}"}\n` : `,"trap":${trap}}\n`);
      this.#lastSuffix[slot] = suffix;
      this.#lastArg[slot] = arg;
      this.#lastRet[slot] = ret;
      this.#lastTrap[slot] = trapCode;
    }
    this.#chunk += '{"i":' + this.#events + ',"hart":' + hart + "," + suffix;
    this.#events++;
    if (++this.#buffered >= FLUSH_EVENTS) {
      this.flush();
    } else if (this.#timer === undefined) {
      const timer = setTimeout(this.#idleFlush, 0);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /**
   * Writes the buffered events to the partial file.
   *
   * @throws {AxError} Kind `"Io"` when the write fails.
   */
  flush(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#buffered === 0 || this.#file === undefined) return;
    const bytes = this.#encoder.encode(this.#chunk);
    this.#chunk = "";
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

  /** {@linkcode TraceWriter.finish}, ignoring failures (for SIGINT). */
  finishQuietly(): void {
    try {
      this.finish();
    } catch {
      // The partial file stays behind; nothing can be reported now.
    }
  }
}

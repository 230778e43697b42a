/**
 * The streaming trace reader: the header on open, then one event at a time,
 * read in 256 KiB chunks, so memory does not grow with the trace.
 *
 * Requires `--allow-read` for the trace file.
 *
 * @module
 */

import { ALL_ONES } from "../hal/csr_fields.ts";
import { csrName } from "../hal/csr_numbers.ts";
import { AxError, TraceFormatError } from "../hal/errors.ts";
import type { HalInfo, HartId } from "../hal/types.ts";
import {
  TRACE_FORMAT,
  TRACE_OPS,
  TRACE_VERSION,
  type TraceEvent,
  type TraceHeader,
  type TraceOp,
} from "./format.ts";

/**
 * The default lookahead bound: how many events replay holds in memory at
 * once (read from the file but not yet asked for) while it looks for the
 * next event of the hart a request is for.
 *
 * @example Usage
 * ```ts
 * import { createReplayHal, recordHal } from "@rvhv/percpu/replay";
 * import { DEFAULT_LOOKAHEAD } from "./reader.ts";
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

/** How many bytes the reader reads at a time. */
const CHUNK_BYTES = 256 * 1024;
/** The longest line the reader accepts (a header with a large manifest fits easily). */
export const MAX_LINE_CHARS: number = 4 * 1024 * 1024;

const OP_CODES: ReadonlyMap<string, TraceOp> = new Map(TRACE_OPS.map((op) => [op, op]));
/** The names a trace may give each CSR address: its spec name and the `csr0x…` spelling. */
const CSR_NAMES: readonly string[] = Array.from({ length: 0x1000 }, (_, n) => csrName(n));

/** What the last `parseUint` read. */
let scanned = 0;
/** What the last `parseHexValue` read. */
let scannedValue = 0n;
/** `BigInt`s of small values, made once: traces repeat the same few. */
const SMALL_VALUES: (bigint | undefined)[] = new Array(0x10000).fill(undefined);

/** The value of a hex digit's character code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Reads a JSON non-negative integer (no leading zero, at most 15 digits) at
 * `p` into `scanned`; returns the position after it, or -1.
 */
function parseUint(s: string, p: number): number {
  const start = p;
  let n = 0;
  for (let c = s.charCodeAt(p); c >= 48 && c <= 57; c = s.charCodeAt(++p)) n = n * 10 + c - 48;
  const digits = p - start;
  if (digits === 0 || digits > 15 || (digits > 1 && s.charCodeAt(start) === 48)) return -1;
  scanned = n;
  return p;
}

/** Reads 1 to 16 hex digits at `p` into `scannedValue`; returns the position after them, or -1. */
function parseHexValue(s: string, p: number): number {
  const start = p;
  let n = 0;
  for (let d = hexDigit(s.charCodeAt(p)); d >= 0; d = hexDigit(s.charCodeAt(++p))) n = n * 16 + d;
  const digits = p - start;
  if (digits === 0 || digits > 16) return -1;
  if (digits <= 13) {
    // Exact as a number (below 2^52).
    scannedValue = n < 0x10000 ? (SMALL_VALUES[n] ??= BigInt(n)) : BigInt(n);
  } else {
    scannedValue = BigInt(`0x${s.slice(start, p)}`);
  }
  return p;
}

/** Describes a JSON value for an error message. */
function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object") return "an object";
  return String(value);
}

/**
 * Opens a file for reading, mapping failures to `AxError`s.
 *
 * @param path The file.
 * @returns The open file.
 */
function openForReading(path: string): Deno.FsFile {
  try {
    return Deno.openSync(path, { read: true });
  } catch (error) {
    const kind = error instanceof Deno.errors.NotFound ? "NotFound" : "Io";
    throw new AxError(kind, `Cannot open trace ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Reads a trace file line by line: the header when opened, then events in
 * file order. Every malformed line is a `TraceFormatError` naming the file
 * and the 1-based line (the header is line 1); the reader keeps nothing but
 * the current chunk, so a 10-million-event trace costs what a short one does.
 *
 * Requires `--allow-read` for the trace file.
 *
 * @example Count the writes of each hart
 * ```ts
 * import { recordHal, TraceReader } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const hal = await recordHal(await createEmulatorHal({ harts: 2 }), { path: `${dir}/run.jsonl` });
 * await PerCpuSet.init(hal);
 * await hal.close();
 *
 * const writes = new Map<number, number>();
 * {
 *   using reader = TraceReader.open(`${dir}/run.jsonl`);
 *   for (const event of reader) {
 *     if (event.op === "write") writes.set(event.hart, (writes.get(event.hart) ?? 0) + 1);
 *   }
 * }
 * deepStrictEqual([...writes], [[0, 3], [1, 3]]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TraceReader implements Iterable<TraceEvent>, Disposable {
  /** The trace file, as given. */
  readonly file: string;
  /** The header (line 1). */
  readonly header: TraceHeader;
  #fd: Deno.FsFile | undefined;
  #buf: Uint8Array = new Uint8Array(CHUNK_BYTES);
  #decoder: TextDecoder = new TextDecoder("utf-8", { fatal: true });
  #text = "";
  #pos = 0;
  #eof = false;
  #line = 0;
  #unterminated = false;
  #nextIndex = 0;
  #harts: ReadonlySet<HartId>;
  /** Membership of hart ids below 65536, without a set look-up. */
  #hartTable: Uint8Array = new Uint8Array(0x10000);

  private constructor(file: string, fd: Deno.FsFile) {
    this.file = file;
    this.#fd = fd;
    const text = this.#nextLine();
    if (text === undefined || text.trim() === "") {
      throw this.error(1, "the file is empty; expected the rvhv-trace header on line 1");
    }
    this.header = this.#parseHeader(text);
    this.#harts = new Set(this.header.harts);
    for (const hart of this.header.harts) if (hart < 0x10000) this.#hartTable[hart] = 1;
  }

  /**
   * Opens a trace and reads its header.
   *
   * @param path The trace file.
   * @returns The reader, positioned at the first event.
   * @throws {AxError} Kind `"NotFound"` when the file does not exist, `"Io"`
   *   when it cannot be read.
   * @throws {TraceFormatError} When the header is missing, malformed or of
   *   an unknown version.
   */
  static open(path: string): TraceReader {
    const fd = openForReading(path);
    try {
      return new TraceReader(path, fd);
    } catch (error) {
      fd.close();
      throw error;
    }
  }

  /** The 1-based number of the last line read. */
  get line(): number {
    return this.#line;
  }

  /** How many events have been read so far. */
  get eventsRead(): number {
    return this.#nextIndex;
  }

  /** Whether the end of the file was reached (and the file closed). */
  get done(): boolean {
    return this.#fd === undefined;
  }

  /**
   * A `TraceFormatError` at a line of this trace.
   *
   * @param line The 1-based line.
   * @param detail What is wrong there.
   * @param cause The underlying error.
   * @returns The error.
   */
  error(line: number, detail: string, cause?: unknown): TraceFormatError {
    return new TraceFormatError({ file: this.file, line, detail, cause });
  }

  /**
   * Reads the next event.
   *
   * @returns The event, or `undefined` at the end of the trace (the file is
   *   then closed).
   * @throws {TraceFormatError} For a corrupt or truncated line.
   */
  next(): TraceEvent | undefined {
    const text = this.#nextLine();
    if (text === undefined) {
      this.close();
      return undefined;
    }
    return this.#parseCanonical(text, this.#line) ?? this.#parseEvent(text, this.#line);
  }

  /** Iterates the remaining events. */
  *[Symbol.iterator](): Iterator<TraceEvent> {
    for (let event = this.next(); event !== undefined; event = this.next()) yield event;
  }

  /** Closes the file. Idempotent. */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    this.#text = "";
    fd?.close();
  }

  /** Closes the file (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The next line without its end of line, or `undefined` at the end of the file. */
  #nextLine(): string | undefined {
    for (;;) {
      const text = this.#text;
      const nl = text.indexOf("\n", this.#pos);
      if (nl >= 0) {
        const end = nl > this.#pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        const line = text.slice(this.#pos, end);
        this.#pos = nl + 1;
        this.#line++;
        return line;
      }
      if (this.#eof) {
        if (this.#pos >= text.length) return undefined;
        const line = text.slice(this.#pos);
        this.#pos = text.length;
        this.#line++;
        this.#unterminated = true;
        return line;
      }
      if (this.#fd === undefined) return undefined;
      const rest = text.slice(this.#pos);
      if (rest.length > MAX_LINE_CHARS) {
        throw this.error(
          this.#line + 1,
          `the line is longer than ${MAX_LINE_CHARS} characters; this is not a trace`,
        );
      }
      let n: number | null;
      try {
        n = this.#fd.readSync(this.#buf);
      } catch (error) {
        throw new AxError(
          "Io",
          `Cannot read trace ${this.file}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      try {
        if (n === null) {
          this.#eof = true;
          this.#text = rest + this.#decoder.decode();
        } else {
          this.#text = rest + this.#decoder.decode(this.#buf.subarray(0, n), { stream: true });
        }
      } catch (error) {
        throw this.error(this.#firstUndecodableLine(rest, n), "the file is not UTF-8 text", error);
      }
      this.#pos = 0;
    }
  }

  /**
   * The line of the first byte that is not UTF-8, in the text left over and
   * the chunk just read (the fatal decoder only says the chunk has one).
   */
  #firstUndecodableLine(rest: string, n: number | null): number {
    const lenient = new TextDecoder("utf-8").decode(
      n === null ? new Uint8Array() : this.#buf.subarray(0, n),
    );
    const text = rest + lenient;
    const bad = text.indexOf("\uFFFD");
    let line = this.#line + 1;
    for (let at = text.indexOf("\n"); at >= 0 && at < bad; at = text.indexOf("\n", at + 1)) {
      line++;
    }
    return line;
  }

  #json(text: string, line: number, what: string): unknown {
    try {
      return JSON.parse(text);
    } catch (error) {
      if (this.#unterminated && this.#eof && this.#pos >= this.#text.length) {
        throw this.error(
          line,
          `the ${what} is truncated: the file ends in the middle of it (${
            (error as Error).message
          })`,
          error,
        );
      }
      throw this.error(line, `the ${what} is not valid JSON: ${(error as Error).message}`, error);
    }
  }

  #parseHeader(text: string): TraceHeader {
    const raw = this.#json(text, 1, "header");
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw this.error(1, `expected the header object, got ${describe(raw)}`);
    }
    const h = raw as Record<string, unknown>;
    if (h.format !== TRACE_FORMAT) {
      throw this.error(
        1,
        `this is not an rvhv trace: the header's "format" is ${
          describe(h.format)
        }, expected "${TRACE_FORMAT}"`,
      );
    }
    if (h.version === undefined) {
      throw this.error(
        1,
        `the header has no "version"; this release reads version ${TRACE_VERSION}`,
      );
    }
    if (h.version !== TRACE_VERSION) {
      throw this.error(
        1,
        `unknown trace version ${
          describe(h.version)
        }; this release reads version ${TRACE_VERSION}, re-record the trace with it`,
      );
    }
    for (const key of ["backend", "isa"] as const) {
      if (typeof h[key] !== "string") {
        throw this.error(1, `the header's "${key}" must be a string, got ${describe(h[key])}`);
      }
    }
    const harts = h.harts;
    if (
      !Array.isArray(harts) || harts.length === 0 ||
      !harts.every((hart, i) =>
        Number.isSafeInteger(hart) && hart >= 0 && (i === 0 || hart > harts[i - 1])
      )
    ) {
      throw this.error(
        1,
        `the header's "harts" must be a non-empty ascending list of hart ids, got ${
          JSON.stringify(harts)
        }`,
      );
    }
    for (const key of ["info", "manifest"] as const) {
      const value = h[key];
      if (
        value !== undefined && (value === null || typeof value !== "object" || Array.isArray(value))
      ) {
        throw this.error(1, `the header's "${key}" must be an object, got ${describe(value)}`);
      }
    }
    for (const key of ["profile", "firmware", "created", "tool"] as const) {
      if (h[key] !== undefined && typeof h[key] !== "string") {
        throw this.error(1, `the header's "${key}" must be a string, got ${describe(h[key])}`);
      }
    }
    const info: HalInfo = (h.info as HalInfo | undefined) ?? {
      backend: h.backend as string,
      isa: h.isa as string,
      ...(h.profile === undefined ? {} : { profile: h.profile as string }),
      ...(h.firmware === undefined ? {} : { firmware: h.firmware as string }),
    };
    return Object.freeze({
      ...h,
      info,
      harts: Object.freeze([...harts as HartId[]]),
      created: (h.created as string | undefined) ?? "",
      tool: (h.tool as string | undefined) ?? "",
    }) as TraceHeader;
  }

  /**
   * The fast path: a line exactly as the writer writes it, read without
   * `JSON.parse`. Anything else (other key order, spaces, escapes, a value
   * out of range, a malformed line) returns `undefined`, and the line goes
   * through `JSON.parse` and the full checks, which accept or name it.
   */
  #parseCanonical(s: string, line: number): TraceEvent | undefined {
    if (!s.startsWith('{"i":')) return undefined;
    let p = parseUint(s, 5);
    const i = scanned;
    if (p < 0 || i !== this.#nextIndex || !s.startsWith(',"hart":', p)) return undefined;
    p = parseUint(s, p + 8);
    const hart = scanned;
    if (
      p < 0 || !(hart < 0x10000 ? this.#hartTable[hart] === 1 : this.#harts.has(hart)) ||
      !s.startsWith(',"op":"', p)
    ) {
      return undefined;
    }
    p += 7;
    let op: TraceOp;
    if (s.startsWith('read"', p)) {
      op = "read";
      p += 5;
    } else if (s.startsWith('write"', p)) {
      op = "write";
      p += 6;
    } else if (s.startsWith('set"', p)) {
      op = "set";
      p += 4;
    } else if (s.startsWith('clear"', p)) {
      op = "clear";
      p += 6;
    } else {
      return undefined;
    }
    if (!s.startsWith(',"csr":"', p)) return undefined;
    const nameStart = p + 8;
    const nameEnd = s.indexOf('"', nameStart);
    if (nameEnd < 0 || !s.startsWith(',"num":"0x', nameEnd + 1)) return undefined;
    p = nameEnd + 11;
    let csr = 0;
    const numStart = p;
    for (let d = hexDigit(s.charCodeAt(p)); d >= 0; d = hexDigit(s.charCodeAt(++p))) {
      csr = csr * 16 + d;
    }
    if (p === numStart || p - numStart > 3 || s.charCodeAt(p) !== 0x22) return undefined;
    const name = CSR_NAMES[csr]!;
    if (nameEnd - nameStart !== name.length || !s.startsWith(name, nameStart)) return undefined;
    p++;
    let arg: bigint | undefined;
    if (op !== "read") {
      if (!s.startsWith(',"arg":"0x', p)) return undefined;
      p = parseHexValue(s, p + 10);
      if (p < 0 || s.charCodeAt(p) !== 0x22) return undefined;
      arg = scannedValue;
      p++;
    }
    let ret: bigint | undefined;
    let trap: number | undefined;
    if (s.startsWith(',"ret":"0x', p)) {
      p = parseHexValue(s, p + 10);
      if (p < 0 || s.charCodeAt(p) !== 0x22) return undefined;
      ret = scannedValue;
      p++;
    } else if (s.startsWith(',"trap":', p)) {
      p = parseUint(s, p + 8);
      if (p < 0 || scanned > 63) return undefined;
      trap = scanned;
    } else {
      return undefined;
    }
    if (p !== s.length - 1 || s.charCodeAt(p) !== 0x7d) return undefined;
    this.#nextIndex++;
    return { i, hart, op, csr, arg, ret, trap, line };
  }

  #parseEvent(text: string, line: number): TraceEvent {
    if (text.trim() === "") throw this.error(line, "the line is empty; expected an event");
    const raw = this.#json(text, line, "event");
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw this.error(line, `expected an event object, got ${describe(raw)}`);
    }
    const e = raw as Record<string, unknown>;
    const i = e.i;
    if (i !== this.#nextIndex) {
      throw this.error(
        line,
        `the event's "i" is ${describe(i)}, expected ${this.#nextIndex} ` +
          `(events are numbered from 0 in file order)`,
      );
    }
    const hart = e.hart;
    if (typeof hart !== "number" || !this.#harts.has(hart)) {
      throw this.error(
        line,
        `the event's "hart" is ${describe(hart)}, which is not one of the header's harts ${
          this.header.harts.join(", ")
        }`,
      );
    }
    const op = OP_CODES.get(e.op as string);
    if (op === undefined) {
      throw this.error(
        line,
        `the event's "op" is ${describe(e.op)}, expected "read", "write", "set" or "clear"`,
      );
    }
    const csr = this.#csr(e.num, line);
    if (e.csr !== CSR_NAMES[csr] && e.csr !== `csr0x${csr.toString(16).padStart(3, "0")}`) {
      throw this.error(
        line,
        `the event's "csr" is ${describe(e.csr)}, but "num" ${describe(e.num)} is "${
          CSR_NAMES[csr]
        }"`,
      );
    }
    let arg: bigint | undefined;
    if (op === "read") {
      if (e.arg !== undefined) throw this.error(line, `a read event has no "arg"`);
    } else {
      if (e.arg === undefined) throw this.error(line, `a ${op} event needs an "arg"`);
      arg = this.#value(e.arg, "arg", line);
    }
    let ret: bigint | undefined;
    let trap: number | undefined;
    if (e.trap !== undefined) {
      if (e.ret !== undefined) {
        throw this.error(line, `an event has either "ret" or "trap", not both`);
      }
      const cause = e.trap;
      if (typeof cause !== "number" || !Number.isInteger(cause) || cause < 0 || cause > 63) {
        throw this.error(
          line,
          `the event's "trap" is ${describe(cause)}, expected an exception cause from 0 to 63`,
        );
      }
      trap = cause;
    } else {
      if (e.ret === undefined) throw this.error(line, `an event needs "ret" or "trap"`);
      ret = this.#value(e.ret, "ret", line);
    }
    this.#nextIndex++;
    return { i: i as number, hart, op, csr, arg, ret, trap, line };
  }

  #csr(num: unknown, line: number): number {
    if (typeof num === "string" && /^0x[0-9a-f]{1,3}$/i.test(num)) return parseInt(num, 16);
    throw this.error(
      line,
      `the event's "num" is ${describe(num)}, expected a CSR address from "0x000" to "0xfff"`,
    );
  }

  #value(text: unknown, key: string, line: number): bigint {
    if (
      typeof text === "string" && text.length > 2 && text.charCodeAt(0) === 48 &&
      (text.charCodeAt(1) === 120 || text.charCodeAt(1) === 88)
    ) {
      try {
        const value = BigInt(text);
        if (value <= ALL_ONES && text.trim() === text) return value;
      } catch {
        // reported below
      }
    }
    throw this.error(
      line,
      `the event's "${key}" is ${describe(text)}, expected a 64-bit "0x…" hex string`,
    );
  }
}

/**
 * Reads the header of a trace without reading its events.
 *
 * Requires `--allow-read` for the trace file.
 *
 * @example Usage
 * ```ts
 * import { readTraceHeader, recordHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * await (await recordHal(await createEmulatorHal({ harts: 4 }), { path })).close();
 * const header = readTraceHeader(path);
 * strictEqual(header.backend, "emulator");
 * strictEqual(header.harts.length, 4);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param path The trace file.
 * @returns The header.
 * @throws {AxError} When the file cannot be opened.
 * @throws {TraceFormatError} When line 1 is not a valid header.
 */
export function readTraceHeader(path: string): TraceHeader {
  const reader = TraceReader.open(path);
  reader.close();
  return reader.header;
}

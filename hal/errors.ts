/**
 * The error model: one root, {@linkcode AxError}, whose `kind` is one of
 * ArceOS `axerrno`'s kinds, and subclasses that carry structured data.
 *
 * ```
 * AxError (kind)
 * ├── CsrTrap            kind "Unsupported"   the hart refused a CSR access
 * ├── ManifestError      kind "InvalidInput"  a manifest mistake, with file:line:column
 * ├── TraceDivergence    kind "InvalidData"   a replay departed from its trace
 * ├── TraceFormatError   kind "InvalidData"   a trace file is malformed
 * ├── QmpError           kind "Io"            QEMU answered a QMP command with an error
 * └── GdbProtocolError   kind "Io"            the gdbstub broke the remote protocol
 * ```
 *
 * Callers branch on `kind` (or `instanceof` for the data); every class sets
 * `name` and passes `cause` through.
 *
 * @module
 */

import { csrName } from "./csr_numbers.ts";
import { exceptionName } from "./trap_bits.ts";
import type { CsrNum, HartId } from "./types.ts";

/**
 * The kinds of {@linkcode AxError}: ArceOS `axerrno`'s names. Branch on the
 * kind, not on the class or the message.
 *
 * @example Usage
 * ```ts
 * import { AxError, type AxErrorKind, CSR } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 2 });
 * const kind: AxErrorKind | undefined = await hal.csr.read(5, CSR.sscratch).then(
 *   () => undefined,
 *   (error) => error instanceof AxError ? error.kind : undefined,
 * );
 * strictEqual(kind, "NotFound"); // there is no hart 5
 * await hal.close();
 * ```
 */
export type AxErrorKind =
  | "Unsupported"
  | "BadState"
  | "InvalidInput"
  | "InvalidData"
  | "NotFound"
  | "Timeout"
  | "Io"
  | "ResourceBusy"
  | "AlreadyExists";

/**
 * Options of {@linkcode AxError}.
 *
 * @example Usage
 * ```ts
 * import { AxError } from "@rvhv/percpu";
 * import { type AxErrorOptions } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const cause = new Error("connection reset");
 * const options: AxErrorOptions = { hart: 3, cause };
 * const error = new AxError("Io", "Cannot read CSR \"sstatus\" on hart 3: the link dropped", options);
 * strictEqual(error.hart, 3);
 * strictEqual(error.cause, cause);
 * ```
 */
export interface AxErrorOptions extends ErrorOptions {
  /** The hart the error is about. */
  hart?: HartId;
}

/**
 * The root of every error rvhv raises on purpose.
 *
 * @example Usage
 * ```ts
 * import { AxError } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const error = new AxError("BadState", "Cannot enable hart 0: it is already enabled", { hart: 0 });
 * strictEqual(error.kind, "BadState");
 * strictEqual(error.hart, 0);
 * ```
 */
export class AxError extends Error {
  /** What went wrong, in `axerrno`'s terms. */
  readonly kind: AxErrorKind;
  /** The hart the error is about, when there is one. */
  hart: HartId | undefined;
  /**
   * Set when an operation that failed tried to undo what it had done and that
   * failed too (a set-up's restore of the prior values): those failures.
   */
  rollbackErrors?: readonly Error[];

  /**
   * Creates an error.
   *
   * @param kind The kind.
   * @param message What failed and why.
   * @param options `cause` and `hart`.
   */
  constructor(kind: AxErrorKind, message: string, options?: AxErrorOptions) {
    super(message, options);
    this.name = "AxError";
    this.kind = kind;
    this.hart = options?.hart;
  }
}

/**
 * Attaches the failures of an undo (a restore, a close) to the error being
 * reported, after any it already carries: the error stays the one to report,
 * and nothing is lost. An error that is not an object carries nothing.
 *
 * @example Usage
 * ```ts
 * import { addRollbackErrors, AxError } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const error = new AxError("Io", "the set-up batch timed out");
 * addRollbackErrors(error, [new Error("the restore timed out too"), "refused"]);
 * strictEqual(error.rollbackErrors!.length, 2);
 * strictEqual(error.rollbackErrors![1]!.message, "refused");
 * ```
 *
 * @param error The error being reported.
 * @param failures What failed while undoing; non-`Error`s are wrapped.
 */
export function addRollbackErrors(error: unknown, failures: readonly unknown[]): void {
  if (failures.length === 0 || error === null || typeof error !== "object") return;
  const carrier = error as { rollbackErrors?: readonly Error[] };
  carrier.rollbackErrors = Object.freeze([
    ...(carrier.rollbackErrors ?? []),
    ...failures.map((failure) => failure instanceof Error ? failure : new Error(String(failure))),
  ]);
}

/**
 * What {@linkcode CsrTrap} is built from.
 *
 * @example Usage
 * ```ts
 * import { CSR, CsrTrap } from "@rvhv/percpu";
 * import { type CsrTrapInit } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const init: CsrTrapInit = { hart: 0, csr: CSR.hedeleg, trapCause: 2, op: "write" };
 * strictEqual(
 *   new CsrTrap(init).message,
 *   'Cannot write CSR "hedeleg" (0x602) on hart 0: the hart raised ILLEGAL_INSTRUCTION (cause 2)',
 * );
 * ```
 */
export interface CsrTrapInit extends ErrorOptions {
  /** The hart that trapped. */
  hart: HartId;
  /** The CSR accessed. */
  csr: CsrNum;
  /** The exception cause the hart raised (2: illegal instruction). */
  trapCause: number;
  /** The operation that trapped. */
  op?: "read" | "write" | "set" | "clear";
}

/**
 * A hart refused a CSR access: executing the CSR instruction raised an
 * exception (usually illegal instruction, cause 2).
 *
 * @example Usage
 * ```ts
 * import { CSR, CsrTrap } from "@rvhv/percpu";
 * import { match, strictEqual } from "node:assert/strict";
 *
 * const trap = new CsrTrap({ hart: 1, csr: CSR.hgatp, trapCause: 2, op: "read" });
 * strictEqual(trap.kind, "Unsupported");
 * match(trap.message, /hgatp.*0x680.*hart 1.*ILLEGAL_INSTRUCTION/);
 * ```
 */
export class CsrTrap extends AxError {
  /** The hart that trapped. */
  override hart: HartId;
  /** The CSR accessed. */
  readonly csr: CsrNum;
  /** The exception cause the hart raised. */
  readonly trapCause: number;

  /**
   * Creates a trap error.
   *
   * @param init The hart, CSR, cause and operation.
   */
  constructor(init: CsrTrapInit) {
    const verb = init.op === undefined || init.op === "read" ? "read" : init.op;
    const hex = `0x${init.csr.toString(16).padStart(3, "0")}`;
    super(
      "Unsupported",
      `Cannot ${verb} CSR "${csrName(init.csr)}" (${hex}) on hart ${init.hart}: ` +
        `the hart raised ${exceptionName(init.trapCause)} (cause ${init.trapCause})`,
      { cause: init.cause, hart: init.hart },
    );
    this.name = "CsrTrap";
    this.hart = init.hart;
    this.csr = init.csr;
    this.trapCause = init.trapCause;
  }
}

/**
 * What {@linkcode ManifestError} is built from.
 *
 * @example Usage
 * ```ts
 * import { ManifestError } from "@rvhv/percpu";
 * import { type ManifestErrorInit } from "./errors.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const init: ManifestErrorInit = {
 *   file: "rvhv.yaml", line: 4, column: 14, path: ["backend", "options", "harts"],
 *   detail: "expected a positive integer",
 * };
 * const error = new ManifestError(init);
 * deepStrictEqual(error.path, ["backend", "options", "harts"]);
 * strictEqual(error.line, 4);
 * ```
 */
export interface ManifestErrorInit extends ErrorOptions {
  /** The manifest file (as given to the loader). */
  file: string;
  /** 1-based line; 0 when the manifest did not come from text. */
  line: number;
  /** 1-based column; 0 when the manifest did not come from text. */
  column: number;
  /** The key path of the offending value, e.g. `["backend", "options", "harts"]`. */
  path: readonly (string | number)[];
  /** What is wrong there. */
  detail: string;
}

/**
 * A mistake in a manifest, located by file, line, column and key path.
 *
 * @example Usage
 * ```ts
 * import { ManifestError } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const error = new ManifestError({
 *   file: "rvhv.yaml", line: 3, column: 5, path: ["backend", "plugin"],
 *   detail: 'unknown plugin "emu"',
 * });
 * strictEqual(error.message, 'Invalid manifest at rvhv.yaml:3:5 (backend.plugin): unknown plugin "emu"');
 * ```
 */
export class ManifestError extends AxError {
  /** The manifest file. */
  readonly file: string;
  /** 1-based line (0: unknown). */
  readonly line: number;
  /** 1-based column (0: unknown). */
  readonly column: number;
  /** The key path of the offending value. */
  readonly path: string[];
  /** What is wrong, without the location. */
  readonly detail: string;

  /**
   * Creates a manifest error.
   *
   * @param init Location and detail.
   */
  constructor(init: ManifestErrorInit) {
    const where = init.line > 0 ? `${init.file}:${init.line}:${init.column}` : init.file;
    const path = init.path.length > 0 ? ` (${init.path.join(".")})` : "";
    super("InvalidInput", `Invalid manifest at ${where}${path}: ${init.detail}`, {
      cause: init.cause,
    });
    this.name = "ManifestError";
    this.file = init.file;
    this.line = init.line;
    this.column = init.column;
    this.path = init.path.map(String);
    this.detail = init.detail;
  }
}

/**
 * What {@linkcode TraceDivergence} is built from.
 *
 * @example Usage
 * ```ts
 * import { CSR, TraceDivergence } from "@rvhv/percpu";
 * import { type TraceDivergenceInit } from "./errors.ts";
 * import { match } from "node:assert/strict";
 *
 * const init: TraceDivergenceInit = {
 *   file: "run.jsonl", index: 12, hart: 1, csr: CSR.hcounteren,
 *   expected: "write hcounteren 0xffffffffffffffff", actual: "write hcounteren 0x2",
 * };
 * match(new TraceDivergence(init).message, /departs from run\.jsonl at event 12/);
 * ```
 */
export interface TraceDivergenceInit extends ErrorOptions {
  /** The trace file. */
  file: string;
  /** The `i` of the trace event the request was matched against. */
  index: number;
  /** The hart of the request. */
  hart: HartId;
  /** The CSR of the request. */
  csr: CsrNum;
  /** The event the trace holds next for this hart (`"end of trace"` when none). */
  expected: string;
  /** The request that arrived. */
  actual: string;
}

/**
 * A replayed run asked for something its trace does not hold next.
 *
 * @example Usage
 * ```ts
 * import { CSR, TraceDivergence } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const error = new TraceDivergence({
 *   file: "run.jsonl", index: 7, hart: 0, csr: CSR.hedeleg,
 *   expected: "write hedeleg 0xb10d", actual: "write hedeleg 0xb109",
 * });
 * strictEqual(error.kind, "InvalidData");
 * strictEqual(error.index, 7);
 * ```
 */
export class TraceDivergence extends AxError {
  /** The trace file. */
  readonly file: string;
  /** The `i` of the trace event that did not match. */
  readonly index: number;
  /** The hart of the request. */
  override hart: HartId;
  /** The CSR of the request. */
  readonly csr: CsrNum;
  /** What the trace holds. */
  readonly expected: string;
  /** What arrived. */
  readonly actual: string;

  /**
   * Creates a divergence error.
   *
   * @param init Where and how the run departed from the trace.
   */
  constructor(init: TraceDivergenceInit) {
    super(
      "InvalidData",
      `Cannot replay CSR "${csrName(init.csr)}" on hart ${init.hart}: ` +
        `the run departs from ${init.file} at event ${init.index}: ` +
        `expected ${init.expected}, got ${init.actual}; ` +
        `re-record the trace with "rvhv record <manifest> -o ${init.file}" if the change is intended`,
      { cause: init.cause, hart: init.hart },
    );
    this.name = "TraceDivergence";
    this.file = init.file;
    this.index = init.index;
    this.hart = init.hart;
    this.csr = init.csr;
    this.expected = init.expected;
    this.actual = init.actual;
  }
}

/**
 * What {@linkcode TraceFormatError} is built from.
 *
 * @example Usage
 * ```ts
 * import { TraceFormatError } from "@rvhv/percpu";
 * import { type TraceFormatErrorInit } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const init: TraceFormatErrorInit = { file: "run.jsonl", line: 9, detail: "the line is not JSON" };
 * const error = new TraceFormatError(init);
 * strictEqual(error.line, 9);
 * strictEqual(error.kind, "InvalidData");
 * ```
 */
export interface TraceFormatErrorInit extends ErrorOptions {
  /** The trace file. */
  file: string;
  /** 1-based line; the header is line 1. */
  line: number;
  /** What is wrong with that line. */
  detail: string;
}

/**
 * A trace file is malformed: a corrupt, truncated or unknown-version line.
 *
 * @example Usage
 * ```ts
 * import { TraceFormatError } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const error = new TraceFormatError({ file: "run.jsonl", line: 1, detail: "unknown version 9" });
 * strictEqual(error.message, "Cannot read trace run.jsonl:1: unknown version 9");
 * ```
 */
export class TraceFormatError extends AxError {
  /** The trace file. */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;

  /**
   * Creates a trace format error.
   *
   * @param init File, line and detail.
   */
  constructor(init: TraceFormatErrorInit) {
    super("InvalidData", `Cannot read trace ${init.file}:${init.line}: ${init.detail}`, {
      cause: init.cause,
    });
    this.name = "TraceFormatError";
    this.file = init.file;
    this.line = init.line;
  }
}

/**
 * What {@linkcode QmpError} is built from.
 *
 * @example Usage
 * ```ts
 * import { QmpError } from "@rvhv/percpu";
 * import { type QmpErrorInit } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const init: QmpErrorInit = {
 *   command: "cont", errorClass: "GenericError", desc: "Resetting the Virtual Machine is required",
 * };
 * const error = new QmpError(init);
 * strictEqual(error.desc, "Resetting the Virtual Machine is required");
 * strictEqual(
 *   error.message,
 *   'Cannot execute QMP command "cont": Resetting the Virtual Machine is required (GenericError)',
 * );
 * ```
 */
export interface QmpErrorInit extends ErrorOptions {
  /** The QMP command that failed. */
  command: string;
  /** QEMU's error class (mostly `GenericError`; do not branch on it). */
  errorClass: string;
  /** QEMU's description. */
  desc: string;
}

/**
 * QEMU answered a QMP command with an error.
 *
 * @example Usage
 * ```ts
 * import { QmpError } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const error = new QmpError({ command: "no-such-cmd", errorClass: "CommandNotFound", desc: "The command no-such-cmd has not been found" });
 * strictEqual(error.kind, "Io");
 * strictEqual(error.errorClass, "CommandNotFound");
 * ```
 */
export class QmpError extends AxError {
  /** QEMU's error class. */
  readonly errorClass: string;
  /** QEMU's description. */
  readonly desc: string;

  /**
   * Creates a QMP error.
   *
   * @param init Command, class and description.
   */
  constructor(init: QmpErrorInit) {
    super("Io", `Cannot execute QMP command "${init.command}": ${init.desc} (${init.errorClass})`, {
      cause: init.cause,
    });
    this.name = "QmpError";
    this.errorClass = init.errorClass;
    this.desc = init.desc;
  }
}

/**
 * The gdbstub broke the remote serial protocol (bad checksum, unexpected
 * reply, an error code that means nothing here).
 *
 * @example Usage
 * ```ts
 * import { GdbProtocolError } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(new GdbProtocolError("Cannot read register: reply was empty").kind, "Io");
 * ```
 */
export class GdbProtocolError extends AxError {
  /**
   * Creates a protocol error.
   *
   * @param message What failed.
   * @param options `cause` and `hart`.
   */
  constructor(message: string, options?: AxErrorOptions) {
    super("Io", message, options);
    this.name = "GdbProtocolError";
  }
}

/**
 * Marks an option error with the key path of the option, the form
 * `HalPlugin.parseOptions` throws so a manifest can point at the line.
 *
 * @example Usage
 * ```ts
 * import { invalidOption } from "@rvhv/percpu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const error = invalidOption(["ram", "size"], "must be a multiple of 4096");
 * deepStrictEqual(error.path, ["ram", "size"]);
 * ```
 *
 * @param path The option's key path below `options`.
 * @param detail What is wrong.
 * @returns A `TypeError` with a `path` property.
 */
export function invalidOption(
  path: readonly (string | number)[],
  detail: string,
): TypeError & { path: string[] } {
  const at = path.length > 0 ? `option "${path.join(".")}"` : "options";
  const error = new TypeError(`Invalid ${at}: ${detail}`) as TypeError & { path: string[] };
  error.path = path.map(String);
  return error;
}

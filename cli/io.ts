/**
 * What every CLI command shares: output streams, exit codes, usage errors.
 *
 * @module
 */

import { AxError, ManifestError, TraceDivergence, TraceFormatError } from "../hal/errors.ts";
import { permissionHint } from "./permission_hint.ts";

/** Where a command writes: data to `out` (stdout), progress and errors to `err` (stderr). */
export interface CliIo {
  /** Writes data (stdout). */
  out(text: string): void;
  /** Writes progress and diagnostics (stderr). */
  err(text: string): void;
  /** Where a manifest given as `-` is read from. Default: the process's standard input. */
  readonly stdin?: ReadableStream<Uint8Array>;
}

/** Control characters but newline and tab: C0, DEL and C1. */
// deno-lint-ignore no-control-regex -- matching them is the point: they are escaped
const CONTROL_REGEXP = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text safe for a terminal: control characters (an escape sequence in a
 * manifest's string, say) are shown as `\uXXXX`, never sent raw.
 *
 * @param text The text.
 * @returns The text with control characters escaped.
 */
export function printable(text: string): string {
  return text.replace(
    CONTROL_REGEXP,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * An io whose every write goes through {@linkcode printable}: what the CLI
 * prints may quote manifests, traces and plugin messages.
 *
 * @param io The streams.
 * @returns The same streams, escaping control characters.
 */
export function printableIo(io: CliIo): CliIo {
  return {
    out: (text) => io.out(printable(text)),
    err: (text) => io.err(printable(text)),
    ...(io.stdin === undefined ? {} : { stdin: io.stdin }),
  };
}

/** The exit codes, as documented in docs/cli.md ("Exit codes"). */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** A difference, drift or failed check (e.g. a hart without H). */
  check: 1,
  /** A usage or manifest error. */
  usage: 2,
  /** The backend failed (I/O, time-out, a crash). */
  backend: 3,
} as const;

/** A mistake in the command line. */
export class UsageError extends Error {
  /**
   * Creates a usage error.
   *
   * @param message What is wrong with the command line.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One CLI command. */
export interface Command {
  /** The command's name. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The `--help` text. */
  readonly help: string;
  /**
   * Runs the command.
   *
   * @param args The arguments after the command name.
   * @param io Output streams.
   * @returns The exit code.
   */
  run(args: string[], io: CliIo): Promise<number>;
}

/**
 * The exit code an error stands for: 2 for usage and manifest errors, a
 * malformed trace and a permission the command line did not grant, 1 for a
 * hart that cannot be set up and for a run that
 * departs from its trace (also when only its rollback met the departure), 3
 * for a backend failure.
 *
 * @param error What was thrown.
 * @returns The exit code.
 */
export function exitCodeOf(error: unknown): number {
  if (
    error instanceof UsageError || error instanceof ManifestError ||
    error instanceof TraceFormatError || permissionHint(error) !== undefined
  ) {
    return EXIT.usage;
  }
  if (error instanceof TraceDivergence || divergenceBehind(error) !== undefined) {
    return EXIT.check;
  }
  if (error instanceof AxError) {
    switch (error.kind) {
      case "Unsupported":
        return EXIT.check;
      case "InvalidInput":
      case "NotFound":
        return EXIT.usage;
      default:
        return EXIT.backend;
    }
  }
  if (error instanceof RangeError) return EXIT.usage;
  return EXIT.backend;
}

/**
 * Whether an error is about a trace: the run departs from it (also when only
 * a rollback met the departure) or the trace is malformed.
 *
 * @param error What was thrown.
 * @returns `true` for a trace error.
 */
export function isTraceError(error: unknown): boolean {
  return error instanceof TraceDivergence || error instanceof TraceFormatError ||
    divergenceBehind(error) !== undefined;
}

/** A trace divergence that a failed rollback met, behind the error that started it. */
function divergenceBehind(error: unknown): TraceDivergence | undefined {
  const rollback = (error as { rollbackErrors?: readonly Error[] } | null)?.rollbackErrors ?? [];
  return rollback.find((e): e is TraceDivergence => e instanceof TraceDivergence);
}

/**
 * Prints an error the way every command does (`rvhv: <message>`, the trace
 * divergence its rollback met, if any, and the flag to add when Deno refused
 * an access) and returns its exit code.
 *
 * @param error What was thrown.
 * @param io Where to print.
 * @returns The exit code.
 */
export function reportError(error: unknown, io: CliIo): number {
  io.err(`rvhv: ${error instanceof Error ? error.message : String(error)}\n`);
  const divergence = divergenceBehind(error);
  if (divergence !== undefined) io.err(`rvhv: ${divergence.message}\n`);
  const grant = permissionHint(error);
  if (grant !== undefined) {
    io.err(
      `rvhv: add ${grant.flag} to the deno run command${grant.why ? ` (${grant.why})` : ""}; ` +
        `what each command needs: docs/cli.md, "Permissions"\n`,
    );
  }
  return exitCodeOf(error);
}

/**
 * Renders rows as an aligned text table.
 *
 * @param headers Column titles.
 * @param rows Cells.
 * @returns The table, one line per row, with a trailing newline.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = tableWidths(headers, rows);
  return [tableLine(widths, headers), ...rows.map((row) => tableLine(widths, row))].join("\n") +
    "\n";
}

/**
 * The width of each column of a table (what {@linkcode renderTable} pads
 * to), for a table printed a line at a time.
 *
 * @param headers Column titles.
 * @param rows Cells.
 * @returns One width per column.
 */
export function tableWidths(
  headers: readonly string[],
  rows: Iterable<readonly string[]>,
): number[] {
  const widths = headers.map((header) => header.length);
  for (const row of rows) {
    for (let i = 0; i < widths.length; i++) {
      widths[i] = Math.max(widths[i]!, (row[i] ?? "").length);
    }
  }
  return widths;
}

/**
 * One line of a table: every cell but the last padded to its column's
 * width, two spaces between, no trailing blanks, no newline.
 *
 * @param widths From {@linkcode tableWidths}.
 * @param cells The cells.
 * @returns The line.
 */
export function tableLine(widths: readonly number[], cells: readonly string[]): string {
  return cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
    .trimEnd();
}

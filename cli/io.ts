/**
 * What every CLI command shares: output streams, exit codes, usage errors.
 *
 * @module
 */

import { AxError, ManifestError } from "../hal/errors.ts";

/** Where a command writes: data to `out` (stdout), progress and errors to `err` (stderr). */
export interface CliIo {
  /** Writes data (stdout). */
  out(text: string): void;
  /** Writes progress and diagnostics (stderr). */
  err(text: string): void;
}

/** The exit codes, as documented in the README. */
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
 * The exit code an error stands for.
 *
 * @param error What was thrown.
 * @returns The exit code.
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof ManifestError) return EXIT.usage;
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
  return EXIT.backend;
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
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

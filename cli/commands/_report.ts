/**
 * What the record, replay, diff and verify commands share: the per-hart
 * table, JSON forms of trace values, and the exit codes of trace errors.
 *
 * @module
 */

import { TraceDivergence, TraceFormatError } from "../../hal/errors.ts";
import { hex } from "../../hal/hex.ts";
import type { CsrResult, HalInfo } from "../../hal/types.ts";
import type { PerCpuSet } from "../../percpu/percpu_set.ts";
import { SETUP_CSR_NAMES } from "../../percpu/policy.ts";
import { describeHart, type HartDescription } from "../../percpu/report.ts";
import type { TraceEvent } from "../../trace/format.ts";
import { csrHex } from "../../trace/format.ts";
import { csrName } from "../../hal/csr_numbers.ts";
import { type CliIo, EXIT, renderTable } from "../io.ts";

/**
 * The per-hart table `up` prints: state, H, the set-up's CSRs as kept, and
 * the bits each hart refused.
 *
 * @param percpus The harts.
 * @returns The table.
 */
export function hartTable(percpus: PerCpuSet): string {
  const rows = [...percpus].map((percpu) => {
    const report = percpu.csrReport();
    const refused = report.filter((e) => e.refused !== 0n).map((e) =>
      `${e.name} ${hex(e.refused)}`
    );
    return [
      String(percpu.cpuId),
      percpu.state,
      "yes",
      ...report.map((entry) => hex(entry.kept)),
      refused.join(", ") || "-",
    ];
  });
  return renderTable(["hart", "state", "H", ...SETUP_CSR_NAMES, "refused"], rows);
}

/**
 * The harts as JSON (the shape `up --json` prints).
 *
 * @param percpus The harts.
 * @returns One description per hart.
 */
export function hartsJson(percpus: PerCpuSet): HartDescription[] {
  return [...percpus].map((percpu) => describeHart(percpu));
}

/**
 * A one-line description of a backend: `emulator qemu-7.2 opensbi-1.1`.
 *
 * @param info The backend's info.
 * @returns The text.
 */
export function describeBackend(info: HalInfo): string {
  return [info.backend, info.profile, info.firmware].filter((x) => typeof x === "string").join(" ");
}

/**
 * An event as JSON: the trace line's own form, plus its line number.
 *
 * @param event The event.
 * @returns A JSON-ready object.
 */
export function eventJson(event: TraceEvent): Record<string, unknown> {
  return {
    i: event.i,
    line: event.line,
    hart: event.hart,
    op: event.op,
    csr: csrName(event.csr),
    num: csrHex(event.csr),
    ...(event.arg === undefined ? {} : { arg: hex(event.arg) }),
    ...(event.trap === undefined ? { ret: hex(event.ret!) } : { trap: event.trap }),
  };
}

/**
 * A CSR read's outcome as text or JSON: `0x…`, or `trap N`.
 *
 * @param result The outcome.
 * @returns The text.
 */
export function resultText(result: CsrResult): string {
  return result.ok ? hex(result.value) : `trap ${result.trapCause}`;
}

/**
 * Prints a trace error and returns its exit code: 1 for a divergence (the
 * run differs from its recording), 2 for a malformed trace; `undefined` for
 * any other error (including one whose rollback met a divergence, which is
 * then printed too and makes the code 1).
 *
 * @param error What was thrown.
 * @param io Where to print.
 * @returns The exit code, or `undefined`.
 */
export function traceErrorExit(error: unknown, io: CliIo): number | undefined {
  if (error instanceof TraceDivergence) {
    io.err(`rvhv: ${error.message}\n`);
    return EXIT.check;
  }
  if (error instanceof TraceFormatError) {
    io.err(`rvhv: ${error.message}\n`);
    return EXIT.usage;
  }
  const rollback = (error as { rollbackErrors?: readonly Error[] } | null)?.rollbackErrors ?? [];
  const divergence = rollback.find((e) => e instanceof TraceDivergence);
  if (divergence !== undefined) {
    io.err(`rvhv: ${(error as Error).message}\n`);
    io.err(`rvhv: ${(divergence as Error).message}\n`);
    return EXIT.check;
  }
  return undefined;
}

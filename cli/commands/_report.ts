/**
 * What the record, replay, diff and verify commands share: the per-hart
 * table, JSON forms of trace values, and the exit codes of trace errors.
 *
 * @module
 */

import { hex } from "../../hal/hex.ts";
import type { AxVCpuHal, CsrResult, HalInfo, HartId } from "../../hal/types.ts";
import type { PerCpuSet } from "../../percpu/percpu_set.ts";
import { SETUP_CSR_NAMES } from "../../percpu/policy.ts";
import { describeHart, type HartDescription } from "../../percpu/report.ts";
import { currentReport, latestVcpuOf } from "../../percpu/_bound.ts";
import type { TraceEvent } from "../../trace/format.ts";
import { csrHex } from "../../trace/format.ts";
import { csrName } from "../../hal/csr_numbers.ts";
import { type CliIo, isTraceError, renderTable, reportError } from "../io.ts";

/**
 * The per-hart table `up` prints: state, H, the set-up's CSRs as kept (by
 * the set-up, or by the vCPU bind that loaded a per-vCPU delegation), how
 * each hart's values were produced (for backends with more than one way),
 * and the bits each hart refused; then each hart's vCPU, when any has one.
 *
 * @param percpus The harts.
 * @param via How a hart's accesses were served, when the backend says.
 * @returns The table.
 */
export function hartTable(percpus: PerCpuSet, via?: (hart: HartId) => string): string {
  const rows = [...percpus].map((percpu) => {
    const report = currentReport(percpu);
    const refused = report.filter((e) => e.refused !== 0n).map((e) =>
      `${e.name} ${hex(e.refused)}`
    );
    return [
      String(percpu.cpuId),
      percpu.state,
      "yes",
      ...report.map((entry) => hex(entry.kept)),
      ...(via === undefined ? [] : [via(percpu.cpuId)]),
      refused.join(", ") || "-",
    ];
  });
  return renderTable(
    ["hart", "state", "H", ...SETUP_CSR_NAMES, ...(via === undefined ? [] : ["via"]), "refused"],
    rows,
  ) + (vcpuLine(percpus) ?? "");
}

/**
 * A line naming each hart's vCPU (the one bound last: bound now, or free
 * since), identical harts grouped: `vcpus: hart 2 vm 1 bound; harts 0–1, 3
 * none`. `undefined` when no hart has one, so output without vCPUs is as
 * before.
 *
 * @param percpus The harts.
 * @returns The line, or `undefined`.
 */
export function vcpuLine(percpus: PerCpuSet): string | undefined {
  const groups = new Map<string, HartId[]>();
  for (const percpu of percpus) {
    const vcpu = latestVcpuOf(percpu);
    const text = vcpu === undefined ? "none" : `vm ${vcpu.vmId} ${vcpu.state}`;
    groups.set(text, [...(groups.get(text) ?? []), percpu.cpuId]);
  }
  if (groups.size === 1 && groups.has("none")) return undefined;
  const parts = [...groups].map(([text, harts]) =>
    `hart${harts.length === 1 ? "" : "s"} ${hartRanges(harts)} ${text}`
  );
  return `vcpus: ${parts.join("; ")}\n`;
}

/**
 * How each hart's values were produced, for backends with more than one way
 * (the QEMU backend's `access`): the backend's `accessPath` capability, or
 * its one `access` mode; `undefined` for backends with one way (no column).
 *
 * @param hal The backend.
 * @returns The per-hart description, or `undefined`.
 */
export function accessPaths(hal: AxVCpuHal): ((hart: HartId) => string) | undefined {
  const access = hal.info().access;
  if (typeof access !== "string") return undefined;
  if (hal.accessPath !== undefined) return (hart) => hal.accessPath!(hart);
  return () => access;
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
 * Closes a system at the end of a command that already has its result: a
 * trace error the close raises (a strict replay with events left over, a
 * divergence met while restoring) is printed and does not hide that result;
 * any other failure is thrown.
 *
 * @param system The system.
 * @param io Where to print.
 */
export async function closeReporting(system: { close(): Promise<void> }, io: CliIo): Promise<void> {
  try {
    await system.close();
  } catch (error) {
    if (!isTraceError(error)) throw error;
    reportError(error, io);
  }
}

/**
 * Hart ids as a short list: runs as ranges (`0–3, 5, 7–63`).
 *
 * @param harts The harts, ascending.
 * @returns The text.
 */
export function hartRanges(harts: readonly HartId[]): string {
  const parts: string[] = [];
  for (let i = 0; i < harts.length;) {
    let j = i;
    while (j + 1 < harts.length && harts[j + 1] === harts[j]! + 1) j++;
    parts.push(j === i ? String(harts[i]) : `${harts[i]}–${harts[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/**
 * Table rows for many harts, identical harts grouped: harts whose rows are
 * the same are printed once, the first cell naming them all (`0–63`), so a
 * 64-hart machine whose harts agree takes the lines one hart does.
 *
 * @param perHart Each hart's rows (without a hart column), in hart order.
 * @returns The rows, each starting with its harts.
 */
export function groupedRows(perHart: ReadonlyMap<HartId, readonly string[][]>): string[][] {
  const groups = new Map<string, { harts: HartId[]; rows: readonly string[][] }>();
  for (const [hart, rows] of perHart) {
    const key = JSON.stringify(rows);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { harts: [hart], rows });
    else group.harts.push(hart);
  }
  return [...groups.values()].flatMap(({ harts, rows }) =>
    rows.map((row) => [hartRanges(harts), ...row])
  );
}

/**
 * What the record, replay, diff and verify commands share: the per-hart
 * table, JSON forms of trace values, and the exit codes of trace errors.
 *
 * @module
 */

import { hex } from "../../hal/hex.ts";
import type { AxVCpuHal, CsrResult, HalInfo, HartId } from "../../hal/types.ts";
import { hartsToRead, type PerCpuSet } from "../../percpu/percpu_set.ts";
import type { RISCVPerCpu } from "../../percpu/riscv_percpu.ts";
import { SETUP_CSR_NAMES } from "../../percpu/policy.ts";
import { describeHart, type HartDescription } from "../../percpu/report.ts";
import { currentReport, latestVcpuOf } from "../../percpu/_bound.ts";
import type { TraceEvent } from "../../trace/format.ts";
import { csrHex } from "../../trace/format.ts";
import { csrName } from "../../hal/csr_numbers.ts";
import { type CliIo, isTraceError, reportError, tableLine, tableWidths } from "../io.ts";

/**
 * How many harts' lines, and how many harts' JSON objects (about 2 KB
 * each), are written at a time when output streams: each piece stays under
 * 128 KiB, which the engine allocates and frees like any small object (larger
 * strings go to a space only a full collection empties, and pile up).
 */
const LINES_PER_WRITE = 512;
const JSON_HARTS_PER_WRITE = 32;

function hartHeaders(via: ((hart: HartId) => string) | undefined): string[] {
  return [
    "hart",
    "state",
    "H",
    ...SETUP_CSR_NAMES,
    ...(via === undefined ? [] : ["via"]),
    "refused",
  ];
}

function hartRow(percpu: RISCVPerCpu, via: ((hart: HartId) => string) | undefined): string[] {
  const report = currentReport(percpu);
  const refused = report.filter((e) => e.refused !== 0n).map((e) => `${e.name} ${hex(e.refused)}`);
  return [
    String(percpu.cpuId),
    percpu.state,
    "yes",
    ...report.map((entry) => hex(entry.kept)),
    ...(via === undefined ? [] : [via(percpu.cpuId)]),
    refused.join(", ") || "-",
  ];
}

function* hartRows(
  percpus: PerCpuSet,
  via: ((hart: HartId) => string) | undefined,
): Generator<string[]> {
  for (const percpu of hartsToRead(percpus)) yield hartRow(percpu, via);
}

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
  let text = "";
  writeHartTable(percpus, via, (chunk) => text += chunk);
  return text;
}

/**
 * {@linkcode hartTable}, written a few hundred lines at a time (the column
 * widths are found in a first pass that keeps nothing), so a machine of
 * 65,536 harts is never held as text.
 *
 * @param percpus The harts.
 * @param via How a hart's accesses were served, when the backend says.
 * @param out Where each piece goes.
 */
export function writeHartTable(
  percpus: PerCpuSet,
  via: ((hart: HartId) => string) | undefined,
  out: (text: string) => void,
): void {
  const headers = hartHeaders(via);
  const widths = tableWidths(headers, hartRows(percpus, via));
  let chunk = tableLine(widths, headers) + "\n";
  let lines = 0;
  for (const row of hartRows(percpus, via)) {
    chunk += tableLine(widths, row) + "\n";
    if (++lines % LINES_PER_WRITE === 0) {
      out(chunk);
      chunk = "";
    }
  }
  if (chunk !== "") out(chunk);
  const vcpus = vcpuLine(percpus);
  if (vcpus !== undefined) out(vcpus);
}

/**
 * What `up --json` prints, written a few hundred harts at a time: the same
 * document as `JSON.stringify({ backend, policy, harts }, null, 2)` and a
 * newline, never held whole.
 *
 * @param backend The backend's info.
 * @param policy The policy's name.
 * @param percpus The harts.
 * @param via How a hart's accesses were served, when the backend says.
 * @param out Where each piece goes.
 */
export function writeUpJson(
  backend: HalInfo,
  policy: string,
  percpus: PerCpuSet,
  via: ((hart: HartId) => string) | undefined,
  out: (text: string) => void,
): void {
  const head = JSON.stringify({ backend, policy }, null, 2);
  // The head's closing "\n}" gives way to the harts, written a group at a time: each group
  // as the harts list of a document of its own, so it is indented as in the whole document.
  out(`${head.slice(0, -2)},\n  "harts": [`);
  let group: object[] = [];
  let written = 0;
  const flush = () => {
    const text = JSON.stringify({ harts: group }, null, 2);
    // Between `{\n  "harts": [` and `\n  ]\n}`: the group's items, a newline before each.
    out(`${written === 0 ? "" : ","}${text.slice(14, -6)}`);
    written += group.length;
    group = [];
  };
  for (const percpu of hartsToRead(percpus)) {
    group.push({
      ...describeHart(percpu),
      ...(via === undefined ? {} : { via: via(percpu.cpuId) }),
    });
    if (group.length === JSON_HARTS_PER_WRITE) flush();
  }
  if (group.length > 0) flush();
  out(`${written === 0 ? "" : "\n  "}]\n}\n`);
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
  for (const percpu of hartsToRead(percpus)) {
    const vcpu = latestVcpuOf(percpu);
    const text = vcpu === undefined ? "none" : `vm ${vcpu.vmId} ${vcpu.state}`;
    const group = groups.get(text);
    if (group === undefined) groups.set(text, [percpu.cpuId]);
    else group.push(percpu.cpuId);
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

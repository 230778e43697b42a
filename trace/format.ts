/**
 * The `rvhv-trace` format: JSON Lines, a header on line 1 and one CSR
 * access per following line.
 *
 * ```text
 * {"format":"rvhv-trace","version":1,"backend":"emulator","isa":"rv64imafdch","harts":[0,1],…}
 * {"i":0,"hart":0,"op":"read","csr":"hgatp","num":"0x680","ret":"0x0"}
 * {"i":1,"hart":0,"op":"write","csr":"hedeleg","num":"0x602","arg":"0xb10d","ret":"0x0"}
 * {"i":2,"hart":1,"op":"read","csr":"hgatp","num":"0x680","trap":2}
 * ```
 *
 * Values are lowercase `0x…` strings (a `bigint` is not JSON). `i` counts
 * the events from 0 in file order; `num` is the CSR's address and what
 * matching uses, `csr` its name for the reader. `arg` is present for
 * `write`, `set` and `clear`; `ret` (the value the instruction read) and
 * `trap` (the exception cause the hart raised instead) exclude each other.
 *
 * @module
 */

import { csrName } from "../hal/csr_numbers.ts";
import { hex } from "../hal/hex.ts";
import type { CsrNum, CsrOp, HalInfo, HartId } from "../hal/types.ts";

/**
 * The `format` value of a trace header.
 *
 * @example Usage
 * ```ts
 * import { headerFor } from "./recorder.ts";
 * import { TRACE_FORMAT } from "./format.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * strictEqual(headerFor(hal).format, TRACE_FORMAT);
 * strictEqual(TRACE_FORMAT, "rvhv-trace");
 * await hal.close();
 * ```
 */
export const TRACE_FORMAT: TraceHeader["format"] = "rvhv-trace";

/**
 * The trace format version this release writes and reads. A trace of
 * another version is a `TraceFormatError` on line 1.
 *
 * @example Usage
 * ```ts
 * import { headerFor } from "./recorder.ts";
 * import { TRACE_VERSION } from "./format.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * strictEqual(headerFor(hal).version, TRACE_VERSION);
 * strictEqual(TRACE_VERSION, 1);
 * await hal.close();
 * ```
 */
export const TRACE_VERSION: TraceHeader["version"] = 1;

/**
 * A CSR operation: `csrr`, `csrrw`, `csrrs` or `csrrc`.
 *
 * @example What each CSR access is recorded as
 * ```ts
 * import { recordHal, TraceReader } from "@rvhv/percpu/replay";
 * import { type TraceOp } from "./format.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const hal = await recordHal(await createEmulatorHal(), { path: `${dir}/run.jsonl` });
 * await hal.csr.write(0, CSR.sscratch, 0xf0n);
 * await hal.csr.set(0, CSR.sscratch, 0x0fn);
 * await hal.csr.clear(0, CSR.sscratch, 0xf0n);
 * await hal.csr.read(0, CSR.sscratch);
 * await hal.close();
 * const reader = TraceReader.open(`${dir}/run.jsonl`);
 * const ops: TraceOp[] = [...reader].map((event) => event.op);
 * deepStrictEqual(ops, ["write", "set", "clear", "read"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export type TraceOp = CsrOp["op"];

/** The operations, indexed by their internal code. */
export const TRACE_OPS: readonly TraceOp[] = Object.freeze(["read", "write", "set", "clear"]);

/**
 * Line 1 of a trace.
 *
 * @example Usage
 * ```ts
 * import { readTraceHeader, recordHal, type TraceHeader } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.jsonl`;
 * await (await recordHal(await createEmulatorHal({ harts: 2, profile: "qemu-7.2" }), { path })).close();
 * const header: TraceHeader = readTraceHeader(path);
 * strictEqual(header.backend, "emulator");
 * strictEqual(header.profile, "qemu-7.2");
 * deepStrictEqual(header.harts, [0, 1]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface TraceHeader {
  /** Always `"rvhv-trace"`. */
  readonly format: "rvhv-trace";
  /** The format version: 1. */
  readonly version: 1;
  /** The recorded backend's name (`info().backend`). */
  readonly backend: string;
  /** The recorded backend's ISA string. */
  readonly isa: string;
  /** The recorded backend's profile, when it has one. */
  readonly profile?: string;
  /** The recorded backend's firmware, when it says. */
  readonly firmware?: string;
  /** The harts of the recorded backend, ascending. */
  readonly harts: readonly HartId[];
  /** The recorded backend's whole `info()`, `bigint`s as `0x…` strings. */
  readonly info: Readonly<HalInfo>;
  /** The manifest the run was booted from, when there was one (without `record`). */
  readonly manifest?: Readonly<Record<string, unknown>>;
  /** When the recording started (ISO 8601). */
  readonly created: string;
  /** The tool that wrote the trace: `@rvhv/percpu@<version>`. */
  readonly tool: string;
}

/**
 * One CSR access of a trace.
 *
 * @example Usage
 * ```ts
 * import { recordHal, TraceReader, type TraceEvent } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const hal = await recordHal(await createEmulatorHal({ isa: "rv64imac" }), { path: `${dir}/run.jsonl` });
 * await hal.csr.write(0, CSR.sscratch, 5n);
 * await hal.csr.read(0, CSR.hgatp).catch(() => {}); // traps: no H
 * await hal.close();
 * const reader = TraceReader.open(`${dir}/run.jsonl`);
 * const events: TraceEvent[] = [...reader];
 * deepStrictEqual(events, [
 *   { i: 0, hart: 0, op: "write", csr: CSR.sscratch, arg: 5n, ret: 0n, trap: undefined, line: 2 },
 *   { i: 1, hart: 0, op: "read", csr: CSR.hgatp, arg: undefined, ret: undefined, trap: 2, line: 3 },
 * ]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface TraceEvent {
  /** The event's index: 0 for the first event, counting in file order. */
  readonly i: number;
  /** The hart the access ran on. */
  readonly hart: HartId;
  /** The operation. */
  readonly op: CsrOp["op"];
  /** The CSR's address. */
  readonly csr: CsrNum;
  /** The operand of `write`/`set`/`clear`; `undefined` for `read`. */
  readonly arg: bigint | undefined;
  /** The value the instruction read; `undefined` when it trapped. */
  readonly ret: bigint | undefined;
  /** The exception cause the hart raised; `undefined` when it did not trap. */
  readonly trap: number | undefined;
  /** The 1-based line of the event in its file (the header is line 1). */
  readonly line: number;
}

/**
 * A CSR address as trace text: `0x` and three lowercase hex digits.
 *
 * @param csr The address.
 * @returns The text.
 */
export function csrHex(csr: CsrNum): string {
  return `0x${csr.toString(16).padStart(3, "0")}`;
}

/**
 * Describes a request in divergence messages: `write hedeleg 0xb10d`,
 * `read hgatp`.
 *
 * @param op The operation.
 * @param csr The CSR.
 * @param arg The operand (ignored for reads).
 * @returns The text.
 */
export function describeRequest(op: TraceOp, csr: CsrNum, arg: bigint | undefined): string {
  const name = csrName(csr);
  return op === "read" || arg === undefined ? `read ${name}` : `${op} ${name} ${hex(arg)}`;
}

/**
 * Describes an event's outcome: `→ 0xb10d` or `→ trap 2`.
 *
 * @param event The event.
 * @returns The text.
 */
export function describeOutcome(event: TraceEvent): string {
  return event.trap === undefined ? `→ ${hex(event.ret!)}` : `→ trap ${event.trap}`;
}

/**
 * Describes an event as a request and its outcome: `write hedeleg 0xb10d → 0x0`.
 *
 * @example Print where two recordings part
 * ```ts
 * import { diffTraces, recordHal } from "@rvhv/percpu/replay";
 * import { describeEvent } from "./format.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * for (const policy of ["arceos", "kvm"] as const) {
 *   const hal = await recordHal(await createEmulatorHal(), { path: `${dir}/${policy}.jsonl` });
 *   await PerCpuSet.init(hal, { policy });
 *   await hal.close();
 * }
 * const { first } = await diffTraces(`${dir}/arceos.jsonl`, `${dir}/kvm.jsonl`);
 * strictEqual(describeEvent(first!.a!), "write hedeleg 0xb10d → 0x0");
 * strictEqual(describeEvent(first!.b!), "write hedeleg 0x0 → 0x0"); // KVM: per vCPU
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param event The event.
 * @returns The text.
 */
export function describeEvent(event: TraceEvent): string {
  return `${describeRequest(event.op, event.csr, event.arg)} ${describeOutcome(event)}`;
}

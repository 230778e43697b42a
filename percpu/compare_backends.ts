/**
 * Side-by-side comparison of backends after the per-CPU set-up: native
 * access against debugger access against the emulator, per hart and CSR,
 * each value with the path that produced it.
 *
 * The CSRs fall in three kinds:
 * - `setup`: what the set-up owns (`SETUP_CSR_NAMES` of `percpu/policy.ts`:
 *   hedeleg, hideleg, hvip within its VS bits, hcounteren, sie). A
 *   difference is an error.
 * - `delegation`: mideleg and medeleg as the firmware leaves them. A
 *   difference is an error.
 * - `environment`: firmware-owned state the set-up never writes (mstatus,
 *   mtvec, PMP, counters' enables, …). Differences are reported as the
 *   environment each backend runs in, not as errors: a debugger-written
 *   model has no OpenSBI that set them.
 *
 * Needs no permissions of its own (the backends need theirs).
 *
 * @module
 */

import { ALL_ONES, VS_INTERRUPTS } from "../hal/csr_fields.ts";
import { csrNumber } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal, CsrOp, CsrResult, HartId } from "../hal/types.ts";
import { SETUP_CSR_NAMES } from "./policy.ts";

/** What a compared CSR is. */
export type CompareKind = "setup" | "delegation" | "environment";

/** One compared CSR: its name, kind, and the bits compared. */
export interface ComparedCsr {
  /** The CSR's name. */
  readonly name: string;
  /** Its kind. */
  readonly kind: CompareKind;
  /** The bits compared (all by default). */
  readonly mask?: bigint;
}

/**
 * The CSRs {@linkcode compareBackends} reads by default: the set-up's, the
 * delegation, and the firmware-owned state that differs between real
 * OpenSBI and a debugger-written model (`tests/qemu/native_oracle_test.ts`).
 *
 * @example Usage
 * ```ts
 * import { COMPARED_CSRS } from "./compare_backends.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(
 *   COMPARED_CSRS.filter((c) => c.kind === "setup").map((c) => c.name),
 *   ["hedeleg", "hideleg", "hvip", "hcounteren", "sie"],
 * );
 * ```
 */
export const COMPARED_CSRS: readonly ComparedCsr[] = Object.freeze(([
  // hvip holds only the VS interrupts the set-up clears; QEMU ≥ 9 reads the
  // rest of mip through it while hvien is 0 (`hvipReadsMip` in docs/qemu-versions.md).
  ...SETUP_CSR_NAMES.map((name): ComparedCsr =>
    name === "hvip" ? { name, kind: "setup", mask: VS_INTERRUPTS } : { name, kind: "setup" }
  ),
  { name: "mideleg", kind: "delegation" },
  { name: "medeleg", kind: "delegation" },
  ...[
    "mstatus",
    "sstatus",
    "hstatus",
    "mie",
    "mip",
    "mtvec",
    "stvec",
    "mscratch",
    "mcounteren",
    "scounteren",
    "mcountinhibit",
    "menvcfg",
    "pmpcfg0",
    "pmpaddr0",
  ].map((name): ComparedCsr => ({ name, kind: "environment" })),
] as ComparedCsr[]).map((csr) => Object.freeze(csr)));

/** One backend of a comparison. */
export interface CompareColumn {
  /** Its label in reports (e.g. `"native"`, `"debugger"`, `"emulator"`). */
  readonly label: string;
  /** The backend, its harts already set up. */
  readonly hal: AxVCpuHal;
}

/**
 * A value in a comparison: what was read (or the trap), and which path read
 * it; `missing` when the backend does not have the CSR at all (an emulator
 * profile that does not model it).
 */
export type ComparedValue =
  & (CsrResult | { readonly ok: false; readonly missing: string })
  & { readonly via: string };

/** One CSR of one hart across every column. */
export interface CompareRow {
  /** The hart. */
  readonly hart: HartId;
  /** The CSR's name. */
  readonly csr: string;
  /** Its kind. */
  readonly kind: CompareKind;
  /** The bits compared. */
  readonly mask: bigint;
  /** One value per column, in column order. */
  readonly values: readonly ComparedValue[];
  /** Whether every column agrees within `mask` (traps agree on their cause). */
  readonly equal: boolean;
}

/** What {@linkcode compareBackends} finds. */
export interface CompareReport {
  /** The column labels. */
  readonly columns: readonly string[];
  /** Every row, hart by hart, in {@linkcode COMPARED_CSRS} order. */
  readonly rows: readonly CompareRow[];
  /** Whether every `setup` and `delegation` row agrees (environment rows do not count). */
  readonly equal: boolean;
  /** The rows that differ and count: setup and delegation. */
  readonly differences: readonly CompareRow[];
  /** The environment rows that differ: reported, not errors. */
  readonly environment: readonly CompareRow[];
}

/** Options of {@linkcode compareBackends}. */
export interface CompareOptions {
  /** The harts to compare. Default: every hart all columns have. */
  harts?: readonly HartId[];
  /** The CSRs. Default {@linkcode COMPARED_CSRS}. */
  csrs?: readonly ComparedCsr[];
}

/** A backend that can say which path produced each result (the QEMU backend). */
interface RoutingHal {
  batchVia(
    hart: HartId,
    ops: readonly CsrOp[],
  ): Promise<(CsrResult & { readonly via: string })[]>;
}

function routes(hal: AxVCpuHal): hal is AxVCpuHal & RoutingHal {
  return typeof (hal as Partial<RoutingHal>).batchVia === "function";
}

function agree(a: ComparedValue, b: ComparedValue, mask: bigint): boolean {
  if (a.ok && b.ok) return ((a.value ^ b.value) & mask) === 0n;
  // Two backends that both lack a CSR agree about it.
  if ("missing" in a || "missing" in b) return "missing" in a && "missing" in b;
  if (a.ok || b.ok) return false;
  return a.trapCause === b.trapCause;
}

/** Reads the CSRs of one hart; a backend that refuses the batch is asked CSR by CSR. */
async function readColumn(
  hal: AxVCpuHal,
  hart: HartId,
  ops: readonly CsrOp[],
): Promise<ComparedValue[]> {
  const via = hal.info().backend;
  const read = async (batch: readonly CsrOp[]): Promise<ComparedValue[]> =>
    routes(hal)
      ? await hal.batchVia(hart, batch)
      : (await hal.csr.batch(hart, batch)).map((result) => ({ ...result, via }));
  try {
    return await read(ops);
  } catch (error) {
    if (!(error instanceof AxError) || error.kind === "NotFound") throw error;
    return await Promise.all(ops.map(async (op): Promise<ComparedValue> => {
      try {
        return (await read([op]))[0]!;
      } catch (refused) {
        if (!(refused instanceof AxError) || refused.kind === "NotFound") throw refused;
        return { ok: false, missing: refused.message, via };
      }
    }));
  }
}

/**
 * Reads the same CSRs on the same harts of several backends and lines the
 * values up, each with the path that produced it (`native` or `debugger`
 * for the QEMU backend, the backend's name otherwise).
 *
 * @example Usage
 * ```ts
 * import { compareBackends } from "./compare_backends.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const a = await createEmulatorHal({ harts: 2, profile: "qemu-7.2", firmware: "opensbi" });
 * const b = await createEmulatorHal({ harts: 2, profile: "spec", firmware: "opensbi" });
 * await PerCpuSet.init(a);
 * await PerCpuSet.init(b);
 * const report = await compareBackends([{ label: "qemu-7.2", hal: a }, { label: "spec", hal: b }]);
 * // The spec profile's hcounteren is 32 bits wide, QEMU 7.2 keeps all 64.
 * strictEqual(report.differences[0]!.csr, "hcounteren");
 * await a.close();
 * await b.close();
 * ```
 *
 * @param columns The backends, labelled.
 * @param options Harts and CSRs.
 * @returns The rows, and which differ.
 */
export async function compareBackends(
  columns: readonly CompareColumn[],
  options: CompareOptions = {},
): Promise<CompareReport> {
  const csrs = options.csrs ?? COMPARED_CSRS;
  const ops: CsrOp[] = csrs.map((csr) => ({ op: "read", csr: csrNumber(csr.name) }));
  const harts = options.harts ??
    columns[0]!.hal.harts.filter((hart) => columns.every((c) => c.hal.harts.includes(hart)));
  const rows: CompareRow[] = [];
  for (const hart of harts) {
    const perColumn = await Promise.all(columns.map(({ hal }) => readColumn(hal, hart, ops)));
    csrs.forEach((csr, k) => {
      const mask = csr.mask ?? ALL_ONES;
      const values = perColumn.map((results) => results[k]!);
      rows.push({
        hart,
        csr: csr.name,
        kind: csr.kind,
        mask,
        values,
        equal: values.every((value) => agree(values[0]!, value, mask)),
      });
    });
  }
  const differences = rows.filter((row) => !row.equal && row.kind !== "environment");
  return {
    columns: columns.map((column) => column.label),
    rows,
    equal: differences.length === 0,
    differences,
    environment: rows.filter((row) => !row.equal && row.kind === "environment"),
  };
}

/**
 * The overview's model (module-internal): every hart's live CSRs compared
 * with what it should hold now and with the harts that should hold the same,
 * and harts whose rows are identical grouped, so a 4,096-hart machine whose
 * harts agree is one row.
 *
 * @module
 */

import { ALL_ONES } from "../hal/csr_fields.ts";
import type { HartId, PerCpuState } from "../hal/types.ts";
import { currentExpectations, type Expectation, judgeCsr, latestVcpuOf } from "../percpu/_bound.ts";
import type { HartDescription } from "../percpu/report.ts";
import type { RISCVPerCpu } from "../percpu/riscv_percpu.ts";
import { LIVE_CSRS, type LiveCsrName, type LiveCsrs } from "./_live.ts";

/**
 * How a value compares: `ok`; `drift`: not what the hart should hold now;
 * `refused`: differs only in bits the hart refused when they were written;
 * `odd`: what it should hold (or nothing says), but not what most harts
 * that should hold the same hold.
 */
export type CellMark = "ok" | "drift" | "refused" | "odd";

/** One CSR of one hart in the overview. */
export interface GridCell {
  /** The CSR. */
  readonly csr: LiveCsrName;
  /** The live value. */
  readonly value: bigint;
  /** How it compares. */
  mark: CellMark;
  /** What the hart should hold now, where anything says (not medeleg, mideleg). */
  readonly expected?: {
    /** The value, within `mask`. */
    readonly value: bigint;
    /** The bits that count. */
    readonly mask: bigint;
    /** Whether it is the value from before the set-up (a disabled hart). */
    readonly prior: boolean;
  };
  /** The bits that make it `drift` or `refused`. */
  readonly bits: bigint;
  /** For `odd`: the value most of its peers hold, how many hold it, how many peers there are. */
  usual?: { readonly value: bigint; readonly holders: number; readonly peers: number };
}

/** A hart's vCPU as the overview shows it: the vCPU bound last, or none (as the hart object). */
export type GridVcpu = HartDescription["vcpu"];

/** One hart in the overview. */
export interface GridHart {
  /** The hart id. */
  readonly id: HartId;
  /** Its per-CPU state. */
  readonly state: PerCpuState;
  /** Its latest vCPU. */
  readonly vcpu: GridVcpu;
  /** One cell per {@linkcode LIVE_CSRS} entry. */
  readonly cells: readonly GridCell[];
}

/** Harts whose rows are identical: one row of the overview. */
export interface GridGroup {
  /** The harts, ascending. */
  readonly harts: readonly HartId[];
  /** Their state. */
  readonly state: PerCpuState;
  /** Their vCPU. */
  readonly vcpu: GridVcpu;
  /** Their cells. */
  readonly cells: readonly GridCell[];
}

/** A value that is not ok, for the overview's summary. */
export interface MarkedValue {
  /** The hart. */
  readonly hart: HartId;
  /** The CSR. */
  readonly csr: LiveCsrName;
  /** The mark. */
  readonly mark: Exclude<CellMark, "ok">;
}

/**
 * What a hart should hold now in each live CSR: the policy's set-up (with a
 * bound vCPU's delegation where it loaded one) while the hart is set up;
 * after a disable, the values from before the set-up, which it restored.
 * Nothing for the firmware's medeleg and mideleg.
 */
function expectationsNow(percpu: RISCVPerCpu): (Expectation | undefined)[] {
  const current = currentExpectations(percpu);
  const setUp = percpu.state === "disabled"
    ? current.map(({ row }): Expectation => ({
      row: { ...row, asked: percpu.priors[row.name], mask: ALL_ONES },
      refused: 0n,
    }))
    : current;
  const byName = new Map(setUp.map((expectation) => [expectation.row.name as string, expectation]));
  return LIVE_CSRS.map((name) => byName.get(name));
}

/**
 * A hart's cells, each compared with what the hart should hold now (not yet
 * with the other harts: see {@linkcode gridOf}).
 *
 * @param percpu The hart's per-CPU state.
 * @param live Its live values.
 * @returns One cell per live CSR.
 */
export function hartCells(percpu: RISCVPerCpu, live: LiveCsrs): GridCell[] {
  const expectations = expectationsNow(percpu);
  return LIVE_CSRS.map((csr, k): GridCell => {
    const value = live.get(csr)!;
    const expectation = expectations[k];
    if (expectation === undefined || expectation.row.asked === undefined) {
      return { csr, value, mark: "ok", bits: 0n };
    }
    const verdict = judgeCsr(expectation, value);
    return {
      csr,
      value,
      mark: verdict.status,
      expected: {
        value: expectation.row.asked,
        mask: expectation.row.mask,
        prior: percpu.state === "disabled",
      },
      bits: verdict.status === "drift" ? verdict.drift : verdict.differs,
    };
  });
}

/**
 * A hart as the overview shows it.
 *
 * @param percpu The hart's per-CPU state.
 * @param live Its live values.
 * @returns The hart.
 */
export function gridHart(percpu: RISCVPerCpu, live: LiveCsrs): GridHart {
  const vcpu = latestVcpuOf(percpu);
  return {
    id: percpu.cpuId,
    state: percpu.state,
    vcpu: vcpu === undefined ? null : { vm: vcpu.vmId, state: vcpu.state },
    cells: hartCells(percpu, live),
  };
}

/** Who a cell is compared with: harts in the same state that should hold the same. */
function peerKey(hart: GridHart, cell: GridCell): string {
  const expected = cell.expected;
  return `${hart.state} ${expected === undefined ? "-" : `${expected.value}/${expected.mask}`}`;
}

/**
 * Marks `odd` every ok cell whose value is not the one most of its peers
 * hold (harts in the same state that should hold the same); when no value
 * is held by more peers than any other, nothing is odd.
 */
function markOdd(harts: readonly GridHart[]): void {
  harts[0]?.cells.forEach((_, k) => {
    const counts = new Map<string, Map<bigint, number>>();
    for (const hart of harts) {
      const cell = hart.cells[k]!;
      const key = peerKey(hart, cell);
      const values = counts.get(key) ?? new Map<bigint, number>();
      values.set(cell.value, (values.get(cell.value) ?? 0) + 1);
      counts.set(key, values);
    }
    const usual = new Map<string, NonNullable<GridCell["usual"]>>();
    for (const [key, values] of counts) {
      const ranked = [...values].sort((a, b) => b[1] - a[1]);
      const [first, second] = ranked;
      if (first !== undefined && (second === undefined || first[1] > second[1])) {
        const peers = [...values.values()].reduce((a, b) => a + b);
        usual.set(key, { value: first[0], holders: first[1], peers });
      }
    }
    for (const hart of harts) {
      const cell = hart.cells[k]!;
      const most = usual.get(peerKey(hart, cell));
      if (cell.mark !== "ok" || most === undefined || most.value === cell.value) continue;
      cell.mark = "odd";
      cell.usual = most;
    }
  });
}

/**
 * The overview: every hart compared with what it should hold and with its
 * peers, identical harts grouped (in the order of their first hart), and
 * every value that is not ok.
 *
 * @param harts Each hart, in set-up order.
 * @returns The groups and the marked values.
 */
export function gridOf(harts: readonly GridHart[]): {
  groups: GridGroup[];
  marked: MarkedValue[];
} {
  markOdd(harts);
  const groups = new Map<string, { harts: HartId[]; hart: GridHart }>();
  const marked: MarkedValue[] = [];
  for (const hart of harts) {
    const key = JSON.stringify([
      hart.state,
      hart.vcpu,
      hart.cells.map((cell) => [String(cell.value), cell.mark, String(cell.usual?.value)]),
    ]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { harts: [hart.id], hart });
    else group.harts.push(hart.id);
    for (const cell of hart.cells) {
      if (cell.mark !== "ok") marked.push({ hart: hart.id, csr: cell.csr, mark: cell.mark });
    }
  }
  return {
    groups: [...groups.values()].map(({ harts: ids, hart }) => ({
      harts: ids.sort((a, b) => a - b),
      state: hart.state,
      vcpu: hart.vcpu,
      cells: hart.cells,
    })),
    marked,
  };
}

/**
 * Runs of consecutive ids: `[0, 1, 2, 5]` → `[[0, 2], [5, 5]]`.
 *
 * @param ids Ascending ids.
 * @returns The runs, first and last id each.
 */
export function idRuns(ids: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const id of ids) {
    const last = out[out.length - 1];
    if (last !== undefined && id === last[1] + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}

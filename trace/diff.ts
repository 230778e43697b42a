/**
 * Comparing runs: `diffTraces` (two recordings, event by event) and
 * `diffStates` (the live CSR values of two systems).
 *
 * `diffTraces` requires `--allow-read` for the trace files.
 *
 * @module
 */

import { SETUP_CSR_NAMES } from "../percpu/policy.ts";
import { csrName, csrNumber } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal, CsrNum, CsrOp, CsrResult, HartId } from "../hal/types.ts";
import type { TraceEvent, TraceHeader } from "./format.ts";
import { DEFAULT_LOOKAHEAD, TraceReader } from "./reader.ts";

/** TraceDifference (an alias of the public type's member). */
export type TraceDifference = NonNullable<TraceDiff["first"]>;

/** CsrTraceSummary (an alias of the public type's member). */
export type CsrTraceSummary = TraceDiff["csrs"][number];

/** TraceSide (an alias of the public type's member). */
export type TraceSide = TraceDiff["a"];

/**
 * What {@linkcode diffTraces} finds.
 *
 * @example Usage
 * ```ts
 * import { diffTraces, recordHal, type TraceDiff } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * for (const policy of ["arceos", "kvm"] as const) {
 *   const hal = await recordHal(await createEmulatorHal(), { path: `${dir}/${policy}.jsonl` });
 *   await PerCpuSet.init(hal, { policy });
 *   await hal.close();
 * }
 * const diff: TraceDiff = await diffTraces(`${dir}/arceos.jsonl`, `${dir}/kvm.jsonl`);
 * strictEqual(diff.equal, false);
 * deepStrictEqual(diff.header, []); // same backend, ISA, profile, firmware and harts
 * deepStrictEqual(
 *   diff.csrs.filter((summary) => summary.changed > 0).map((summary) => summary.csr),
 *   ["sie", "hedeleg", "hideleg", "hcounteren"], // KVM delegates per vCPU
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface TraceDiff {
  /** Whether every hart's events are identical in both traces. */
  readonly equal: boolean;
  /** Trace a. */
  readonly a: {
    /** The file. */
    readonly file: string;
    /** Its header. */
    readonly header: TraceHeader;
    /** How many events it holds. */
    readonly events: number;
  };
  /** Trace b. */
  readonly b: TraceDiff["a"];
  /** The header fields that differ (`backend`, `isa`, `profile`, `firmware`, `harts`). */
  readonly header: readonly string[];
  /**
   * The first difference: of the positions where a hart's nth event differs
   * between the traces (or one trace has no nth event), the one that comes
   * first in trace a; `undefined` when the traces are equal.
   */
  readonly first: {
    /** The hart. */
    readonly hart: HartId;
    /** Trace a's event, or `undefined` when a has no more events for this hart. */
    readonly a: TraceEvent | undefined;
    /** Trace b's event, or `undefined` when b has no more events for this hart. */
    readonly b: TraceEvent | undefined;
  } | undefined;
  /** Per CSR that either trace accesses, by address. */
  readonly csrs: readonly {
    /** The CSR's name. */
    readonly csr: string;
    /** The CSR's address. */
    readonly num: CsrNum;
    /** Accesses in trace a. */
    readonly a: number;
    /** Accesses in trace b. */
    readonly b: number;
    /** Pairs (the nth access of a hart to this CSR in both traces) that are identical. */
    readonly same: number;
    /** Pairs that differ in operation, operand, value or trap. */
    readonly changed: number;
    /** Accesses only trace a has. */
    readonly onlyA: number;
    /** Accesses only trace b has. */
    readonly onlyB: number;
  }[];
}

function sameEvent(a: TraceEvent, b: TraceEvent): boolean {
  return a.op === b.op && a.csr === b.csr && a.arg === b.arg && a.ret === b.ret &&
    a.trap === b.trap;
}

interface MutableSummary {
  csr: string;
  num: CsrNum;
  a: number;
  b: number;
  same: number;
  changed: number;
  onlyA: number;
  onlyB: number;
}

/** Unmatched events of one trace, per key, oldest first. */
class Pending {
  #queues: Map<number, TraceEvent[]> = new Map();
  size = 0;

  take(key: number): TraceEvent | undefined {
    const queue = this.#queues.get(key);
    if (queue === undefined || queue.length === 0) return undefined;
    this.size--;
    const event = queue.shift()!;
    if (queue.length === 0) this.#queues.delete(key);
    return event;
  }

  put(key: number, event: TraceEvent): void {
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(key, queue);
    }
    queue.push(event);
    this.size++;
  }

  *all(): Generator<TraceEvent> {
    for (const queue of this.#queues.values()) yield* queue;
  }
}

const HEADER_FIELDS = ["backend", "isa", "profile", "firmware", "harts"] as const;

/**
 * Compares two traces: the first event where they part (in per-hart order,
 * so harts interleaved differently are not a difference) and, per CSR, how
 * many accesses are the same, changed, or only in one trace (the nth access
 * of a hart to a CSR in one trace is paired with the nth in the other).
 *
 * Both traces are streamed; at most `lookahead` unmatched events are held.
 *
 * Requires `--allow-read` for both files.
 *
 * @example Compare a recording with a re-recording
 * ```ts
 * import { diffTraces, recordHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * for (const name of ["before", "after"]) {
 *   const hal = await recordHal(await createEmulatorHal({ harts: 2 }), { path: `${dir}/${name}.jsonl` });
 *   await (await PerCpuSet.init(hal)).enableAll();
 *   await hal.close();
 * }
 * const diff = await diffTraces(`${dir}/before.jsonl`, `${dir}/after.jsonl`);
 * strictEqual(diff.equal, true);
 * strictEqual(diff.first, undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param a The first trace file.
 * @param b The second trace file.
 * @param options The lookahead bound.
 * @returns The comparison.
 * @throws {TraceFormatError} When either trace is malformed.
 * @throws {AxError} Kind `"NotFound"`/`"Io"` when a file cannot be read;
 *   `"InvalidData"` when more than `lookahead` events are unmatched at once.
 */
export function diffTraces(
  a: string,
  b: string,
  options: {
    /**
     * How many unmatched events may be held in memory at once. Default
     * {@linkcode DEFAULT_LOOKAHEAD}.
     */
    lookahead?: number;
  } = {},
): Promise<TraceDiff> {
  try {
    return Promise.resolve(diffTracesSync(a, b, options.lookahead ?? DEFAULT_LOOKAHEAD));
  } catch (error) {
    return Promise.reject(error);
  }
}

function diffTracesSync(pathA: string, pathB: string, lookahead: number): TraceDiff {
  const readerA = TraceReader.open(pathA);
  let readerB: TraceReader;
  try {
    readerB = TraceReader.open(pathB);
  } catch (error) {
    readerA.close();
    throw error;
  }
  try {
    const hartsA = new Set(readerA.header.harts);
    const hartsB = new Set(readerB.header.harts);
    const summaries = new Map<CsrNum, MutableSummary>();
    const summary = (csr: CsrNum): MutableSummary => {
      let entry = summaries.get(csr);
      if (entry === undefined) {
        entry = {
          csr: csrName(csr),
          num: csr,
          a: 0,
          b: 0,
          same: 0,
          changed: 0,
          onlyA: 0,
          onlyB: 0,
        };
        summaries.set(csr, entry);
      }
      return entry;
    };
    // Per hart (positional, for `first`) and per hart and CSR (for the summary).
    const byHart = [new Pending(), new Pending()] as const;
    const byCsr = [new Pending(), new Pending()] as const;
    const firstOnly: (TraceEvent | undefined)[] = [undefined, undefined];
    let first: TraceDifference | undefined;
    let firstIndex = Infinity;

    const consider = (difference: TraceDifference) => {
      // Ordered by trace a's events; an event only b has counts at its own index.
      const index = difference.a?.i ?? difference.b!.i;
      if (index < firstIndex) {
        first = difference;
        firstIndex = index;
      }
    };

    const onEvent = (side: 0 | 1, event: TraceEvent) => {
      const entry = summary(event.csr);
      if (side === 0) entry.a++;
      else entry.b++;
      const otherHarts = side === 0 ? hartsB : hartsA;
      if (!otherHarts.has(event.hart)) {
        // A hart the other trace does not have: never paired.
        if (side === 0) entry.onlyA++;
        else entry.onlyB++;
        firstOnly[side] ??= event;
        return;
      }
      const other = (1 - side) as 0 | 1;
      const partner = byHart[other].take(event.hart);
      if (partner === undefined) {
        byHart[side].put(event.hart, event);
      } else if (!sameEvent(event, partner)) {
        consider({
          hart: event.hart,
          a: side === 0 ? event : partner,
          b: side === 0 ? partner : event,
        });
      }
      const key = event.hart * 0x1000 + event.csr;
      const csrPartner = byCsr[other].take(key);
      if (csrPartner === undefined) byCsr[side].put(key, event);
      else if (sameEvent(event, csrPartner)) entry.same++;
      else entry.changed++;
      if (byHart[side].size + byCsr[side].size > 2 * lookahead) {
        throw new AxError(
          "InvalidData",
          `Cannot diff ${pathA} and ${pathB}: more than ${lookahead} events are unmatched ` +
            `at once (at line ${side === 0 ? readerA.line : readerB.line} of ${
              side === 0 ? pathA : pathB
            }); diff with a larger "lookahead"`,
        );
      }
    };

    let eventA = readerA.next();
    let eventB = readerB.next();
    while (eventA !== undefined || eventB !== undefined) {
      if (eventA !== undefined) {
        onEvent(0, eventA);
        eventA = readerA.next();
      }
      if (eventB !== undefined) {
        onEvent(1, eventB);
        eventB = readerB.next();
      }
    }
    // What is left over was never paired.
    for (const side of [0, 1] as const) {
      for (const event of byCsr[side].all()) {
        const entry = summaries.get(event.csr)!;
        if (side === 0) entry.onlyA++;
        else entry.onlyB++;
      }
      for (const event of [...byHart[side].all(), firstOnly[side]]) {
        if (event === undefined) continue;
        consider({
          hart: event.hart,
          a: side === 0 ? event : undefined,
          b: side === 0 ? undefined : event,
        });
      }
    }
    const header = HEADER_FIELDS.filter((field) =>
      JSON.stringify(readerA.header[field]) !== JSON.stringify(readerB.header[field])
    );
    return {
      equal: first === undefined,
      a: { file: pathA, header: readerA.header, events: readerA.eventsRead },
      b: { file: pathB, header: readerB.header, events: readerB.eventsRead },
      header,
      first,
      csrs: [...summaries.values()].sort((x, y) => x.num - y.num),
    };
  } finally {
    readerA.close();
    readerB.close();
  }
}

/**
 * The CSRs {@linkcode diffStates} compares by default: the firmware's
 * delegation, and everything the per-CPU set-up reads or writes.
 *
 * @example Usage
 * ```ts
 * import { diffStates } from "@rvhv/percpu/replay";
 * import { STATE_CSRS } from "./diff.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const a = await createEmulatorHal();
 * const b = await createEmulatorHal();
 * const diff = await diffStates(a, b);
 * deepStrictEqual(diff.harts[0]!.csrs.map((entry) => entry.csr), STATE_CSRS);
 * await a.close();
 * await b.close();
 * ```
 */
export const STATE_CSRS: readonly string[] = Object.freeze([
  "medeleg",
  "mideleg",
  "hstatus",
  ...SETUP_CSR_NAMES,
  "hgatp",
  "vsie",
]);

/** CsrStateDiff (an alias of the public type's member). */
export type CsrStateDiff = StateDiff["harts"][number]["csrs"][number];

/** HartStateDiff (an alias of the public type's member). */
export type HartStateDiff = StateDiff["harts"][number];

/**
 * What {@linkcode diffStates} finds.
 *
 * @example Usage
 * ```ts
 * import { diffStates, type StateDiff } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const four = await createEmulatorHal({ harts: 4 });
 * const two = await createEmulatorHal({ harts: 2 });
 * const diff: StateDiff = await diffStates(four, two);
 * strictEqual(diff.harts.every((hart) => hart.equal), true);
 * deepStrictEqual(diff.onlyA, [2, 3]);
 * strictEqual(diff.equal, false); // the harts differ
 * await four.close();
 * await two.close();
 * ```
 */
export interface StateDiff {
  /** Whether both systems have the same harts and every CSR is equal. */
  readonly equal: boolean;
  /** The harts both systems have. */
  readonly harts: readonly {
    /** The hart. */
    readonly hart: HartId;
    /** Every compared CSR. */
    readonly csrs: readonly {
      /** The CSR's name. */
      readonly csr: string;
      /** The CSR's address. */
      readonly num: CsrNum;
      /** What reading it on system a gave. */
      readonly a: CsrResult;
      /** What reading it on system b gave. */
      readonly b: CsrResult;
      /** Whether both reads gave the same value (or the same trap). */
      readonly equal: boolean;
    }[];
    /** Whether every CSR is equal. */
    readonly equal: boolean;
  }[];
  /** Harts only system a has. */
  readonly onlyA: readonly HartId[];
  /** Harts only system b has. */
  readonly onlyB: readonly HartId[];
}

/**
 * A backend, or anything that has one (a booted `System`).
 *
 * @example Compare a booted system with a bare backend
 * ```ts
 * import { diffStates } from "@rvhv/percpu/replay";
 * import { type StateSource } from "./diff.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
 * const bare = await createEmulatorHal();
 * const sources: [StateSource, StateSource] = [system, bare];
 * const diff = await diffStates(...sources);
 * deepStrictEqual(
 *   diff.harts[0]!.csrs.filter((entry) => !entry.equal).map((entry) => entry.csr),
 *   ["hedeleg", "hideleg", "hcounteren", "sie"],
 * );
 * await system.close();
 * await bare.close();
 * ```
 */
export type StateSource = AxVCpuHal | { readonly hal: AxVCpuHal };

function halOf(source: StateSource): AxVCpuHal {
  return "hal" in source ? source.hal : source;
}

function sameResult(a: CsrResult, b: CsrResult): boolean {
  return a.ok ? b.ok && a.value === b.value : !b.ok && a.trapCause === b.trapCause;
}

/**
 * Compares the live CSR values of two systems, hart by hart: the emulator's
 * `spec` and `qemu-7.2` profiles after the same set-up, the `arceos` and
 * `kvm` policies on the same backend, an emulator and a QEMU. Each CSR is
 * read once per hart (a trap is a result too: both must trap alike).
 *
 * @example Compare the arceos and kvm policies
 * ```ts
 * import { diffStates } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const arceos = await createEmulatorHal({ harts: 2 });
 * const kvm = await createEmulatorHal({ harts: 2 });
 * await PerCpuSet.init(arceos, { policy: "arceos" });
 * await PerCpuSet.init(kvm, { policy: "kvm" });
 * const diff = await diffStates(arceos, kvm);
 * strictEqual(diff.equal, false);
 * deepStrictEqual(
 *   diff.harts[0]!.csrs.filter((c) => !c.equal).map((c) => c.csr),
 *   ["hedeleg", "hideleg", "hcounteren", "sie"],
 * );
 * await arceos.close();
 * await kvm.close();
 * ```
 *
 * @param a The first system (a backend, or a booted system).
 * @param b The second system.
 * @param options The CSRs and harts to compare.
 * @returns The comparison.
 * @throws {AxError} Kind `"NotFound"` for an unknown CSR name or a hart a
 *   system lacks; whatever a backend's reads reject with.
 */
export async function diffStates(
  a: AxVCpuHal | { readonly hal: AxVCpuHal },
  b: AxVCpuHal | { readonly hal: AxVCpuHal },
  options: {
    /** The CSRs to compare, by name or address. Default {@linkcode STATE_CSRS}. */
    csrs?: readonly (string | CsrNum)[];
    /** The harts to compare. Default: every hart both systems have. */
    harts?: readonly HartId[];
  } = {},
): Promise<StateDiff> {
  const halA = halOf(a);
  const halB = halOf(b);
  const csrs = (options.csrs ?? STATE_CSRS).map((csr) =>
    typeof csr === "number" ? csr : csrNumber(csr)
  );
  const ops: CsrOp[] = csrs.map((csr) => ({ op: "read", csr }));
  const inA = new Set(halA.harts);
  const inB = new Set(halB.harts);
  const harts = options.harts ?? halA.harts.filter((hart) => inB.has(hart));
  const onlyA = options.harts === undefined ? halA.harts.filter((hart) => !inB.has(hart)) : [];
  const onlyB = options.harts === undefined ? halB.harts.filter((hart) => !inA.has(hart)) : [];
  const result: HartStateDiff[] = [];
  for (const hart of harts) {
    const [resultsA, resultsB] = await Promise.all([
      halA.csr.batch(hart, ops),
      halB.csr.batch(hart, ops),
    ]);
    const entries = csrs.map((num, k): CsrStateDiff => ({
      csr: csrName(num),
      num,
      a: resultsA[k]!,
      b: resultsB[k]!,
      equal: sameResult(resultsA[k]!, resultsB[k]!),
    }));
    result.push({ hart, csrs: entries, equal: entries.every((entry) => entry.equal) });
  }
  return {
    equal: onlyA.length === 0 && onlyB.length === 0 && result.every((hart) => hart.equal),
    harts: result,
    onlyA,
    onlyB,
  };
}

/**
 * JSON-ready descriptions of a hart's set-up: CSR values as lowercase `0x…`
 * strings with their bits named. The CLI's `--json` output and the HTTP API
 * share these shapes.
 *
 * @module
 */

import { currentReport, latestVcpuOf } from "./_bound.ts";
import { hex } from "../hal/hex.ts";
import { bitNames } from "../hal/trap_bits.ts";
import type { HartId, PerCpuState } from "../hal/types.ts";
import type { RISCVPerCpu } from "./riscv_percpu.ts";

/**
 * One CSR of a {@linkcode HartDescription}.
 *
 * @example Usage
 * ```ts
 * import { RISCVPerCpu } from "@rvhv/percpu";
 * import { type CsrDescription, describeHart } from "./report.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const hideleg: CsrDescription = describeHart(await RISCVPerCpu.create(0, hal)).csrs.hideleg!;
 * deepStrictEqual(hideleg, {
 *   value: "0x444",
 *   asked: "0x444",
 *   kept: "0x444",
 *   refused: "0x0",
 *   bits: ["VIRTUAL_SUPERVISOR_SOFTWARE", "VIRTUAL_SUPERVISOR_TIMER", "VIRTUAL_SUPERVISOR_EXTERNAL"],
 * });
 * await hal.close();
 * ```
 */
export interface CsrDescription {
  /** The value (live, or as read back after the set-up). */
  value: string;
  /** What the policy asked for (within the bits it controls). */
  asked?: string;
  /** What the hart kept after the set-up. */
  kept?: string;
  /** Bits the hart did not keep as asked. */
  refused?: string;
  /** Names of the bits set in `value`. */
  bits: string[];
}

/**
 * One hart, as the CLI and the HTTP API show it.
 *
 * @example Usage
 * ```ts
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { describeHart, type HartDescription } from "./report.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 2 });
 * const set = await PerCpuSet.init(hal);
 * await set.enableAll();
 * const view: HartDescription = describeHart(set.get(1));
 * strictEqual(view.id, 1);
 * strictEqual(view.state, "enabled");
 * deepStrictEqual(Object.keys(view.csrs), ["hedeleg", "hideleg", "hvip", "hcounteren", "sie"]);
 * strictEqual(JSON.parse(JSON.stringify(view)).csrs.hedeleg.value, "0xb10d");
 * await hal.close();
 * ```
 */
export interface HartDescription {
  /** The hart id. */
  id: HartId;
  /** The lifecycle state. */
  state: PerCpuState;
  /** Whether the hart has the H extension. */
  h: boolean;
  /** The CSRs the set-up touches. */
  csrs: Record<string, CsrDescription>;
  /** The vCPU bound last on the hart (bound now, or unbound since), or `null`. */
  vcpu: { vm: number; state: "created" | "free" | "bound" } | null;
}

const COUNTER_NAMES: readonly string[] = [
  "CY",
  "TM",
  "IR",
  ...Array.from({ length: 29 }, (_, i) => `HPM${i + 3}`),
];

/**
 * Names the bits of a value of one of the set-up's CSRs: exceptions for
 * hedeleg, interrupts for hideleg/hvip/sie/vsie, counters for hcounteren.
 *
 * @example Usage
 * ```ts
 * import { csrBitNames } from "./report.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(csrBitNames("hcounteren", 0x7n), ["CY", "TM", "IR"]);
 * deepStrictEqual(csrBitNames("hideleg", 0x4n), ["VIRTUAL_SUPERVISOR_SOFTWARE"]);
 * ```
 *
 * @param csr The CSR's name.
 * @param value The value.
 * @returns One name per set bit (`bit N` where there is no name).
 */
export function csrBitNames(csr: string, value: bigint): string[] {
  // Many harts show the same values: each CSR's last few answers are kept.
  let known = BIT_NAMES.get(csr);
  if (known === undefined) BIT_NAMES.set(csr, known = new Map());
  let names = known.get(value);
  if (names === undefined) {
    names = Object.freeze(namesOfBits(csr, value));
    if (known.size >= BIT_NAMES_KEPT) known.clear();
    known.set(value, names);
  }
  return [...names];
}

/** How many values' bit names {@linkcode csrBitNames} keeps per CSR. */
const BIT_NAMES_KEPT = 64;
const BIT_NAMES: Map<string, Map<bigint, readonly string[]>> = new Map();

function namesOfBits(csr: string, value: bigint): string[] {
  if (csr === "hedeleg" || csr === "medeleg") return bitNames(value, "exception");
  if (csr.endsWith("counteren")) {
    const names: string[] = [];
    for (let bit = 0; bit < 64; bit++) {
      if ((value >> BigInt(bit)) & 1n) names.push(COUNTER_NAMES[bit] ?? `bit ${bit}`);
    }
    return names;
  }
  return bitNames(value, "interrupt");
}

/**
 * Describes a hart's set-up for JSON output.
 *
 * @example Usage
 * ```ts
 * import { RISCVPerCpu } from "@rvhv/percpu";
 * import { describeHart } from "./report.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const view = describeHart(await RISCVPerCpu.create(0, hal));
 * strictEqual(view.csrs.hedeleg!.value, "0xb10d");
 * await hal.close();
 * ```
 *
 * @param percpu The hart's per-CPU state.
 * @param live Current values by CSR name, when they were read; otherwise the
 *   values read back after the set-up are shown.
 * @returns The description.
 */
export function describeHart(
  percpu: RISCVPerCpu,
  live?: ReadonlyMap<string, bigint>,
): HartDescription {
  const csrs: Record<string, CsrDescription> = {};
  for (const entry of currentReport(percpu)) {
    const value = live?.get(entry.name) ?? entry.kept;
    csrs[entry.name] = {
      value: hex(value),
      ...(entry.asked === undefined ? {} : { asked: hex(entry.asked) }),
      kept: hex(entry.kept),
      refused: hex(entry.refused),
      bits: csrBitNames(entry.name, value),
    };
  }
  const vcpu = latestVcpuOf(percpu);
  return {
    id: percpu.cpuId,
    state: percpu.state,
    h: true,
    csrs,
    vcpu: vcpu === undefined ? null : { vm: vcpu.vmId, state: vcpu.state },
  };
}

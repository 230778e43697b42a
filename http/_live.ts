/**
 * Live reads for the HTTP app: a hart's CSRs read from the backend in one
 * batch, turned into the hart and routing descriptions (module-internal).
 *
 * @module
 */

import type { System } from "../manifest/boot.ts";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../hal/errors.ts";
import { hex } from "../hal/hex.ts";
import type { CsrOp, HartId } from "../hal/types.ts";
import { SETUP_CSR_NAMES, type SetupCsrName } from "../percpu/policy.ts";
import { csrBitNames, describeHart, type HartDescription } from "../percpu/report.ts";
import { describeRoutes, firmwareModel, type RoutesDescription } from "../routing/route_table.ts";

/**
 * What the app needs of a booted system: its backend and its per-CPU states
 * (a `System` from `boot()` is one; so is a backend and a `PerCpuSet`).
 *
 * @example Serve harts set up without a manifest
 * ```ts
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { type ServedSystem } from "./_live.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 4 });
 * const system: ServedSystem = { hal, percpus: await PerCpuSet.init(hal, { harts: [2, 3] }) };
 * const app = createApp(system);
 * const { harts } = await (await app.request("/api/harts")).json();
 * strictEqual(harts.length, 2);
 * strictEqual((await app.request("/api/harts/0")).status, 404); // not in the set
 * await hal.close();
 * ```
 */
export type ServedSystem = Pick<System, "hal" | "percpus">;

/** The CSRs read live: the set-up's, then the firmware's delegation (context for routing). */
export const LIVE_CSRS: readonly LiveCsrName[] = Object.freeze([
  ...SETUP_CSR_NAMES,
  "medeleg",
  "mideleg",
]);

/** The name of a CSR read live. */
export type LiveCsrName = SetupCsrName | "medeleg" | "mideleg";

const LIVE_READS: readonly CsrOp[] = Object.freeze(
  LIVE_CSRS.map((name) => Object.freeze({ op: "read", csr: CSR[name] }) as CsrOp),
);

const HART_ID_REGEXP = /^(0|[1-9][0-9]{0,9})$/;

/**
 * Parses the `:id` of a route.
 *
 * @param text The path parameter.
 * @returns The hart id.
 * @throws {AxError} Kind `"InvalidInput"` unless it is a non-negative decimal integer.
 */
export function parseHartId(text: string): HartId {
  if (!HART_ID_REGEXP.test(text)) {
    throw new AxError(
      "InvalidInput",
      `Cannot parse hart id "${text}": expected a non-negative decimal integer`,
    );
  }
  return Number(text);
}

/** A hart's live values, by CSR name. */
export type LiveCsrs = ReadonlyMap<LiveCsrName, bigint>;

/**
 * Reads the live CSRs of a hart of the set.
 *
 * @param system The system.
 * @param hart The hart.
 * @returns The values.
 * @throws {AxError} Kind `"NotFound"` for a hart not in the set.
 * @throws {CsrTrap} When a read traps.
 */
export async function readLive(system: ServedSystem, hart: HartId): Promise<LiveCsrs> {
  system.percpus.get(hart);
  const results = await system.hal.csr.batch(hart, LIVE_READS);
  const live = new Map<LiveCsrName, bigint>();
  results.forEach((result, i) => {
    if (!result.ok) {
      throw new CsrTrap({ hart, csr: LIVE_READS[i]!.csr, trapCause: result.trapCause, op: "read" });
    }
    live.set(LIVE_CSRS[i]!, result.value);
  });
  return live;
}

/**
 * The hart object of the API: `describeHart` with live values, plus medeleg
 * and mideleg (value and bits only: the firmware's, not the set-up's).
 *
 * @param system The system.
 * @param hart The hart.
 * @param live Its live values.
 * @returns The description.
 */
export function hartFrom(system: ServedSystem, hart: HartId, live: LiveCsrs): HartDescription {
  const view = describeHart(system.percpus.get(hart), live);
  for (const name of ["medeleg", "mideleg"] as const) {
    const value = live.get(name)!;
    view.csrs[name] = { value: hex(value), bits: csrBitNames(name, value) };
  }
  return view;
}

/**
 * The routing of a hart from its live values.
 *
 * @param system The system.
 * @param hart The hart.
 * @param live Its live values.
 * @returns The description, every origin, the backend's firmware model.
 */
export function routesFrom(system: ServedSystem, hart: HartId, live: LiveCsrs): RoutesDescription {
  return describeRoutes(
    hart,
    {
      medeleg: live.get("medeleg")!,
      mideleg: live.get("mideleg")!,
      hedeleg: live.get("hedeleg")!,
      hideleg: live.get("hideleg")!,
    },
    { firmware: firmwareModel(system.hal.info()) },
  );
}

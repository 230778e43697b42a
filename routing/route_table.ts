/**
 * The routing grid of a hart: every exception 0–23 and every standard
 * interrupt, from each origin mode; and reading the delegation CSRs a route
 * needs from a live hart.
 *
 * @module
 */

import { CSR } from "../hal/csr_numbers.ts";
import { CsrTrap } from "../hal/errors.ts";
import { hex } from "../hal/hex.ts";
import { exceptionName, Interrupt, interruptName } from "../hal/trap_bits.ts";
import type { AxVCpuHal, CsrOp, HalInfo, HartId } from "../hal/types.ts";
import {
  type DelegationCsrs,
  type FirmwareModel,
  routeTrap,
  TRAP_ORIGINS,
  type TrapOrigin,
  type TrapRoute,
} from "./route_trap.ts";

/**
 * The exception rows of the grid: causes 0 to 23.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { GRID_EXCEPTIONS, routeTable } from "./route_table.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * strictEqual(GRID_EXCEPTIONS.length, 24);
 * deepStrictEqual(routeTable(csrs, { interrupt: false }).map((row) => row.cause), GRID_EXCEPTIONS);
 * ```
 */
export const GRID_EXCEPTIONS: readonly number[] = Object.freeze(
  Array.from({ length: 24 }, (_, cause) => cause),
);

/**
 * The interrupt rows of the grid: the standard interrupts, by cause.
 *
 * @example Usage
 * ```ts
 * import { GRID_INTERRUPTS } from "./route_table.ts";
 * import { interruptName } from "../hal/trap_bits.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(GRID_INTERRUPTS.slice(0, 3).map(interruptName), [
 *   "SUPERVISOR_SOFTWARE",
 *   "VIRTUAL_SUPERVISOR_SOFTWARE",
 *   "MACHINE_SOFTWARE",
 * ]);
 * ```
 */
export const GRID_INTERRUPTS: readonly number[] = Object.freeze(
  [...new Set(Object.values(Interrupt))].sort((a, b) => a - b),
);

/**
 * One row of {@linkcode routeTable}: one trap, routed from each origin.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { type RouteRow, routeTable } from "./route_table.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const [row]: RouteRow[] = routeTable(csrs, { cause: 3, interrupt: false });
 * strictEqual(row!.name, "BREAKPOINT");
 * strictEqual(row!.routes.VU!.destination, "VS");
 * strictEqual(row!.routes.HS!.destination, "HS");
 * ```
 */
export interface RouteRow {
  /** Whether the row is an interrupt. */
  readonly interrupt: boolean;
  /** The cause number. */
  readonly cause: number;
  /** The spec name (`cause N` / `interrupt N` when reserved). */
  readonly name: string;
  /** The route from each origin asked for. */
  readonly routes: Readonly<Partial<Record<TrapOrigin, TrapRoute>>>;
}

/**
 * Options of {@linkcode routeTable}.
 *
 * @example The interrupts, seen from VS-mode only
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { routeTable, type RouteTableOptions } from "./route_table.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const options: RouteTableOptions = { origins: ["VS"], interrupt: true, firmware: "opensbi" };
 * const toVs = routeTable(csrs, options)
 *   .filter((row) => row.routes.VS!.destination === "VS")
 *   .map((row) => row.name);
 * deepStrictEqual(toVs, [
 *   "VIRTUAL_SUPERVISOR_SOFTWARE",
 *   "VIRTUAL_SUPERVISOR_TIMER",
 *   "VIRTUAL_SUPERVISOR_EXTERNAL",
 * ]);
 * ```
 */
export interface RouteTableOptions {
  /** The origins (columns). Default: all of `TRAP_ORIGINS`. */
  origins?: readonly TrapOrigin[];
  /** The firmware model. Default `"opensbi"`. */
  firmware?: FirmwareModel;
  /** Keep only rows with this cause number. */
  cause?: number;
  /** Keep only exceptions (`false`) or only interrupts (`true`). */
  interrupt?: boolean;
}

/**
 * Whether a cause filter yields a row of this kind: an exception row always,
 * an interrupt row for a standard or platform interrupt, or for any cause
 * when interrupts were asked for explicitly.
 */
function wantsCause(interrupt: boolean, cause: number, explicit: boolean): boolean {
  return !interrupt || explicit || GRID_INTERRUPTS.includes(cause) || cause >= 16;
}

/**
 * Routes every exception 0–23 and every standard interrupt from each origin.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { routeTable } from "./route_table.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const rows = routeTable(
 *   { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg },
 *   { origins: ["VU"] },
 * );
 * const breakpoint = rows.find((row) => !row.interrupt && row.cause === 3)!;
 * strictEqual(breakpoint.routes.VU!.destination, "VS");
 * ```
 *
 * @param csrs The hart's delegation CSRs.
 * @param options Columns, firmware model and row filters.
 * @returns Exceptions first, then interrupts, each by cause.
 */
export function routeTable(csrs: DelegationCsrs, options: RouteTableOptions = {}): RouteRow[] {
  const origins = options.origins ?? TRAP_ORIGINS;
  const firmware = options.firmware ?? "opensbi";
  const rows: RouteRow[] = [];
  const kinds: [boolean, readonly number[]][] = [[false, GRID_EXCEPTIONS], [true, GRID_INTERRUPTS]];
  for (const [interrupt, causes] of kinds) {
    if (options.interrupt !== undefined && options.interrupt !== interrupt) continue;
    const list = options.cause === undefined
      ? causes
      : wantsCause(interrupt, options.cause, options.interrupt !== undefined)
      ? [options.cause]
      : [];
    for (const cause of list) {
      const routes: Partial<Record<TrapOrigin, TrapRoute>> = {};
      for (const from of origins) {
        routes[from] = routeTrap(csrs, { cause, interrupt, from }, { firmware });
      }
      rows.push({
        interrupt,
        cause,
        name: interrupt ? interruptName(cause) : exceptionName(cause),
        routes,
      });
    }
  }
  return rows;
}

const DELEGATION_READS: readonly CsrOp[] = Object.freeze(
  (["medeleg", "mideleg", "hedeleg", "hideleg"] as const).map((name) =>
    Object.freeze({ op: "read", csr: CSR[name] }) as CsrOp
  ),
);

/**
 * Reads a hart's delegation CSRs in one batch. On a hart without H, hedeleg
 * and hideleg read as 0 (their access traps; nothing can come from V=1).
 *
 * @example Usage
 * ```ts
 * import { readDelegation } from "./route_table.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ firmware: "opensbi" });
 * const csrs = await readDelegation(hal, 0);
 * strictEqual(csrs.medeleg, 0xf0b509n);
 * await hal.close();
 * ```
 *
 * @param hal The backend.
 * @param hart The hart.
 * @returns The four values.
 * @throws {CsrTrap} When medeleg or mideleg cannot be read.
 * @throws {AxError} Kind `"NotFound"` for a hart the backend does not have.
 */
export async function readDelegation(hal: AxVCpuHal, hart: HartId): Promise<DelegationCsrs> {
  const results = await hal.csr.batch(hart, DELEGATION_READS);
  const values = results.map((result, i) => {
    if (result.ok) return result.value;
    if (i >= 2) return 0n;
    const op = DELEGATION_READS[i]!;
    throw new CsrTrap({ hart, csr: op.csr, trapCause: result.trapCause, op: "read" });
  });
  return { medeleg: values[0]!, mideleg: values[1]!, hedeleg: values[2]!, hideleg: values[3]! };
}

/**
 * The firmware model for a backend: `opensbi` when its `info().firmware`
 * names OpenSBI (a preset or the real one), else `none`.
 *
 * @example Usage
 * ```ts
 * import { firmwareModel } from "./route_table.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(firmwareModel({ backend: "emulator", isa: "rv64imafdch", firmware: "opensbi-1.1" }), "opensbi");
 * strictEqual(firmwareModel({ backend: "emulator", isa: "rv64imafdch", firmware: "none" }), "none");
 * ```
 *
 * @param info What the backend says about itself.
 * @returns The model.
 */
export function firmwareModel(info: HalInfo): FirmwareModel {
  return typeof info.firmware === "string" && info.firmware.toLowerCase().startsWith("opensbi")
    ? "opensbi"
    : "none";
}

/**
 * The JSON form of a hart's routing: what `route --json` and
 * `GET /api/harts/:id/routes` give.
 *
 * @example Usage
 * ```ts
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { describeRoutes, firmwareModel, readDelegation, type RoutesDescription } from "./route_table.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * await PerCpuSet.init(hal);
 * const view: RoutesDescription = describeRoutes(0, await readDelegation(hal, 0), {
 *   firmware: firmwareModel(hal.info()),
 * });
 * strictEqual(view.firmware, "opensbi");
 * strictEqual(view.csrs.hideleg, "0x444");
 * strictEqual(view.origins.length, 5);
 * await hal.close();
 * ```
 */
export interface RoutesDescription {
  /** The hart. */
  id: HartId;
  /** The firmware model used for `effective`. */
  firmware: FirmwareModel;
  /** The delegation CSRs the routes were computed from, as lowercase `0x…` strings. */
  csrs: { medeleg: string; mideleg: string; hedeleg: string; hideleg: string };
  /** The origins (columns), in order. */
  origins: TrapOrigin[];
  /** The rows. */
  rows: RouteRow[];
}

/**
 * Describes a hart's routing for JSON output.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { describeRoutes } from "./route_table.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const view = describeRoutes(0, { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg });
 * strictEqual(view.csrs.hedeleg, "0xb10d");
 * strictEqual(view.rows[3]!.routes.VU!.destination, "VS");
 * strictEqual(JSON.parse(JSON.stringify(view)).rows.length, 35);
 * ```
 *
 * @param hart The hart id.
 * @param csrs Its delegation CSRs.
 * @param options As for {@linkcode routeTable}.
 * @returns The description.
 */
export function describeRoutes(
  hart: HartId,
  csrs: DelegationCsrs,
  options: RouteTableOptions = {},
): RoutesDescription {
  return {
    id: hart,
    firmware: options.firmware ?? "opensbi",
    csrs: {
      medeleg: hex(csrs.medeleg),
      mideleg: hex(csrs.mideleg),
      hedeleg: hex(csrs.hedeleg),
      hideleg: hex(csrs.hideleg),
    },
    origins: [...(options.origins ?? TRAP_ORIGINS)],
    rows: routeTable(csrs, options),
  };
}

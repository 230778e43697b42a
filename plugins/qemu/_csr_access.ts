/**
 * The one interface of the QEMU backend's two access strategies: the
 * debugger (`./_debugger_access.ts`: every CSR over the gdbstub, the VM
 * stopped) and native access (`./native/_native_access.ts`: the harts
 * execute the instructions, machine-level CSRs through the debugger).
 * `QemuHal` runs every batch through the current strategy and knows nothing
 * else of either.
 *
 * Needs no permissions.
 *
 * @module
 */

import type { CheckedCsrOp } from "../../hal/backend_hal.ts";
import type { CsrResult, HartId } from "../../hal/types.ts";
import type { NativeStats } from "./native/_native_access.ts";

/** Which path served a CSR operation (see {@linkcode RoutedCsrResult}). */
export type CsrAccessPath = RoutedCsrResult["via"];

/**
 * A CSR operation's outcome and the path that produced it: `"native"` (the
 * hart executed the instruction) or `"debugger"` (the gdbstub, with the VM
 * stopped).
 *
 * @example Usage
 * ```ts ignore
 * import { createQemuHal, type RoutedCsrResult } from "@rvhv/percpu/qemu";
 * import { CSR } from "@rvhv/percpu";
 *
 * const hal = await createQemuHal({ harts: 1, access: "native" });
 * const [probe]: RoutedCsrResult[] = await hal.batchVia(0, [{ op: "read", csr: CSR.hgatp }]);
 * console.log(probe!.ok, probe!.via); // true native: the hart executed csrr hgatp
 * await hal.close();
 * ```
 */
export type RoutedCsrResult = CsrResult & { readonly via: "native" | "debugger" };

/** How the QEMU backend reaches the CSRs of its harts. */
export interface CsrAccess {
  /**
   * Runs checked operations on one hart, in order (a trap does not stop
   * later ones). `release` lets the hart's next batch start early: a
   * strategy that pipelines calls it once its requests are on their way.
   */
  run(
    hart: HartId,
    ops: readonly CheckedCsrOp[],
    release: () => void,
  ): Promise<RoutedCsrResult[]>;
  /** What the strategy adds to the backend's `info()`. */
  describe?(): Record<string, unknown>;
  /** Counters of a strategy that keeps them (native access). */
  stats?(): NativeStats;
  /** How a hart's accesses were served, for a strategy with more than one path. */
  accessPath?(hart: HartId): string;
}

/**
 * A result without its path: what `csr.batch` returns.
 *
 * @example Usage
 * ```ts
 * import { withoutPath } from "./_csr_access.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(withoutPath({ ok: true, value: 1n, via: "native" }), { ok: true, value: 1n });
 * ```
 *
 * @param result The routed result.
 * @returns The same result without `via`.
 */
export function withoutPath(result: RoutedCsrResult): CsrResult {
  return result.ok ? { ok: true, value: result.value } : { ok: false, trapCause: result.trapCause };
}

/**
 * `AxResult`: a settled outcome, for scripts that prefer values to
 * exceptions (the Rust reference's `AxResult<T>`).
 *
 * @module
 */

import { AxError } from "./errors.ts";

/**
 * Either the value, or the `AxError` that prevented it.
 *
 * @example Usage
 * ```ts
 * import { type AxResult, axResult, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ isa: ["rv64imafdch", "rv64imac"], harts: 2 });
 * const results: AxResult<RISCVPerCpu>[] = await Promise.all(
 *   hal.harts.map((hart) => axResult(RISCVPerCpu.create(hart, hal))),
 * );
 * const outcomes = results.map((result) => result.ok ? result.value.state : result.error.kind);
 * deepStrictEqual(outcomes, ["initialized", "Unsupported"]); // hart 1 has no H
 * await hal.close();
 * ```
 *
 * @typeParam T The value's type.
 */
export type AxResult<T = void> = { ok: true; value: T } | { ok: false; error: AxError };

/**
 * Settles a promise into an {@linkcode AxResult}. Errors that are not
 * `AxError`s (bugs) are rethrown.
 *
 * @example Usage
 * ```ts
 * import { axResult, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ isa: "rv64imac" });
 * const result = await axResult(RISCVPerCpu.create(0, hal));
 * strictEqual(result.ok, false);
 * if (!result.ok) strictEqual(result.error.kind, "Unsupported");
 * await hal.close();
 * ```
 *
 * @typeParam T The value's type.
 * @param promise The operation.
 * @returns The result.
 */
export async function axResult<T>(promise: Promise<T>): Promise<AxResult<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    if (error instanceof AxError) return { ok: false, error };
    throw error;
  }
}

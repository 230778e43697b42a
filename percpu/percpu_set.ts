/**
 * `PerCpuSet`: the per-CPU states of many harts, set up together and rolled
 * back together.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal, HartId, PerCpuState } from "../hal/types.ts";
import { probeCacheOf } from "../detect/h_extension.ts";
import { type PerCpuPolicy, type PolicySpec, resolvePolicy } from "./policy.ts";
import { perCpuView, type RISCVPerCpu } from "./riscv_percpu.ts";
import { firstFailure, restorer, runBounded, setUpHarts } from "./_setup.ts";
import { type PerCpuTable, STATE, STATE_NAMES } from "./_table.ts";
import { wordPortOf } from "../hal/_sync_batch.ts";

const DEFAULT_CONCURRENCY = 64;

/**
 * The per-CPU states of a set of harts.
 *
 * @example Usage
 * ```ts
 * import { PerCpuSet } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 4 });
 * const set = await PerCpuSet.init(hal);
 * await set.enableAll();
 * deepStrictEqual([...set.states().values()], ["enabled", "enabled", "enabled", "enabled"]);
 * await set.disableAll();
 * await hal.close();
 * ```
 */
export class PerCpuSet implements Iterable<RISCVPerCpu> {
  /** The backend. */
  readonly hal: AxVCpuHal;
  /** The policy every hart was set up with. */
  readonly policy: PerCpuPolicy;
  #table: PerCpuTable;
  /** Each row's `RISCVPerCpu`, made when first asked for (a view of the row). */
  #views: (RISCVPerCpu | undefined)[];
  /** Rows by hart, when the harts are not rows 0, 1, 2, … of themselves. */
  #rows: Map<HartId, number> | undefined;
  #concurrency: number;

  private constructor(
    hal: AxVCpuHal,
    policy: PerCpuPolicy,
    table: PerCpuTable,
    concurrency: number,
  ) {
    this.hal = hal;
    this.policy = policy;
    this.#table = table;
    this.#views = [];
    const harts = table.harts;
    let dense = true;
    for (let row = 0; row < harts.length && dense; row++) dense = harts[row] === row;
    this.#rows = dense ? undefined : new Map(harts.map((hart, row) => [hart, row]));
    this.#concurrency = concurrency;
  }

  /**
   * Sets up every hart (or the harts given), a bounded number at a time, in
   * two phases: first every hart is probed for H and its prior values read
   * (reads only, so a hart without H fails the set before anything is written
   * on any hart), then the policy runs on each. If a hart fails, every hart
   * already set up is restored and the promise rejects with that hart's own
   * error (its `hart` field set; the lowest hart when several fail).
   *
   * @param hal The backend.
   * @param options Harts, policy, concurrency.
   * @returns The set, every hart `initialized`.
   * @throws {AxError} Kind `"NotFound"` for a hart the backend does not have,
   *   `"InvalidInput"` for a repeated hart; otherwise the failing hart's error.
   */
  static async init(hal: AxVCpuHal, options: {
    /** The harts to set up. Default: every hart of the backend. */
    harts?: readonly HartId[];
    /** The set-up policy. Default `"arceos"`. */
    policy?: PolicySpec;
    /** How many harts are set up at once. Default 64. */
    concurrency?: number;
  } = {}): Promise<PerCpuSet> {
    const policy = resolvePolicy(options.policy);
    const harts = Object.freeze([...(options.harts ?? hal.harts)]);
    // The backend's own list needs no check: its harts are known and distinct.
    if (options.harts !== undefined && options.harts !== hal.harts) checkHarts(hal, harts);
    const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    const table = await setUpHarts(hal, harts, policy, concurrency);
    return new PerCpuSet(hal, policy, table, concurrency);
  }

  /** The harts in the set, in set-up order. */
  get harts(): HartId[] {
    return [...this.#table.harts];
  }

  /**
   * The per-CPU state of one hart.
   *
   * @param cpuId The hart.
   * @returns Its state.
   * @throws {AxError} Kind `"NotFound"` for a hart not in the set.
   */
  get(cpuId: HartId): RISCVPerCpu {
    const row = this.#rows === undefined
      ? (this.#table.harts[cpuId] === cpuId ? cpuId : undefined)
      : this.#rows.get(cpuId);
    if (row === undefined) {
      throw new AxError(
        "NotFound",
        `Cannot find hart ${cpuId}: the set has harts ${this.harts.join(", ")}`,
        { hart: cpuId },
      );
    }
    return this.#view(row);
  }

  #view(row: number): RISCVPerCpu {
    return this.#views[row] ??= perCpuView(this.#table, row, this.hal, this.policy);
  }

  /**
   * The lifecycle state of every hart.
   *
   * @returns State by hart.
   */
  states(): Map<HartId, PerCpuState> {
    const { harts, states } = this.#table;
    return new Map(harts.map((hart, row) => [hart, STATE_NAMES[states[row]!]!]));
  }

  /** Iterates the per-CPU states in set-up order. */
  *[Symbol.iterator](): Iterator<RISCVPerCpu> {
    for (let row = 0; row < this.#table.length; row++) yield this.#view(row);
  }

  /**
   * Enables every hart that is not enabled yet. If one fails, the harts this
   * call enabled are disabled again and the promise rejects with the failing
   * hart's error.
   */
  async enableAll(): Promise<void> {
    const { harts, states, busy } = this.#table;
    // From `initialized`, enabling only checks that the hart has H, which the set-up's probe
    // answered: when every hart to enable is such, they are enabled at once, nothing to undo.
    const probes = probeCacheOf(this.hal);
    let atOnce = true;
    for (let row = 0; row < harts.length && atOnce; row++) {
      atOnce = states[row] === STATE.enabled ||
        (states[row] === STATE.initialized && busy[row] === 0 && probes.get(harts[row]!) === true);
    }
    if (atOnce) {
      states.fill(STATE.enabled);
      return;
    }
    const todo: number[] = [];
    for (let row = 0; row < harts.length; row++) if (states[row] !== STATE.enabled) todo.push(row);
    const enabled: RISCVPerCpu[] = [];
    const failures = await runBounded(todo, this.#concurrency, true, async (row) => {
      const percpu = this.#view(row);
      await percpu.hardwareEnable();
      enabled.push(percpu);
    });
    if (failures.size > 0) {
      const rollbackErrors: unknown[] = [];
      await Promise.all(
        enabled.map((p) => p.hardwareDisable().catch((error) => rollbackErrors.push(error))),
      );
      throw firstFailure(failures, todo.map((row) => harts[row]!), rollbackErrors);
    }
  }

  /**
   * Disables every enabled hart (restoring its prior values). Every enabled
   * hart is attempted; the promise rejects with the first hart's error if any
   * failed.
   */
  async disableAll(): Promise<void> {
    const { harts, states } = this.#table;
    const todo: number[] = [];
    for (let row = 0; row < harts.length; row++) if (states[row] === STATE.enabled) todo.push(row);
    const failures = new Map<number, unknown>();
    const pending: Promise<void>[] = [];
    todo.forEach((row, i) => {
      try {
        const disabling = this.#disable(row);
        if (disabling !== undefined) {
          pending.push(disabling.catch((error) => void failures.set(i, error)));
        }
      } catch (error) {
        failures.set(i, error);
      }
    });
    await Promise.all(pending);
    if (failures.size > 0) throw firstFailure(failures, todo.map((row) => harts[row]!), []);
  }

  /**
   * Disables one enabled hart: at once from its row when the port restores
   * at once and no `RISCVPerCpu` was made for it (so no vCPU was bound there
   * and its delegation is the set-up's), else through its `RISCVPerCpu`.
   */
  #disable(row: number): Promise<void> | undefined {
    const table = this.#table;
    const atOnce = wordPortOf(this.hal.csr) !== undefined;
    if (!atOnce || this.#views[row] !== undefined || table.busy[row] !== 0) {
      return this.#view(row).hardwareDisable();
    }
    restorer(this.hal, table)(row);
    table.states[row] = STATE.disabled;
    return undefined;
  }
}

/** Throws at the first hart the backend does not have, or that is listed twice. */
function checkHarts(hal: AxVCpuHal, harts: readonly HartId[]): void {
  const known = new Set(hal.harts);
  const seen = new Set<HartId>();
  for (const hart of harts) {
    if (!known.has(hart)) {
      throw new AxError(
        "NotFound",
        `Cannot set up hart ${hart}: the backend has harts ${hal.harts.join(", ")}`,
        { hart },
      );
    }
    if (seen.has(hart)) {
      throw new AxError("InvalidInput", `Cannot set up hart ${hart} twice`, { hart });
    }
    seen.add(hart);
  }
}

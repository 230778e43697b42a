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
import { boundVcpuOf, setDelegationLoaded } from "./_bound.ts";

const DEFAULT_CONCURRENCY = 64;

/** `PerCpuSet`'s release, for {@linkcode releaseAll} (module-internal). */
let releaseOf: (set: PerCpuSet) => Promise<unknown[]>;
/** `PerCpuSet`'s views for reading, for {@linkcode hartsToRead} (module-internal). */
let readOf: (set: PerCpuSet) => Generator<RISCVPerCpu>;

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
  static {
    releaseOf = (set) => set.#release();
    readOf = (set) => set.#toRead();
  }

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
    const asked = options.harts ?? hal.harts;
    const harts = Object.isFrozen(asked) ? asked : Object.freeze([...asked]);
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

  *#toRead(): Generator<RISCVPerCpu> {
    for (let row = 0; row < this.#table.length; row++) {
      yield this.#views[row] ?? perCpuView(this.#table, row, this.hal, this.policy);
    }
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
        const disabling = this.#restore(row, (percpu) => percpu.hardwareDisable());
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
   * Leaves every hart as the set-up found it (what a system's close does):
   * a bound vCPU unbound, an enabled hart disabled, an initialized one
   * restored. Every hart is attempted.
   *
   * @returns The failures, in the order they happened.
   */
  async #release(): Promise<unknown[]> {
    const states = this.#table.states;
    const failures: unknown[] = [];
    const pending: Promise<void>[] = [];
    for (let row = 0; row < states.length; row++) {
      if (states[row] === STATE.disabled) continue;
      try {
        const releasing = this.#restore(row, async (percpu) => {
          await percpu.vcpu?.unbind();
          if (percpu.state === "enabled") await percpu.hardwareDisable();
          else if (percpu.state === "initialized") await percpu.restorePriors();
        });
        if (releasing !== undefined) {
          pending.push(releasing.catch((error) => void failures.push(error)));
        }
      } catch (error) {
        failures.push(error);
      }
    }
    await Promise.all(pending);
    return failures;
  }

  /**
   * Restores one hart's prior values and leaves it disabled: at once from
   * its row when the port restores at once, no transition is under way and
   * no vCPU is bound there; else through its `RISCVPerCpu` by `slow`.
   */
  #restore(row: number, slow: (percpu: RISCVPerCpu) => Promise<void>): Promise<void> | undefined {
    const table = this.#table;
    const view = this.#views[row];
    const atOnce = wordPortOf(this.hal.csr) !== undefined && table.busy[row] === 0 &&
      (view === undefined || boundVcpuOf(view) === undefined);
    if (!atOnce) return slow(this.#view(row));
    restorer(this.hal, table)(row);
    if (view !== undefined) setDelegationLoaded(view, false);
    table.states[row] = STATE.disabled;
    return undefined;
  }
}

/**
 * The per-CPU states of a set, in set-up order, for reading them (a report
 * of every hart): the set's own where one was made, else one made for the
 * read and not kept, so reading 65,536 harts leaves no object per hart
 * behind. A hart without a kept state has had no vCPU, so both read the
 * same; only read what this yields.
 *
 * @param set The set.
 * @returns The states.
 */
export function hartsToRead(set: PerCpuSet): Generator<RISCVPerCpu> {
  return readOf(set);
}

/**
 * Leaves every hart of a set as its set-up found it (a bound vCPU unbound,
 * an enabled hart disabled, an initialized one restored), attempting every
 * hart: what `System.close()` does, at once for the harts of an in-process
 * backend.
 *
 * @param set The set.
 * @returns The failures, in the order they happened.
 */
export function releaseAll(set: PerCpuSet): Promise<unknown[]> {
  return releaseOf(set);
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

/**
 * `PerCpuSet`: the per-CPU states of many harts, set up together and rolled
 * back together.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal, HartId, PerCpuState } from "../hal/types.ts";
import { type PerCpuPolicy, type PolicySpec, resolvePolicy } from "./policy.ts";
import { perCpuFromSetUp, type RISCVPerCpu } from "./riscv_percpu.ts";
import { firstFailure, runBounded, setUpHarts } from "./_setup.ts";

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
  #percpus: Map<HartId, RISCVPerCpu>;
  #concurrency: number;

  private constructor(
    hal: AxVCpuHal,
    policy: PerCpuPolicy,
    percpus: Map<HartId, RISCVPerCpu>,
    concurrency: number,
  ) {
    this.hal = hal;
    this.policy = policy;
    this.#percpus = percpus;
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
    const harts = [...(options.harts ?? hal.harts)];
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
    const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    const outcomes = await setUpHarts(hal, harts, policy, concurrency);
    const percpus = new Map(
      harts.map((hart, i) => [hart, perCpuFromSetUp(hart, hal, policy, outcomes[i]!)]),
    );
    return new PerCpuSet(hal, policy, percpus, concurrency);
  }

  /** The harts in the set, in set-up order. */
  get harts(): HartId[] {
    return [...this.#percpus.keys()];
  }

  /**
   * The per-CPU state of one hart.
   *
   * @param cpuId The hart.
   * @returns Its state.
   * @throws {AxError} Kind `"NotFound"` for a hart not in the set.
   */
  get(cpuId: HartId): RISCVPerCpu {
    const percpu = this.#percpus.get(cpuId);
    if (percpu === undefined) {
      throw new AxError(
        "NotFound",
        `Cannot find hart ${cpuId}: the set has harts ${this.harts.join(", ")}`,
        { hart: cpuId },
      );
    }
    return percpu;
  }

  /**
   * The lifecycle state of every hart.
   *
   * @returns State by hart.
   */
  states(): Map<HartId, PerCpuState> {
    return new Map([...this.#percpus].map(([hart, percpu]) => [hart, percpu.state]));
  }

  /** Iterates the per-CPU states in set-up order. */
  [Symbol.iterator](): Iterator<RISCVPerCpu> {
    return this.#percpus.values();
  }

  /**
   * Enables every hart that is not enabled yet. If one fails, the harts this
   * call enabled are disabled again and the promise rejects with the failing
   * hart's error.
   */
  async enableAll(): Promise<void> {
    const todo = [...this.#percpus.values()].filter((p) => !p.isEnabled());
    const enabled: RISCVPerCpu[] = [];
    const failures = await runBounded(todo, this.#concurrency, true, async (percpu) => {
      await percpu.hardwareEnable();
      enabled.push(percpu);
    });
    if (failures.size > 0) {
      const rollbackErrors: unknown[] = [];
      await Promise.all(
        enabled.map((p) => p.hardwareDisable().catch((error) => rollbackErrors.push(error))),
      );
      throw firstFailure(failures, todo.map((p) => p.cpuId), rollbackErrors);
    }
  }

  /**
   * Disables every enabled hart (restoring its prior values). Every enabled
   * hart is attempted; the promise rejects with the first hart's error if any
   * failed.
   */
  async disableAll(): Promise<void> {
    const todo = [...this.#percpus.values()].filter((p) => p.isEnabled());
    const failures = new Map<number, unknown>();
    await Promise.all(
      todo.map((percpu, i) => percpu.hardwareDisable().catch((error) => failures.set(i, error))),
    );
    if (failures.size > 0) throw firstFailure(failures, todo.map((p) => p.cpuId), []);
  }
}

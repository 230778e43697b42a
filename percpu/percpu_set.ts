/**
 * `PerCpuSet`: the per-CPU states of many harts, set up together and rolled
 * back together.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal, HartId, PerCpuState } from "../hal/types.ts";
import type { PerCpuPolicy, PolicySpec } from "./policy.ts";
import { resolvePolicy } from "./policy.ts";
import {
  type PriorValues,
  type RISCVPerCpu,
  type SetUpOutcome,
  setUpPhases,
} from "./riscv_percpu.ts";
import { runSteps, runStepsSync } from "./_steps.ts";

/**
 * Options of {@linkcode PerCpuSet.init}.
 *
 * @example Set up two harts of four
 * ```ts
 * import { CSR, PerCpuSet, type PerCpuSetOptions } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 4 });
 * const options: PerCpuSetOptions = { harts: [1, 3], policy: "kvm", concurrency: 2 };
 * const set = await PerCpuSet.init(hal, options);
 * deepStrictEqual(set.harts, [1, 3]);
 * strictEqual(await hal.csr.read(3, CSR.hedeleg), 0xb109n);
 * strictEqual(await hal.csr.read(0, CSR.hedeleg), 0n); // not in the set
 * await hal.close();
 * ```
 */
export interface PerCpuSetOptions {
  /** The harts to set up. Default: every hart of the backend. */
  harts?: readonly HartId[];
  /** The set-up policy. Default `"arceos"`. */
  policy?: PolicySpec;
  /** How many harts are set up at once. Default 64. */
  concurrency?: number;
}

/**
 * An error that stopped a multi-hart operation, with what its rollback met.
 *
 * @example Usage
 * ```ts
 * import { AxError, PerCpuSet, type RollbackInfo } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { ok, strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 3, isa: ["rv64imafdch", "rv64imafdch", "rv64imac"] });
 * const error: unknown = await PerCpuSet.init(hal).then(() => undefined, (e: unknown) => e);
 * ok(error instanceof AxError);
 * strictEqual(error.hart, 2); // the hart without H
 * strictEqual((error as AxError & RollbackInfo).rollbackErrors, undefined); // clean rollback
 * await hal.close();
 * ```
 */
export interface RollbackInfo {
  /** Errors raised while undoing the harts already done (usually empty). */
  rollbackErrors?: unknown[];
}

const DEFAULT_CONCURRENCY = 64;

/**
 * Runs `task` over `items`, at most `limit` at a time, in item order (and,
 * when `stopOnFailure`, starting nothing new after the first failure).
 * Resolves to the failures by item index.
 */
async function runBounded<T>(
  items: readonly T[],
  limit: number,
  stopOnFailure: boolean,
  task: (item: T) => Promise<void>,
): Promise<Map<number, unknown>> {
  const failures = new Map<number, unknown>();
  let next = 0;
  async function worker(): Promise<void> {
    while ((!stopOnFailure || failures.size === 0) && next < items.length) {
      const index = next++;
      try {
        await task(items[index]!);
      } catch (error) {
        failures.set(index, error);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failures;
}

/** The failure of the lowest index, the hart field set, rollback errors attached. */
function firstFailure(
  failures: Map<number, unknown>,
  harts: readonly HartId[],
  rollbackErrors: unknown[],
): unknown {
  const index = Math.min(...failures.keys());
  const error = failures.get(index);
  if (error instanceof AxError) error.hart = harts[index];
  if (rollbackErrors.length > 0 && error !== null && typeof error === "object") {
    (error as RollbackInfo).rollbackErrors = rollbackErrors;
  }
  return error;
}

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
  static async init(hal: AxVCpuHal, options: PerCpuSetOptions = {}): Promise<PerCpuSet> {
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
    const port = hal.csr;
    const { probe, apply, construct } = setUpPhases;

    // Phase 1, reads only: every hart is probed for H and its priors read, so
    // a hart without H fails the set before anything is written anywhere, and
    // the accesses do not depend on the backend's timing.
    const priors = new Map<HartId, PriorValues>();
    let failures = new Map<number, unknown>();
    if (port.batchSync !== undefined) {
      // An in-process backend answers at once: no promise per hart.
      harts.forEach((hart, i) => {
        try {
          priors.set(hart, runStepsSync(port, hart, probe(hal, hart)));
        } catch (error) {
          failures.set(i, error);
        }
      });
    } else {
      failures = await runBounded(
        harts,
        concurrency,
        false,
        (hart) =>
          runSteps(port, hart, probe(hal, hart)).then((found) => void priors.set(hart, found)),
      );
    }
    if (failures.size > 0) throw firstFailure(failures, harts, []);

    // Phase 2: the policy on each hart; the first failure stops new harts and
    // every hart already set up is restored.
    const done = new Map<HartId, RISCVPerCpu>();
    const setUpOne = (outcome: SetUpOutcome, hart: HartId) =>
      done.set(hart, construct(hart, hal, policy, outcome));
    if (port.batchSync !== undefined) {
      for (let i = 0; i < harts.length; i++) {
        const hart = harts[i]!;
        try {
          setUpOne(runStepsSync(port, hart, apply(hart, policy, priors.get(hart)!)), hart);
        } catch (error) {
          failures.set(i, error);
          break;
        }
      }
    } else {
      failures = await runBounded(
        harts,
        concurrency,
        true,
        (hart) =>
          runSteps(port, hart, apply(hart, policy, priors.get(hart)!)).then((outcome) =>
            void setUpOne(outcome, hart)
          ),
      );
    }
    if (failures.size > 0) {
      const rollbackErrors: unknown[] = [];
      await Promise.all(
        [...done.values()].map((percpu) =>
          percpu.restorePriors().catch((error) => rollbackErrors.push(error))
        ),
      );
      throw firstFailure(failures, harts, rollbackErrors);
    }
    // The bounded pool finishes harts out of order; the set keeps set-up order.
    const ordered = [...done.keys()].every((hart, i) => hart === harts[i])
      ? done
      : new Map(harts.map((hart) => [hart, done.get(hart)!]));
    return new PerCpuSet(hal, policy, ordered, concurrency);
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

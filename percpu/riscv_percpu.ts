/**
 * `RISCVPerCpu`: the per-CPU hypervisor set-up of one hart, written once for
 * every backend.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";
import type { AxArchPerCpu, AxVCpuHal, CsrNum, HartId, PerCpuState } from "../hal/types.ts";
import { hasHardwareSupport } from "../detect/h_extension.ts";
import { type PerCpuPolicy, type PolicySpec, resolvePolicy, setupTable } from "./policy.ts";
import { type PriorValues, refusedBits, restorer, setUpHarts } from "./_setup.ts";
import { type PerCpuTable, STATE, STATE_NAMES } from "./_table.ts";
import { boundVcpuOf, setBusySlot, setDelegationLoaded } from "./_bound.ts";
import type { RISCVVCpu } from "./riscv_vcpu.ts";

export type { PriorValues };

/**
 * One line of {@linkcode RISCVPerCpu.csrReport}.
 *
 * @example The spec profile's hcounteren is 32 bits wide
 * ```ts
 * import { type CsrReportEntry, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ profile: "spec" });
 * const percpu = await RISCVPerCpu.create(0, hal);
 * const entry: CsrReportEntry = percpu.csrReport().find((e) => e.name === "hcounteren")!;
 * strictEqual(entry.asked, 0xffff_ffff_ffff_ffffn);
 * strictEqual(entry.kept, 0xffff_ffffn);
 * strictEqual(entry.refused, 0xffff_ffff_0000_0000n); // reported, not an error
 * await hal.close();
 * ```
 */
export interface CsrReportEntry {
  /** The CSR's name. */
  readonly name: string;
  /** The CSR's address. */
  readonly csr: CsrNum;
  /** The value the policy asked for within `mask`; `undefined` when it asked nothing. */
  readonly asked: bigint | undefined;
  /** The bits the policy controls (all ones for a full write). */
  readonly mask: bigint;
  /** What the hart kept: the value read back after the set-up. */
  readonly kept: bigint;
  /** Bits in `mask` where `kept` differs from `asked`. */
  readonly refused: bigint;
}

/** Builds the view of a table's row (for `PerCpuSet`, module-internal). */
let construct: (
  table: PerCpuTable,
  row: number,
  hal: AxVCpuHal,
  policy: PerCpuPolicy,
) => RISCVPerCpu;

/**
 * The per-CPU virtualization state of one RISC-V hart: ArceOS
 * `riscv_vcpu::RISCVPerCpu`, with `isEnabled` and `hardwareDisable`
 * implemented (the reference leaves them `unimplemented!()`).
 *
 * Creation probes for H (nothing is written without it), keeps the prior
 * values of the CSRs it changes, runs the policy's operations in the
 * reference's order and reads back what stuck. Enable only checks support;
 * disable restores the prior values in KVM's order.
 *
 * Its state lives in a row of typed arrays shared with the other harts of
 * its `PerCpuSet` (or a table of its own); the object is a view of that row.
 *
 * @example Usage
 * ```ts
 * import { CSR, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const percpu = await RISCVPerCpu.create(0, hal);
 * strictEqual(percpu.state, "initialized");
 * await percpu.hardwareEnable();
 * strictEqual(percpu.isEnabled(), true);
 * strictEqual(await hal.csr.read(0, CSR.hideleg), percpu.policy.hideleg);
 * await percpu.hardwareDisable();
 * strictEqual(await hal.csr.read(0, CSR.hideleg), 0n);
 * await hal.close();
 * ```
 */
export class RISCVPerCpu implements AxArchPerCpu {
  static {
    construct = (table, row, hal, policy) => new RISCVPerCpu(table, row, hal, policy);
    // One busy byte per hart, in the table: per-CPU transitions and vCPU steps share it.
    setBusySlot(
      (percpu) => percpu.#table.busy[percpu.#row] !== 0,
      (percpu, busy) => void (percpu.#table.busy[percpu.#row] = busy ? 1 : 0),
    );
  }

  /** The hart this state belongs to. */
  readonly cpuId: HartId;
  /** The backend. */
  readonly hal: AxVCpuHal;
  /** The set-up policy. */
  readonly policy: PerCpuPolicy;
  #table: PerCpuTable;
  #row: number;

  private constructor(table: PerCpuTable, row: number, hal: AxVCpuHal, policy: PerCpuPolicy) {
    this.cpuId = table.harts[row]!;
    this.hal = hal;
    this.policy = policy;
    this.#table = table;
    this.#row = row;
  }

  /**
   * Sets up one hart for virtualization (the reference's `new`), by the same
   * route as `PerCpuSet.init`: probe and prior values first (reads only),
   * then the policy's operations and the read-back; any failure after the
   * first write restores the prior values.
   *
   * @param cpuId The hart.
   * @param hal The backend; only its `csr` port is used.
   * @param options The policy.
   * @returns The per-CPU state, `initialized`.
   * @throws {AxError} Kind `"Unsupported"` when the hart has no H extension
   *   (nothing is written) or does not keep the policy's hedeleg/hideleg bits
   *   (the prior values are restored first); `"NotFound"` for an unknown hart.
   *   When the restore fails too, `rollbackErrors` says how.
   * @throws {CsrTrap} When a set-up access traps on a hart with H.
   */
  static async create(
    cpuId: HartId,
    hal: AxVCpuHal,
    options: {
      /** The set-up policy. Default `"arceos"`. */
      policy?: PolicySpec;
    } = {},
  ): Promise<RISCVPerCpu> {
    const policy = resolvePolicy(options.policy);
    const table = await setUpHarts(hal, [cpuId], policy, 1);
    return construct(table, 0, hal, policy);
  }

  /** The lifecycle state. */
  get state(): PerCpuState {
    return STATE_NAMES[this.#table.states[this.#row]!]!;
  }

  /** The values the set-up found before it changed anything. */
  get priors(): PriorValues {
    return this.#table.priorValues(this.#row);
  }

  /** Whether hardware virtualization is on for this hart. */
  isEnabled(): boolean {
    return this.#table.states[this.#row] === STATE.enabled;
  }

  /** How many levels the guest (stage-2) page tables have. */
  maxGuestPageTableLevels(): number {
    return this.policy.guestPageTableLevels;
  }

  /**
   * What the last set-up asked of each CSR and what the hart kept.
   *
   * @returns One entry each for hedeleg, hideleg, hvip, hcounteren and sie.
   */
  csrReport(): CsrReportEntry[] {
    const readBack = this.#table.readBackValues(this.#row);
    return setupTable(this.policy).map((row, i) => {
      const kept = readBack[i]!;
      return {
        name: row.name,
        csr: row.csr,
        asked: row.asked,
        mask: row.mask,
        kept,
        refused: refusedBits(row, kept),
      };
    });
  }

  /**
   * Turns virtualization on: from `initialized` it only checks (once, then
   * cached) that the hart has H; from `disabled` it runs the set-up again.
   *
   * @throws {AxError} Kind `"BadState"` when already enabled or busy;
   *   `"Unsupported"` without H.
   */
  async hardwareEnable(): Promise<void> {
    this.#begin("enable", ["initialized", "disabled"]);
    try {
      if (this.state === "initialized") {
        if (!(await hasHardwareSupport(this.hal, this.cpuId))) {
          throw new AxError(
            "Unsupported",
            `Cannot enable hart ${this.cpuId}: the H extension is absent`,
            { hart: this.cpuId },
          );
        }
      } else {
        const fresh = await setUpHarts(this.hal, [this.cpuId], this.policy, 1);
        this.#table.copyValues(fresh, 0, this.#row);
        setDelegationLoaded(this, false);
      }
      this.#table.states[this.#row] = STATE.enabled;
    } finally {
      this.#table.busy[this.#row] = 0;
    }
  }

  /**
   * Turns virtualization off: restores the prior values of vsie, hvip,
   * hedeleg, hideleg (KVM's order), then hcounteren and sie.
   *
   * @throws {AxError} Kind `"BadState"` unless enabled (and not busy), or
   *   while a vCPU is bound on the hart.
   */
  async hardwareDisable(): Promise<void> {
    await this.#restore("disable", ["enabled"]);
  }

  /** The vCPU bound on this hart, if one is. */
  get vcpu(): RISCVVCpu | undefined {
    return boundVcpuOf(this);
  }

  /**
   * Restores the prior values from `initialized` or `enabled` and leaves the
   * hart `disabled`: what a failed multi-hart enable does to the harts it
   * already enabled, and what a system's close does to initialized harts.
   *
   * @throws {AxError} Kind `"BadState"` when already disabled or busy, or
   *   while a vCPU is bound on the hart.
   */
  async restorePriors(): Promise<void> {
    await this.#restore("restore", ["initialized", "enabled"]);
  }

  async #restore(action: string, from: readonly PerCpuState[]): Promise<void> {
    const bound = boundVcpuOf(this);
    if (bound !== undefined) {
      throw new AxError(
        "BadState",
        `Cannot ${action} hart ${this.cpuId}: vCPU ${bound.vcpuId} of VM ${bound.vmId} is bound ` +
          `there; unbind it first`,
        { hart: this.cpuId },
      );
    }
    this.#begin(action, from);
    try {
      await restorer(this.hal, this.#table)(this.#row);
      setDelegationLoaded(this, false);
      this.#table.states[this.#row] = STATE.disabled;
    } finally {
      this.#table.busy[this.#row] = 0;
    }
  }

  #begin(action: string, from: readonly PerCpuState[]): void {
    if (this.#table.busy[this.#row] !== 0) {
      throw new AxError(
        "BadState",
        `Cannot ${action} hart ${this.cpuId}: another transition is in progress`,
        { hart: this.cpuId },
      );
    }
    const state = this.state;
    if (!from.includes(state)) {
      throw new AxError(
        "BadState",
        `Cannot ${action} hart ${this.cpuId}: it is ${state}, ` +
          `and ${action} needs ${from.join(" or ")}`,
        { hart: this.cpuId },
      );
    }
    this.#table.busy[this.#row] = 1;
  }
}

/**
 * The per-CPU state of a table's row (for `PerCpuSet`, which makes each
 * once, when it is first asked for).
 */
export function perCpuView(
  table: PerCpuTable,
  row: number,
  hal: AxVCpuHal,
  policy: PerCpuPolicy,
): RISCVPerCpu {
  return construct(table, row, hal, policy);
}

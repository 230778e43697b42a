/**
 * `RISCVVCpu`: a vCPU on a hart whose per-CPU set-up is enabled (the gate),
 * set up, bound (loaded on the hart) and unbound as ArceOS `riscv_vcpu` or
 * Linux KVM do it, by the policy's `vcpu` steps.
 *
 * @module
 */

import { ALL_ONES, ATP, ATP_MODE, HSTATUS, STATUS, VSXL_64 } from "../hal/csr_fields.ts";
import { CSR } from "../hal/csr_numbers.ts";
import { addRollbackErrors, AxError, CsrTrap } from "../hal/errors.ts";
import { hex } from "../hal/hex.ts";
import type { CsrNum, CsrOp, CsrResult, HartId } from "../hal/types.ts";
import type { CsrReportEntry, RISCVPerCpu } from "./riscv_percpu.ts";
import {
  boundVcpuOf,
  gstageOf,
  hartBusy,
  setBoundVcpu,
  setDelegationLoaded,
  setGstage,
  setHartBusy,
} from "./_bound.ts";
import { csrBitNames } from "./report.ts";
import { type CsrSteps, runSteps } from "./_steps.ts";

/** The G-stage translation modes of hgatp (`RISCVVCpu.create`'s `gstageMode`). */
export type GStageMode = NonNullable<VCpuConfig["gstageMode"]>;

const MODE_NUMBER: Readonly<Record<GStageMode, bigint>> = {
  sv39x4: BigInt(ATP_MODE.sv39),
  sv48x4: BigInt(ATP_MODE.sv48),
  sv57x4: BigInt(ATP_MODE.sv57),
};
const MODE_SHIFT = 60n;
const VMID_SHIFT = 44n;
/** The G-stage root is 16 KiB: hgatp.PPN[1:0] are zero. */
const ROOT_ALIGN = 0x4000n;

/**
 * The VS CSRs a bind loads and an unbind saves, in the order each
 * hypervisor does it: ArceOS `riscv_vcpu` `bind`/`unbind`, Linux
 * `kvm_arch_vcpu_load`/`kvm_arch_vcpu_put` (`arch/riscv/kvm/vcpu.c`).
 */
const VS_STATE: Readonly<Record<"arceos" | "kvm", readonly CsrNum[]>> = {
  arceos: [
    CSR.vsatp,
    CSR.vstvec,
    CSR.vsepc,
    CSR.vstval,
    CSR.htimedelta,
    CSR.vscause,
    CSR.vsscratch,
    CSR.vsstatus,
    CSR.vsie,
  ],
  kvm: [
    CSR.vsstatus,
    CSR.vsie,
    CSR.vstvec,
    CSR.vsscratch,
    CSR.vsepc,
    CSR.vscause,
    CSR.vstval,
    CSR.hvip,
    CSR.vsatp,
  ],
};

/**
 * Options of {@linkcode RISCVVCpu.create}.
 *
 * @example Usage
 * ```ts
 * import { PerCpuSet, RISCVVCpu } from "@rvhv/percpu";
 * import { type VCpuConfig } from "./riscv_vcpu.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const set = await PerCpuSet.init(hal);
 * await set.enableAll();
 * const config: VCpuConfig = { vmId: 3, vcpuId: 0, gstageRoot: 0x8010_0000n };
 * const vcpu = await RISCVVCpu.create(set.get(0), config);
 * strictEqual(vcpu.vmId, 3);
 * await hal.close();
 * ```
 */
export type VCpuConfig = NonNullable<Parameters<typeof RISCVVCpu.create>[1]>;

/** Reads the value of each result, throwing the first trap. */
function valuesOf(hart: HartId, ops: readonly CsrOp[], results: CsrResult[]): bigint[] {
  return results.map((result, i) => {
    if (result.ok) return result.value;
    const op = ops[i]!;
    throw new CsrTrap({ hart, csr: op.csr, trapCause: result.trapCause, op: op.op });
  });
}

/** One batch of CSR steps whose results must all succeed. */
function* exchange(hart: HartId, ops: readonly CsrOp[]): CsrSteps<bigint[]> {
  return valuesOf(hart, ops, yield ops);
}

let constructVcpu: (percpu: RISCVPerCpu, config: Required<VCpuConfig>) => RISCVVCpu;

/**
 * A vCPU: the per-CPU gate, then set-up, bind and unbind on its hart.
 *
 * `create` rejects unless the hart's per-CPU state is enabled (the
 * reference's rule: the per-CPU set-up completes before any vCPU is created
 * on that core) and touches no CSR. By the policy's `vcpu` steps:
 * - ArceOS (`riscv_vcpu` `src/vcpu.rs`): `setup` reads sstatus (the guest's
 *   image gets SPP = S) and hstatus, and writes hstatus with SPV, VSXL = 64
 *   and SPVP set; `bind` writes the vCPU's VS CSRs and hgatp as
 *   `set_ept_root` computes it (MODE 8 = Sv39x4, root PPN, no VMID), then
 *   `hfence.gvma`; `unbind` reads the VS CSRs back and writes hgatp 0.
 * - Linux KVM: `setup` finds the largest G-stage mode and the VMID bits the
 *   hart keeps, by `kvm_riscv_gstage_mode_detect` and
 *   `kvm_riscv_gstage_vmid_detect` (once per hart, as KVM does it once at
 *   module init) and leaves hgatp 0; `bind` is `kvm_arch_vcpu_load`: the vCPU's
 *   configuration (hedeleg, hideleg where delegation is per vCPU; henvcfg),
 *   its VS CSRs, then hgatp with the mode, the VMID and the root;
 *   `unbind` is `kvm_arch_vcpu_put`: it reads the VS CSRs back and writes no
 *   CSR, so hedeleg, hideleg and hgatp stay as the load set them.
 *
 * Per-vCPU delegation must stick exactly (as the per-CPU delegation must);
 * other refused bits (VMID bits the hart does not implement) are reported
 * by {@linkcode RISCVVCpu.csrReport}. At most one vCPU is bound per hart.
 * A wrong transition is `BadState` and changes nothing.
 *
 * @example Usage
 * ```ts
 * import { CSR, PerCpuSet, RISCVVCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 2 });
 * const set = await PerCpuSet.init(hal, { policy: "kvm" });
 * await set.enableAll();
 * strictEqual(await hal.csr.read(1, CSR.hedeleg), 0n); // KVM ≥ 7.1: nothing per CPU
 * const vcpu = await RISCVVCpu.create(set.get(1), { vmId: 1 });
 * await vcpu.setup();
 * await vcpu.bind();
 * strictEqual(await hal.csr.read(1, CSR.hedeleg), 0xb10dn); // the vCPU's delegation
 * strictEqual(await hal.csr.read(0, CSR.hedeleg), 0n); // only on its hart
 * await vcpu.unbind();
 * strictEqual(await hal.csr.read(1, CSR.hedeleg), 0xb10dn); // vcpu_put leaves it
 * await set.disableAll();
 * await hal.close();
 * ```
 */
export class RISCVVCpu {
  static {
    constructVcpu = (percpu, config) => new RISCVVCpu(percpu, config);
  }

  /** The per-CPU state of the vCPU's hart. */
  readonly percpu: RISCVPerCpu;
  /** The hart the vCPU runs on. */
  readonly hart: HartId;
  /** The VM it belongs to. */
  readonly vmId: number;
  /** Its index in the VM. */
  readonly vcpuId: number;
  /** The guest's entry point. */
  readonly entry: bigint;
  /** The G-stage root. */
  readonly gstageRoot: bigint;
  #mode: GStageMode | undefined;
  #state: RISCVVCpu["state"] = "created";
  #guestSstatus = 0n;
  #vsState: bigint[];
  #report: CsrReportEntry[] = [];

  private constructor(percpu: RISCVPerCpu, config: Required<VCpuConfig>) {
    this.percpu = percpu;
    this.hart = percpu.cpuId;
    this.vmId = config.vmId;
    this.vcpuId = config.vcpuId;
    this.entry = config.entry;
    this.gstageRoot = config.gstageRoot;
    this.#mode = config.gstageMode;
    this.#vsState = VS_STATE[percpu.policy.vcpu].map(() => 0n);
  }

  /**
   * Creates a vCPU on an enabled hart. Touches no CSR.
   *
   * @param percpu The hart's per-CPU state; it must be enabled.
   * @param config VM and vCPU ids, entry, G-stage root and mode.
   * @returns The vCPU, `created`.
   * @throws {AxError} Kind `"BadState"` unless `percpu` is enabled;
   *   `"InvalidInput"` for a bad config; `"NotFound"` when no frame is left
   *   for the default G-stage root.
   */
  static create(percpu: RISCVPerCpu, config: {
    /** The VM the vCPU belongs to (KVM puts it in hgatp's VMID). Default 1. */
    vmId?: number;
    /** The vCPU's index in its VM. Default 0. */
    vcpuId?: number;
    /** The guest's entry point (kept for the first run; no CSR holds it before). Default 0. */
    entry?: bigint;
    /** The G-stage root's physical address, 16 KiB aligned. Default: frames from `hal.allocFrame()`. */
    gstageRoot?: bigint;
    /**
     * The G-stage mode. Default: ArceOS Sv39x4 (what `set_ept_root` writes);
     * KVM the largest mode the hart keeps, found as `kvm_riscv_gstage_mode_detect` does.
     */
    gstageMode?: "sv39x4" | "sv48x4" | "sv57x4";
  } = {}): Promise<RISCVVCpu> {
    try {
      if (!percpu.isEnabled()) {
        throw new AxError(
          "BadState",
          `Cannot create a vCPU on hart ${percpu.cpuId}: its per-CPU state is ${percpu.state}, ` +
            `and vCPUs are created only on enabled harts (hardwareEnable first)`,
          { hart: percpu.cpuId },
        );
      }
      const vmId = config.vmId ?? 1;
      const vcpuId = config.vcpuId ?? 0;
      for (const [key, value] of [["vmId", vmId], ["vcpuId", vcpuId]] as const) {
        if (!Number.isSafeInteger(value) || value < 0) {
          throw new AxError(
            "InvalidInput",
            `Invalid vCPU config: ${key} must be ≥ 0, got ${value}`,
          );
        }
      }
      if (config.gstageMode !== undefined && !(config.gstageMode in MODE_NUMBER)) {
        throw new AxError(
          "InvalidInput",
          `Invalid vCPU config: gstageMode must be "sv39x4", "sv48x4" or "sv57x4", got ${
            JSON.stringify(config.gstageMode)
          }`,
        );
      }
      const gstageRoot = config.gstageRoot ?? rootFrame(percpu);
      if (gstageRoot % ROOT_ALIGN !== 0n) {
        throw new AxError(
          "InvalidInput",
          `Invalid vCPU config: gstageRoot ${hex(gstageRoot)} is not 16 KiB aligned`,
        );
      }
      return Promise.resolve(constructVcpu(percpu, {
        vmId,
        vcpuId,
        entry: config.entry ?? 0n,
        gstageRoot,
        gstageMode: config.gstageMode as GStageMode,
      }));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The lifecycle state: `created`, then `free` after `setup`, `bound` between `bind` and `unbind`. */
  get state(): "created" | "free" | "bound" {
    return this.#state;
  }

  /**
   * The policy's per-vCPU set-up: `created` → `free`.
   *
   * @throws {AxError} Kind `"BadState"` unless `created`, or unless the hart
   *   is enabled and in no other transition.
   * @throws {CsrTrap} When an access traps.
   */
  async setup(): Promise<void> {
    await this.#transition(
      "set up",
      "created",
      "free",
      () => this.percpu.policy.vcpu === "arceos" ? this.#arceosSetup() : this.#kvmSetup(),
      { gated: true },
    );
  }

  /**
   * Loads the vCPU on its hart: `free` → `bound`.
   *
   * @throws {AxError} Kind `"BadState"` unless `free`, or unless the hart is
   *   enabled and in no other transition (a disable, another bind); `"ResourceBusy"` when
   *   another vCPU is bound on the hart; `"Unsupported"` when the hart does
   *   not keep the per-vCPU delegation (what the bind wrote is undone).
   * @throws {CsrTrap} When an access traps.
   */
  async bind(): Promise<void> {
    await this.#transition("bind", "free", "bound", () => {
      const other = boundVcpuOf(this.percpu);
      if (other !== undefined) {
        throw new AxError(
          "ResourceBusy",
          `Cannot bind vCPU ${this.vcpuId} of VM ${this.vmId} on hart ${this.hart}: ` +
            `vCPU ${other.vcpuId} of VM ${other.vmId} is bound there`,
          { hart: this.hart },
        );
      }
      return this.#bind();
    }, { gated: true, done: () => setBoundVcpu(this.percpu, this) });
  }

  /**
   * Puts the vCPU off its hart: `bound` → `free`.
   *
   * @throws {AxError} Kind `"BadState"` unless `bound`, or while another
   *   transition runs on the hart.
   * @throws {CsrTrap} When an access traps.
   */
  async unbind(): Promise<void> {
    await this.#transition(
      "unbind",
      "bound",
      "free",
      () => this.#unbind(),
      { gated: false, done: () => setBoundVcpu(this.percpu, undefined) },
    );
  }

  /**
   * What the vCPU's steps wrote and what the hart kept: hstatus (ArceOS
   * setup), hedeleg and hideleg (per-vCPU delegation), hgatp (bind).
   *
   * @returns One entry per CSR written so far.
   */
  csrReport(): CsrReportEntry[] {
    return [...this.#report];
  }

  /** The guest's sstatus image (ArceOS: the live sstatus with SPP = S), for the first run. */
  get guestSstatus(): bigint {
    return this.#guestSstatus;
  }

  /**
   * Runs one step of the lifecycle with the hart held, so no per-CPU
   * transition and no other vCPU's step interleaves with it: set-up and
   * bind need the hart enabled (the gate holds for every step, not only
   * `create`: `gated`); unbind does not, so a vCPU can always be put off
   * its hart. `done` records the new binding before the hart is released.
   */
  async #transition(
    action: string,
    from: RISCVVCpu["state"],
    to: RISCVVCpu["state"],
    steps: () => CsrSteps<void>,
    options: { gated: boolean; done?: () => void },
  ): Promise<void> {
    const what = `Cannot ${action} vCPU ${this.vcpuId} of VM ${this.vmId} on hart ${this.hart}`;
    const refuse = (why: string) => new AxError("BadState", `${what}: ${why}`, { hart: this.hart });
    if (this.#state !== from) throw refuse(`it is ${this.#state}, and ${action} needs ${from}`);
    if (hartBusy(this.percpu)) {
      throw refuse(
        "another transition is in progress on the hart (an enable, a disable or a vCPU's)",
      );
    }
    if (options.gated && !this.percpu.isEnabled()) {
      throw refuse(
        `its per-CPU state is ${this.percpu.state}, and vCPUs run only on enabled harts`,
      );
    }
    setHartBusy(this.percpu, true);
    try {
      await runSteps(this.percpu.hal.csr, this.hart, steps());
      this.#state = to;
      options.done?.();
    } finally {
      setHartBusy(this.percpu, false);
    }
  }

  #record(name: string, csr: CsrNum, asked: bigint, mask: bigint, kept: bigint): void {
    this.#report = this.#report.filter((entry) => entry.csr !== csr);
    this.#report.push({ name, csr, asked, mask, kept, refused: (asked ^ kept) & mask });
  }

  *#arceosSetup(): CsrSteps<void> {
    const [sstatus, hstatus] = yield* exchange(this.hart, [
      { op: "read", csr: CSR.sstatus },
      { op: "read", csr: CSR.hstatus },
    ]);
    this.#guestSstatus = sstatus! | STATUS.SPP;
    const asked = HSTATUS.SPV | HSTATUS.SPVP | VSXL_64;
    const mask = HSTATUS.SPV | HSTATUS.SPVP | HSTATUS.VSXL;
    const value = (hstatus! & ~mask) | asked;
    const [, kept] = yield* exchange(this.hart, [
      { op: "write", csr: CSR.hstatus, value },
      { op: "read", csr: CSR.hstatus },
    ]);
    this.#record("hstatus", CSR.hstatus, asked, mask, kept!);
  }

  *#kvmSetup(): CsrSteps<void> {
    const found = gstageOf(this.percpu) ?? (yield* this.#detectGstage());
    this.#mode ??= found.mode;
  }

  /**
   * KVM's G-stage detection, once per hart (KVM runs it at module init):
   * `kvm_riscv_gstage_mode_detect` (Sv57x4, else Sv48x4, else Sv39x4) and
   * `kvm_riscv_gstage_vmid_detect` (the VMID bits hgatp keeps); hgatp ends 0.
   */
  *#detectGstage(): CsrSteps<{ mode: GStageMode; vmidBits: number }> {
    const hart = this.hart;
    let mode: GStageMode = "sv39x4";
    for (const candidate of ["sv57x4", "sv48x4"] as const) {
      const [, back] = yield* exchange(hart, [
        { op: "write", csr: CSR.hgatp, value: MODE_NUMBER[candidate] << MODE_SHIFT },
        { op: "read", csr: CSR.hgatp },
      ]);
      if (back! >> MODE_SHIFT === MODE_NUMBER[candidate]) {
        mode = candidate;
        break;
      }
    }
    const [, back] = yield* exchange(hart, [
      { op: "write", csr: CSR.hgatp, value: ATP.VMID },
      { op: "read", csr: CSR.hgatp },
      { op: "write", csr: CSR.hgatp, value: 0n },
    ]);
    const vmidBits = ((back! & ATP.VMID) >> VMID_SHIFT).toString(2).replace(/^0+/, "").length;
    const found = { mode, vmidBits };
    setGstage(this.percpu, found);
    return found;
  }

  /** The hgatp image: mode, VMID (KVM only, as the hart keeps it) and root PPN. */
  #hgatp(): bigint {
    const policy = this.percpu.policy;
    const mode = MODE_NUMBER[this.#mode ?? "sv39x4"];
    const vmid = policy.vcpu === "kvm" ? (BigInt(this.vmId) << VMID_SHIFT) & ATP.VMID : 0n;
    return (mode << MODE_SHIFT) | vmid | ((this.gstageRoot >> 12n) & ATP.PPN);
  }

  *#bind(): CsrSteps<void> {
    const policy = this.percpu.policy;
    const hart = this.hart;
    const vsOps = VS_STATE[policy.vcpu].map((csr, i): CsrOp => ({
      op: "write",
      csr,
      value: this.#vsState[i]!,
    }));
    const hgatp = this.#hgatp();
    const delegation: CsrOp[] = policy.delegation === "per-vcpu"
      ? [
        { op: "write", csr: CSR.hedeleg, value: policy.vcpuHedeleg },
        { op: "write", csr: CSR.hideleg, value: policy.vcpuHideleg },
      ]
      : [];
    // KVM loads the configuration first: other CSRs behave by it.
    const config: CsrOp[] = policy.vcpu === "kvm"
      ? [...delegation, { op: "write", csr: CSR.henvcfg, value: 0n }]
      : [];
    const ops: CsrOp[] = [
      ...config,
      ...vsOps,
      { op: "write", csr: CSR.hgatp, value: hgatp },
      { op: "read", csr: CSR.hgatp },
      ...delegation.map((op): CsrOp => ({ op: "read", csr: op.csr })),
    ];
    let values: bigint[];
    try {
      values = yield* exchange(hart, ops);
    } catch (error) {
      yield* this.#undoBind(error);
      throw error;
    }
    const back = values.slice(config.length + vsOps.length + 1);
    this.#record("hgatp", CSR.hgatp, hgatp, ALL_ONES, back[0]!);
    if (delegation.length === 0) return;
    const kept = [
      ["hedeleg", policy.vcpuHedeleg, back[1]!],
      ["hideleg", policy.vcpuHideleg, back[2]!],
    ] as const;
    for (const [name, asked, value] of kept) {
      this.#record(name, CSR[name], asked, ALL_ONES, value);
    }
    const refused = kept.find(([, asked, value]) => asked !== value);
    if (refused === undefined) {
      setDelegationLoaded(this.percpu, true);
      return;
    }
    const [name, asked, value] = refused;
    const error = new AxError(
      "Unsupported",
      `Cannot bind vCPU ${this.vcpuId} of VM ${this.vmId} on hart ${hart}: ${name} did not ` +
        `keep ${csrBitNames(name, asked ^ value).join(", ")}: asked ${hex(asked)}, kept ${
          hex(value)
        }; the hart's delegation was put back`,
      { hart },
    );
    yield* this.#undoBind(error);
    throw error;
  }

  /**
   * Puts back what a failed bind may have written, so the hart stays as the
   * per-CPU state left it: its delegation (where the bind writes one) and
   * hgatp 0. A failure here joins `error`'s `rollbackErrors`.
   */
  *#undoBind(error: unknown): CsrSteps<void> {
    const policy = this.percpu.policy;
    const ops: CsrOp[] = [{ op: "write", csr: CSR.hgatp, value: 0n }];
    if (policy.delegation === "per-vcpu") {
      ops.unshift(
        { op: "write", csr: CSR.hedeleg, value: policy.hedeleg },
        { op: "write", csr: CSR.hideleg, value: policy.hideleg },
      );
    }
    try {
      yield* exchange(this.hart, ops);
      setDelegationLoaded(this.percpu, false);
    } catch (failure) {
      addRollbackErrors(error, [failure]);
    }
  }

  *#unbind(): CsrSteps<void> {
    const policy = this.percpu.policy;
    const saves = VS_STATE[policy.vcpu].map((csr): CsrOp => ({ op: "read", csr }));
    // ArceOS clears hgatp; KVM's vcpu_put writes nothing.
    const clear: CsrOp[] = policy.vcpu === "arceos"
      ? [{ op: "write", csr: CSR.hgatp, value: 0n }]
      : [];
    const values = yield* exchange(this.hart, [...saves, ...clear]);
    this.#vsState = values.slice(0, saves.length);
  }
}

/**
 * A 16 KiB-aligned G-stage root from the backend's frames: frames are taken
 * until one is aligned (the allocator hands them out in order), the others
 * given back.
 */
function rootFrame(percpu: RISCVPerCpu): bigint {
  const hal = percpu.hal;
  const spare: bigint[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const frame = hal.allocFrame();
      if (frame === undefined) break;
      if (frame % ROOT_ALIGN === 0n) return frame;
      spare.push(frame);
    }
  } finally {
    for (const frame of spare) hal.deallocFrame(frame);
  }
  throw new AxError(
    "NotFound",
    `Cannot create a vCPU on hart ${percpu.cpuId}: no 16 KiB-aligned frame is left for its ` +
      `G-stage root (give gstageRoot)`,
    { hart: percpu.cpuId },
  );
}

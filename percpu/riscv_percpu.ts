/**
 * `RISCVPerCpu`: the per-CPU hypervisor set-up of one hart, written once for
 * every backend.
 *
 * @module
 */

import { CSR } from "../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../hal/errors.ts";
import { hex } from "../hal/hex.ts";
import { bitNames } from "../hal/trap_bits.ts";
import type {
  AxArchPerCpu,
  AxVCpuHal,
  CsrNum,
  CsrOp,
  CsrResult,
  HartId,
  PerCpuState,
} from "../hal/types.ts";
import { hasHardwareSupport, rememberProbe } from "../detect/h_extension.ts";
import { type PerCpuPolicy, type PolicySpec, resolvePolicy, setupOperations } from "./policy.ts";

/** The CSRs whose values before the set-up are kept, and restored by disable. */
export type PriorCsr = "hedeleg" | "hideleg" | "hvip" | "hcounteren" | "sie" | "vsie";

/** The values of the prior CSRs. */
export type PriorValues = Readonly<Record<PriorCsr, bigint>>;

/** One line of {@linkcode RISCVPerCpu.csrReport}. */
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

/** Options of {@linkcode RISCVPerCpu.create}. */
export interface RISCVPerCpuOptions {
  /** The set-up policy. Default `"arceos"`. */
  policy?: PolicySpec;
}

const ALL_ONES = (1n << 64n) - 1n;
const PRIOR_ORDER: readonly PriorCsr[] = [
  "hedeleg",
  "hideleg",
  "hvip",
  "hcounteren",
  "sie",
  "vsie",
];
/** KVM's `kvm_arch_hardware_disable` order, then the CSRs KVM does not touch. */
const RESTORE_ORDER: readonly PriorCsr[] = [
  "vsie",
  "hvip",
  "hedeleg",
  "hideleg",
  "hcounteren",
  "sie",
];
/** Delegation the hart must keep exactly, or the set-up fails. */
const MUST_STICK: ReadonlySet<string> = new Set(["hedeleg", "hideleg"]);
const VS_INTERRUPTS = 0x444n;

/** The H probe (a read of hgatp) followed by the reads of the prior values. */
const PROBE_AND_PRIORS: readonly CsrOp[] = Object.freeze([
  { op: "read", csr: CSR.hgatp },
  ...PRIOR_ORDER.map((name): CsrOp => ({ op: "read", csr: CSR[name] })),
]);
const READ_BACK: readonly CsrOp[] = Object.freeze(
  (["hedeleg", "hideleg", "hvip", "hcounteren", "sie"] as const).map((name): CsrOp => ({
    op: "read",
    csr: CSR[name],
  })),
);

/** What a policy's set-up asks of each read-back CSR. */
interface Expectation {
  readonly name: "hedeleg" | "hideleg" | "hvip" | "hcounteren" | "sie";
  readonly asked: bigint | undefined;
  readonly mask: bigint;
}

/** Per policy: the operations (set-up, then read-back) and what each read-back should show. */
interface CompiledPolicy {
  readonly ops: readonly CsrOp[];
  readonly setupCount: number;
  readonly expectations: readonly Expectation[];
}

const compiled: WeakMap<PerCpuPolicy, CompiledPolicy> = new WeakMap();

function compile(policy: PerCpuPolicy): CompiledPolicy {
  const cached = compiled.get(policy);
  if (cached !== undefined) return cached;
  const setup = setupOperations(policy);
  const sieMask = policy.sie.reduce((m, cause) => m | (1n << BigInt(cause)), 0n);
  const expectations: Expectation[] = [
    { name: "hedeleg", asked: policy.hedeleg, mask: ALL_ONES },
    { name: "hideleg", asked: policy.hideleg, mask: ALL_ONES },
    { name: "hvip", asked: 0n, mask: VS_INTERRUPTS },
    { name: "hcounteren", asked: policy.hcounteren, mask: ALL_ONES },
    sieMask === 0n
      ? { name: "sie", asked: undefined, mask: 0n }
      : { name: "sie", asked: sieMask, mask: sieMask },
  ];
  const entry: CompiledPolicy = Object.freeze({
    ops: Object.freeze([...setup, ...READ_BACK]),
    setupCount: setup.length,
    expectations: Object.freeze(expectations),
  });
  compiled.set(policy, entry);
  return entry;
}

function describeBits(csr: string, bits: bigint): string {
  const kind = csr === "hedeleg" ? "exception" : "interrupt";
  const positions: string[] = [];
  for (let bit = 0; bit < 64; bit++) if ((bits >> BigInt(bit)) & 1n) positions.push(String(bit));
  return `bit${positions.length === 1 ? "" : "s"} ${positions.join(", ")} (${
    bitNames(bits, kind).join(", ")
  })`;
}

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
 * strictEqual(await hal.csr.read(0, CSR.hideleg), 0x444n);
 * await percpu.hardwareDisable();
 * strictEqual(await hal.csr.read(0, CSR.hideleg), 0n);
 * await hal.close();
 * ```
 */
export class RISCVPerCpu implements AxArchPerCpu {
  /** @inheritdoc */
  readonly cpuId: HartId;
  /** The backend. */
  readonly hal: AxVCpuHal;
  /** The set-up policy. */
  readonly policy: PerCpuPolicy;
  #state: PerCpuState = "initialized";
  #busy = false;
  #priors: PriorValues;
  #readBack: readonly bigint[] = [];

  private constructor(cpuId: HartId, hal: AxVCpuHal, policy: PerCpuPolicy, priors: PriorValues) {
    this.cpuId = cpuId;
    this.hal = hal;
    this.policy = policy;
    this.#priors = priors;
  }

  /**
   * Sets up one hart for virtualization (the reference's `new`).
   *
   * @param cpuId The hart.
   * @param hal The backend.
   * @param options The policy.
   * @returns The per-CPU state, `initialized`.
   * @throws {AxError} Kind `"Unsupported"` when the hart has no H extension
   *   (nothing is written) or does not keep the policy's hedeleg/hideleg bits
   *   (the prior values are restored first); `"NotFound"` for an unknown hart.
   * @throws {CsrTrap} When a set-up access traps on a hart with H.
   */
  static async create(
    cpuId: HartId,
    hal: AxVCpuHal,
    options: RISCVPerCpuOptions = {},
  ): Promise<RISCVPerCpu> {
    const policy = resolvePolicy(options.policy);
    const priors = await readPriors(hal, cpuId);
    const percpu = new RISCVPerCpu(cpuId, hal, policy, priors);
    await percpu.#apply();
    return percpu;
  }

  /** @inheritdoc */
  get state(): PerCpuState {
    return this.#state;
  }

  /** The values the set-up found before it changed anything. */
  get priors(): PriorValues {
    return this.#priors;
  }

  /** @inheritdoc */
  isEnabled(): boolean {
    return this.#state === "enabled";
  }

  /** @inheritdoc */
  maxGuestPageTableLevels(): number {
    return this.policy.guestPageTableLevels;
  }

  /**
   * What the last set-up asked of each CSR and what the hart kept.
   *
   * @returns One entry each for hedeleg, hideleg, hvip, hcounteren and sie.
   */
  csrReport(): CsrReportEntry[] {
    const { expectations } = compile(this.policy);
    return expectations.map((expect, i) => {
      const kept = this.#readBack[i]!;
      return {
        name: expect.name,
        csr: CSR[expect.name],
        asked: expect.asked,
        mask: expect.mask,
        kept,
        refused: expect.asked === undefined ? 0n : (kept ^ expect.asked) & expect.mask,
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
      if (this.#state === "initialized") {
        if (!(await hasHardwareSupport(this.hal, this.cpuId))) {
          throw new AxError(
            "Unsupported",
            `Cannot enable hart ${this.cpuId}: the H extension is absent`,
            { hart: this.cpuId },
          );
        }
      } else {
        this.#priors = await readPriors(this.hal, this.cpuId);
        await this.#apply();
      }
      this.#state = "enabled";
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Turns virtualization off: restores the prior values of vsie, hvip,
   * hedeleg, hideleg (KVM's order), then hcounteren and sie.
   *
   * @throws {AxError} Kind `"BadState"` unless enabled (and not busy).
   */
  async hardwareDisable(): Promise<void> {
    this.#begin("disable", ["enabled"]);
    try {
      await this.#restore();
      this.#state = "disabled";
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Restores the prior values from `initialized` or `enabled` and leaves the
   * hart `disabled`: what a failed multi-hart set-up does to the harts it
   * already set up.
   *
   * @throws {AxError} Kind `"BadState"` when already disabled or busy.
   */
  async restorePriors(): Promise<void> {
    this.#begin("restore", ["initialized", "enabled"]);
    try {
      await this.#restore();
      this.#state = "disabled";
    } finally {
      this.#busy = false;
    }
  }

  #begin(action: string, from: readonly PerCpuState[]): void {
    if (this.#busy) {
      throw new AxError(
        "BadState",
        `Cannot ${action} hart ${this.cpuId}: another transition is in progress`,
        { hart: this.cpuId },
      );
    }
    if (!from.includes(this.#state)) {
      throw new AxError(
        "BadState",
        `Cannot ${action} hart ${this.cpuId}: it is ${this.#state}, ` +
          `and ${action} needs ${from.join(" or ")}`,
        { hart: this.cpuId },
      );
    }
    this.#busy = true;
  }

  /** Runs the policy's operations and the read-back; restores the priors on failure. */
  async #apply(): Promise<void> {
    const { ops, setupCount, expectations } = compile(this.policy);
    const results = await this.hal.csr.batch(this.cpuId, ops);
    const trapped = results.findIndex((r) => !r.ok);
    if (trapped >= 0) {
      const result = results[trapped] as Extract<CsrResult, { ok: false }>;
      const op = ops[trapped]!;
      await this.#restore();
      throw new CsrTrap({
        hart: this.cpuId,
        csr: op.csr,
        trapCause: result.trapCause,
        op: op.op,
      });
    }
    const readBack = results.slice(setupCount).map((r) => (r as { value: bigint }).value);
    for (let i = 0; i < expectations.length; i++) {
      const expect = expectations[i]!;
      const refused = expect.asked === undefined ? 0n : (readBack[i]! ^ expect.asked) & expect.mask;
      if (refused !== 0n && MUST_STICK.has(expect.name)) {
        await this.#restore();
        throw new AxError(
          "Unsupported",
          `Cannot set up hart ${this.cpuId}: ${expect.name} (${hex(BigInt(CSR[expect.name]))}) ` +
            `did not keep ${describeBits(expect.name, refused)}: asked ${hex(expect.asked!)}, ` +
            `kept ${hex(readBack[i]!)}; the prior values were restored`,
          { hart: this.cpuId },
        );
      }
    }
    this.#readBack = readBack;
  }

  async #restore(): Promise<void> {
    const ops = RESTORE_ORDER.map((name): CsrOp => ({
      op: "write",
      csr: CSR[name],
      value: this.#priors[name],
    }));
    const results = await this.hal.csr.batch(this.cpuId, ops);
    const trapped = results.findIndex((r) => !r.ok);
    if (trapped >= 0) {
      const cause = (results[trapped] as { trapCause: number }).trapCause;
      throw new CsrTrap({
        hart: this.cpuId,
        csr: ops[trapped]!.csr,
        trapCause: cause,
        op: "write",
      });
    }
  }
}

/**
 * Probes for H and reads the prior values in one batch of reads (no side
 * effects), so a hart without H sees nothing written.
 */
async function readPriors(hal: AxVCpuHal, hart: HartId): Promise<PriorValues> {
  const results = await hal.csr.batch(hart, PROBE_AND_PRIORS);
  const probe = results[0]!;
  if (!probe.ok) {
    if (probe.trapCause === 2) {
      rememberProbe(hal, hart, false);
      throw new AxError(
        "Unsupported",
        `Cannot set up hart ${hart}: the H extension is absent ` +
          `(reading hgatp raised illegal instruction); nothing was written`,
        { hart },
      );
    }
    throw new CsrTrap({ hart, csr: CSR.hgatp, trapCause: probe.trapCause, op: "read" });
  }
  rememberProbe(hal, hart, true);
  const priors = {} as Record<PriorCsr, bigint>;
  for (let i = 0; i < PRIOR_ORDER.length; i++) {
    const result = results[i + 1]!;
    const name = PRIOR_ORDER[i]!;
    if (!result.ok) {
      throw new CsrTrap({ hart, csr: CSR[name], trapCause: result.trapCause, op: "read" });
    }
    priors[name] = result.value;
  }
  return Object.freeze(priors);
}

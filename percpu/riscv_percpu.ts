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
import { type CsrSteps, runSteps } from "./_steps.ts";

/**
 * The CSRs whose values before the set-up are kept, and restored by disable.
 *
 * @example Usage
 * ```ts
 * import { type PriorCsr, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const percpu = await RISCVPerCpu.create(0, hal);
 * const kept: PriorCsr[] = ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "vsie"];
 * deepStrictEqual(Object.keys(percpu.priors).sort(), [...kept].sort());
 * await hal.close();
 * ```
 */
export type PriorCsr = "hedeleg" | "hideleg" | "hvip" | "hcounteren" | "sie" | "vsie";

/**
 * The values of the prior CSRs.
 *
 * @example Disable restores what was there before
 * ```ts
 * import { CSR, type PriorValues, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * await hal.csr.write(0, CSR.hedeleg, 0x100n); // left by an earlier owner of the hart
 * const percpu = await RISCVPerCpu.create(0, hal);
 * const priors: PriorValues = percpu.priors;
 * strictEqual(priors.hedeleg, 0x100n);
 * await percpu.hardwareEnable();
 * await percpu.hardwareDisable();
 * strictEqual(await hal.csr.read(0, CSR.hedeleg), 0x100n);
 * await hal.close();
 * ```
 */
export type PriorValues = Readonly<Record<PriorCsr, bigint>>;

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

/**
 * Options of {@linkcode RISCVPerCpu.create}.
 *
 * @example Usage
 * ```ts
 * import { CSR, RISCVPerCpu, type RISCVPerCpuOptions } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const options: RISCVPerCpuOptions = { policy: "kvm" };
 * const percpu = await RISCVPerCpu.create(0, hal, options);
 * strictEqual(percpu.policy.name, "kvm");
 * strictEqual(await hal.csr.read(0, CSR.hedeleg), 0xb109n);
 * await hal.close();
 * ```
 */
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
const VS_INTERRUPTS = 0x444n;

/**
 * Freezes a batch and its operations: the same frozen batch is sent for
 * every hart, and a backend may check it once and reuse the result.
 */
function frozenOps(ops: CsrOp[]): readonly CsrOp[] {
  return Object.freeze(ops.map((op) => Object.freeze(op)));
}

/** The H probe (a read of hgatp) followed by the reads of the prior values. */
const PROBE_AND_PRIORS: readonly CsrOp[] = frozenOps([
  { op: "read", csr: CSR.hgatp },
  ...PRIOR_ORDER.map((name): CsrOp => ({ op: "read", csr: CSR[name] })),
]);
const READ_BACK: readonly CsrOp[] = frozenOps(
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
  /** Whether the set-up fails when the hart refuses a bit. */
  readonly mustStick: boolean;
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
    { name: "hedeleg", asked: policy.hedeleg, mask: ALL_ONES, mustStick: true },
    { name: "hideleg", asked: policy.hideleg, mask: ALL_ONES, mustStick: true },
    { name: "hvip", asked: 0n, mask: VS_INTERRUPTS, mustStick: false },
    { name: "hcounteren", asked: policy.hcounteren, mask: ALL_ONES, mustStick: false },
    sieMask === 0n
      ? { name: "sie", asked: undefined, mask: 0n, mustStick: false }
      : { name: "sie", asked: sieMask, mask: sieMask, mustStick: false },
  ];
  const entry: CompiledPolicy = Object.freeze({
    ops: frozenOps([...setup, ...READ_BACK]),
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

/** Builds an instance from a finished set-up (module-internal). */
let construct: (
  cpuId: HartId,
  hal: AxVCpuHal,
  policy: PerCpuPolicy,
  outcome: SetUpOutcome,
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
  static {
    construct = (cpuId, hal, policy, { priors, readBack }) =>
      new RISCVPerCpu(cpuId, hal, policy, priors, readBack);
  }

  /** The hart this state belongs to. */
  readonly cpuId: HartId;
  /** The backend. */
  readonly hal: AxVCpuHal;
  /** The set-up policy. */
  readonly policy: PerCpuPolicy;
  #state: PerCpuState = "initialized";
  #busy = false;
  #priors: PriorValues;
  #readBack: readonly bigint[];

  private constructor(
    cpuId: HartId,
    hal: AxVCpuHal,
    policy: PerCpuPolicy,
    priors: PriorValues,
    readBack: readonly bigint[],
  ) {
    this.cpuId = cpuId;
    this.hal = hal;
    this.policy = policy;
    this.#priors = priors;
    this.#readBack = readBack;
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
  static create(
    cpuId: HartId,
    hal: AxVCpuHal,
    options: RISCVPerCpuOptions = {},
  ): Promise<RISCVPerCpu> {
    let policy: PerCpuPolicy;
    try {
      policy = resolvePolicy(options.policy);
    } catch (error) {
      return Promise.reject(error);
    }
    return runSteps(hal.csr, cpuId, setUp(hal, cpuId, policy)).then(
      (outcome) => construct(cpuId, hal, policy, outcome),
    );
  }

  /** The lifecycle state. */
  get state(): PerCpuState {
    return this.#state;
  }

  /** The values the set-up found before it changed anything. */
  get priors(): PriorValues {
    return this.#priors;
  }

  /** Whether hardware virtualization is on for this hart. */
  isEnabled(): boolean {
    return this.#state === "enabled";
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
        const { priors, readBack } = await runSteps(
          this.hal.csr,
          this.cpuId,
          setUp(this.hal, this.cpuId, this.policy),
        );
        this.#priors = priors;
        this.#readBack = readBack;
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
      await runSteps(this.hal.csr, this.cpuId, restore(this.cpuId, this.#priors));
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
      await runSteps(this.hal.csr, this.cpuId, restore(this.cpuId, this.#priors));
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
}

/**
 * The two phases of a set-up, for `PerCpuSet` (module-internal): `probe`
 * (the H probe and the prior values: reads only) and `apply` (the policy's
 * operations and the read-back, restoring the priors on failure), as CSR
 * steps, and `construct` for the result.
 */
export const setUpPhases: {
  readonly probe: (hal: AxVCpuHal, hart: HartId) => CsrSteps<PriorValues>;
  readonly apply: (
    hart: HartId,
    policy: PerCpuPolicy,
    priors: PriorValues,
  ) => CsrSteps<SetUpOutcome>;
  readonly construct: (
    cpuId: HartId,
    hal: AxVCpuHal,
    policy: PerCpuPolicy,
    outcome: SetUpOutcome,
  ) => RISCVPerCpu;
} = {
  probe: probePriors,
  apply: applyPolicy,
  construct: (cpuId, hal, policy, outcome) => construct(cpuId, hal, policy, outcome),
};

/** What a set-up found and left. */
export interface SetUpOutcome {
  readonly priors: PriorValues;
  readonly readBack: readonly bigint[];
}

/**
 * The set-up as CSR steps: probe for H and read the priors in one batch of
 * reads (so a hart without H sees nothing written), then the policy's
 * operations and the read-back in a second batch; on failure, restore.
 */
function* setUp(hal: AxVCpuHal, hart: HartId, policy: PerCpuPolicy): CsrSteps<SetUpOutcome> {
  const priors = yield* probePriors(hal, hart);
  return yield* applyPolicy(hart, policy, priors);
}

/** Phase 1: the H probe and the prior values, in one batch of reads. */
function* probePriors(hal: AxVCpuHal, hart: HartId): CsrSteps<PriorValues> {
  return parsePriors(hal, hart, yield PROBE_AND_PRIORS);
}

/** Phase 2: the policy's operations and the read-back; the priors are restored on failure. */
function* applyPolicy(
  hart: HartId,
  policy: PerCpuPolicy,
  priors: PriorValues,
): CsrSteps<SetUpOutcome> {
  const { ops, setupCount, expectations } = compile(policy);
  const results = yield ops;
  const trapped = firstTrap(results);
  if (trapped >= 0) {
    const op = ops[trapped]!;
    const cause = (results[trapped] as Extract<CsrResult, { ok: false }>).trapCause;
    throw yield* undo(
      hart,
      priors,
      new CsrTrap({ hart, csr: op.csr, trapCause: cause, op: op.op }),
    );
  }
  const readBack = new Array<bigint>(expectations.length);
  for (let i = 0; i < expectations.length; i++) {
    readBack[i] = (results[setupCount + i] as { value: bigint }).value;
    const expect = expectations[i]!;
    const refused = expect.asked === undefined ? 0n : (readBack[i]! ^ expect.asked) & expect.mask;
    if (refused !== 0n && expect.mustStick) {
      throw yield* undo(
        hart,
        priors,
        new AxError(
          "Unsupported",
          `Cannot set up hart ${hart}: ${expect.name} (${hex(BigInt(CSR[expect.name]))}) ` +
            `did not keep ${describeBits(expect.name, refused)}: asked ${hex(expect.asked!)}, ` +
            `kept ${hex(readBack[i]!)}; the prior values were restored`,
          { hart },
        ),
      );
    }
  }
  return { priors, readBack };
}

/** The restore as CSR steps: write the priors back in KVM's order. */
function* restore(hart: HartId, priors: PriorValues): CsrSteps<void> {
  const ops = RESTORE_ORDER.map((name): CsrOp => ({
    op: "write",
    csr: CSR[name],
    value: priors[name],
  }));
  const results = yield ops;
  const trapped = firstTrap(results);
  if (trapped >= 0) {
    const cause = (results[trapped] as { trapCause: number }).trapCause;
    throw new CsrTrap({ hart, csr: ops[trapped]!.csr, trapCause: cause, op: "write" });
  }
}

/**
 * Restores the priors after a failed set-up and returns the set-up's error
 * to throw; a failure of the restore itself is attached as `rollbackErrors`.
 */
function* undo(hart: HartId, priors: PriorValues, error: AxError): CsrSteps<AxError> {
  try {
    yield* restore(hart, priors);
  } catch (rollback) {
    (error as AxError & { rollbackErrors?: unknown[] }).rollbackErrors = [rollback];
  }
  return error;
}

/** The index of the first trapped result, or -1. */
function firstTrap(results: readonly CsrResult[]): number {
  for (let i = 0; i < results.length; i++) if (!results[i]!.ok) return i;
  return -1;
}

/** Reads the probe's answer and the prior values from the first batch. */
function parsePriors(hal: AxVCpuHal, hart: HartId, results: CsrResult[]): PriorValues {
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
  for (let i = 1; i < results.length; i++) {
    const result = results[i]!;
    if (!result.ok) {
      throw new CsrTrap({ hart, csr: PROBE_AND_PRIORS[i]!.csr, trapCause: result.trapCause });
    }
  }
  const value = (i: number) => (results[i] as { value: bigint }).value;
  return {
    hedeleg: value(1),
    hideleg: value(2),
    hvip: value(3),
    hcounteren: value(4),
    sie: value(5),
    vsie: value(6),
  };
}

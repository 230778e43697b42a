/**
 * Set-up policies: the values the per-CPU set-up programs, and the nine
 * operations it runs, in the reference's order.
 *
 * @module
 */

import { ALL_ONES, VS_INTERRUPTS } from "../hal/csr_fields.ts";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import { hex, parseHex } from "../hal/hex.ts";
import {
  causeNumber,
  exceptionMask,
  Interrupt,
  interruptMask,
  type InterruptName,
} from "../hal/trap_bits.ts";
import type { CsrNum, CsrOp } from "../hal/types.ts";

/**
 * A resolved policy.
 *
 * @example Usage
 * ```ts
 * import { type PerCpuPolicy, resolvePolicy } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const policy: PerCpuPolicy = resolvePolicy("kvm");
 * strictEqual(policy.hedeleg, 0n); // per CPU: nothing delegated
 * strictEqual(policy.vcpuHedeleg, 0xb10dn); // each vCPU's bind delegates
 * strictEqual(policy.vcpuHideleg, 0x444n);
 * deepStrictEqual(policy.sie, []); // KVM leaves sie alone
 * ```
 */
export interface PerCpuPolicy {
  /** `"arceos"`, `"kvm"`, `"kvm-6.12"` or `"custom"`. */
  readonly name: string;
  /** The value the per-CPU set-up writes to hedeleg: exceptions delegated to VS. */
  readonly hedeleg: bigint;
  /** The value the per-CPU set-up writes to hideleg: interrupts delegated to VS. */
  readonly hideleg: bigint;
  /** The value written to hcounteren. */
  readonly hcounteren: bigint;
  /** Interrupts whose sie enable bit is set, one `csrrs` each, in this order. */
  readonly sie: readonly number[];
  /** Levels of the guest (stage-2) page tables: 3 for Sv39x4. */
  readonly guestPageTableLevels: number;
  /**
   * Where delegation is programmed: by the per-CPU set-up (`"per-cpu"`:
   * ArceOS, Linux ≤ 7.0) or by each vCPU's bind (`"per-vcpu"`: Linux ≥ 7.1,
   * whose per-CPU enable writes hedeleg and hideleg 0).
   */
  readonly delegation: "per-cpu" | "per-vcpu";
  /** With per-vCPU delegation: the hedeleg a vCPU's bind writes (must stick). */
  readonly vcpuHedeleg: bigint;
  /** With per-vCPU delegation: the hideleg a vCPU's bind writes (must stick). */
  readonly vcpuHideleg: bigint;
  /**
   * Whose vCPU steps `RISCVVCpu` runs: ArceOS `riscv_vcpu`'s (`setup` writes
   * hstatus; `bind` loads the VS CSRs and an Sv39x4 hgatp without VMID;
   * `unbind` saves them and clears hgatp) or Linux KVM's (`setup` finds the
   * G-stage mode and VMID bits; `bind` is `kvm_arch_vcpu_load`; `unbind` is
   * `kvm_arch_vcpu_put`, which writes nothing).
   */
  readonly vcpu: "arceos" | "kvm";
}

/**
 * A custom policy as written in a manifest or in code.
 *
 * @example Usage
 * ```ts
 * import { type CustomPolicySpec, resolvePolicy } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const spec: CustomPolicySpec = {
 *   hedeleg: ["BREAKPOINT", 8], // names or cause numbers
 *   hideleg: ["VIRTUAL_SUPERVISOR_TIMER"],
 *   hcounteren: "0x7",
 *   sie: ["SUPERVISOR_TIMER"],
 * };
 * const policy = resolvePolicy(spec);
 * strictEqual(policy.name, "custom");
 * strictEqual(policy.hedeleg, 0x108n);
 * strictEqual(policy.hcounteren, 0x7n);
 * deepStrictEqual(policy.sie, [5]);
 * ```
 */
export interface CustomPolicySpec {
  /** Exceptions to delegate to VS: cause numbers or names (`"ILLEGAL_INSTRUCTION"`). */
  hedeleg: readonly (number | string)[];
  /** Interrupts to delegate to VS: cause numbers or names. */
  hideleg: readonly (number | string)[];
  /** hcounteren value: a `"0x…"` string, a number or a bigint. */
  hcounteren: string | number | bigint;
  /** Interrupts to enable in sie, in order: cause numbers or names. */
  sie: readonly (number | string)[];
  /** Levels of the guest page tables (3: Sv39x4, 4: Sv48x4, 5: Sv57x4). Default 3. */
  guestPageTableLevels?: number;
  /**
   * Where `hedeleg` and `hideleg` are written: by the per-CPU set-up
   * (`"per-cpu"`, the default, with ArceOS's vCPU steps) or by each vCPU's
   * bind (`"per-vcpu"`, with KVM's: the per-CPU set-up then writes 0).
   */
  delegation?: "per-cpu" | "per-vcpu";
}

/**
 * What `policy` accepts: a built-in name, a custom spec, or a resolved policy.
 *
 * @example Usage
 * ```ts
 * import { KVM_POLICY, PerCpuSet, type PolicySpec } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const specs: PolicySpec[] = [
 *   "arceos",
 *   KVM_POLICY,
 *   { hedeleg: [3], hideleg: [], hcounteren: 0, sie: [] },
 * ];
 * const names: string[] = [];
 * for (const policy of specs) {
 *   const hal = await createEmulatorHal();
 *   names.push((await PerCpuSet.init(hal, { policy })).policy.name);
 *   await hal.close();
 * }
 * deepStrictEqual(names, ["arceos", "kvm", "custom"]);
 * ```
 */
export type PolicySpec = "arceos" | "kvm" | "kvm-6.12" | CustomPolicySpec | PerCpuPolicy;

/** The VS interrupt bits hvip holds, cleared one by one by the set-up (`VS_INTERRUPTS`). */
const HVIP_CLEARS: readonly InterruptName[] = [
  "VIRTUAL_SUPERVISOR_SOFTWARE",
  "VIRTUAL_SUPERVISOR_TIMER",
  "VIRTUAL_SUPERVISOR_EXTERNAL",
];

/**
 * The exceptions a Linux KVM vCPU delegates to VS up to Linux 7.0:
 * `KVM_HEDELEG_DEFAULT` without illegal instruction (0xB109).
 */
const KVM_6_12_HEDELEG: bigint = exceptionMask(
  "INSTRUCTION_ADDRESS_MISALIGNED",
  "BREAKPOINT",
  "ENVIRONMENT_CALL_FROM_U_OR_VU",
  "INSTRUCTION_PAGE_FAULT",
  "LOAD_PAGE_FAULT",
  "STORE_AMO_PAGE_FAULT",
);

/**
 * The exceptions a Linux KVM vCPU delegates to VS since illegal instruction
 * joined them: `KVM_HEDELEG_DEFAULT` in `arch/riscv/kvm/vcpu_config.c`
 * (0xB10D), the same set as ArceOS's.
 */
const KVM_HEDELEG: bigint = KVM_6_12_HEDELEG | exceptionMask("ILLEGAL_INSTRUCTION");

/**
 * The reference's policy (ArceOS `riscv_vcpu` `setup_csrs`): hedeleg 0xB10D,
 * hideleg 0x444, hvip VS bits cleared, hcounteren all ones, sie SEIE|SSIE|STIE,
 * all per CPU; vCPUs as `riscv_vcpu`'s `RISCVVCpu` sets them up and binds them.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(ARCEOS_POLICY.hedeleg, 0xb10dn);
 * strictEqual(ARCEOS_POLICY.delegation, "per-cpu");
 * ```
 */
export const ARCEOS_POLICY: PerCpuPolicy = Object.freeze({
  name: "arceos",
  hedeleg: KVM_HEDELEG,
  hideleg: VS_INTERRUPTS,
  hcounteren: ALL_ONES,
  sie: Object.freeze([
    Interrupt.SUPERVISOR_EXTERNAL,
    Interrupt.SUPERVISOR_SOFTWARE,
    Interrupt.SUPERVISOR_TIMER,
  ]),
  guestPageTableLevels: 3,
  delegation: "per-cpu",
  vcpuHedeleg: 0n,
  vcpuHideleg: 0n,
  vcpu: "arceos",
});

/**
 * Linux KVM as of Linux 7.1 and later (7.2 modelled): delegation moved from
 * the per-CPU enable to each vCPU. `kvm_arch_enable_virtualization_cpu`
 * (`arch/riscv/kvm/main.c`) writes hedeleg 0, hideleg 0, hcounteren 0x2 (VS
 * reads only the time counter directly) and hvip 0, and sets no sie bits;
 * loading a vCPU (`kvm_riscv_vcpu_config_load` in
 * `arch/riscv/kvm/vcpu_config.c`, from `kvm_arch_vcpu_load`) writes its
 * configuration, `KVM_HEDELEG_DEFAULT` 0xB10D (illegal instruction now
 * delegated) and `KVM_HIDELEG_DEFAULT` 0x444. The move is commit 6ed523e2b612
 * ("RISC-V: KVM: Factor-out VCPU config into separate sources"), merged for
 * Linux 7.1; Linux ≤ 7.0 is {@linkcode KVM_6_12_POLICY}.
 *
 * @example Usage
 * ```ts
 * import { KVM_POLICY } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(KVM_POLICY.hedeleg, 0n); // per CPU
 * strictEqual(KVM_POLICY.vcpuHedeleg, 0xb10dn); // at each vCPU's bind
 * strictEqual(KVM_POLICY.hcounteren, 0x2n);
 * ```
 */
export const KVM_POLICY: PerCpuPolicy = Object.freeze({
  name: "kvm",
  hedeleg: 0n,
  hideleg: 0n,
  hcounteren: 0x2n,
  sie: Object.freeze([]),
  guestPageTableLevels: 3,
  delegation: "per-vcpu",
  vcpuHedeleg: KVM_HEDELEG,
  vcpuHideleg: VS_INTERRUPTS,
  vcpu: "kvm",
});

/**
 * Linux KVM as in Linux 6.12 (the LTS, Debian 13), and up to 7.0:
 * `kvm_arch_hardware_enable` (`arch/riscv/kvm/main.c`; renamed
 * `kvm_arch_enable_virtualization_cpu` in 6.13) writes hedeleg 0xB109 (no
 * illegal instruction), hideleg 0x444, hcounteren 0x2 and hvip 0 per CPU,
 * and sets no sie bits; a vCPU's bind leaves the delegation alone.
 * Measured on real Linux 6.12 KVM under QEMU 7.2 and 10.0: the same values
 * on every hart.
 *
 * @example Usage
 * ```ts
 * import { KVM_6_12_POLICY } from "./policy.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(KVM_6_12_POLICY.hedeleg, 0xb109n);
 * strictEqual(KVM_6_12_POLICY.delegation, "per-cpu");
 * ```
 */
export const KVM_6_12_POLICY: PerCpuPolicy = Object.freeze({
  name: "kvm-6.12",
  hedeleg: KVM_6_12_HEDELEG,
  hideleg: VS_INTERRUPTS,
  hcounteren: 0x2n,
  sie: Object.freeze([]),
  guestPageTableLevels: 3,
  delegation: "per-cpu",
  vcpuHedeleg: 0n,
  vcpuHideleg: 0n,
  vcpu: "kvm",
});

function causeList(
  values: unknown,
  kind: "exception" | "interrupt",
  key: string,
): number[] {
  if (!Array.isArray(values)) {
    throw new AxError("InvalidInput", `Invalid policy: "${key}" must be a list of ${kind}s`);
  }
  return values.map((value) => {
    const cause = typeof value === "number" || typeof value === "string"
      ? causeNumber(value, kind)
      : undefined;
    if (cause === undefined || !Number.isInteger(cause) || cause < 0 || cause > 63) {
      throw new AxError(
        "InvalidInput",
        `Invalid policy: "${key}" has ${JSON.stringify(value)}, which is not an ${kind} ` +
          `name or a cause number from 0 to 63`,
      );
    }
    return cause;
  });
}

function maskOf(causes: readonly number[]): bigint {
  return causes.reduce((mask, cause) => mask | (1n << BigInt(cause)), 0n);
}

/**
 * Resolves a policy name or a custom policy.
 *
 * @example Usage
 * ```ts
 * import { resolvePolicy } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const policy = resolvePolicy({
 *   hedeleg: ["BREAKPOINT", 8], hideleg: [2, 6, 10], hcounteren: "0x7", sie: ["SUPERVISOR_EXTERNAL"],
 * });
 * strictEqual(policy.hedeleg, 0x108n);
 * strictEqual(policy.hcounteren, 0x7n);
 * ```
 *
 * @param spec `"arceos"`, `"kvm"`, a custom policy, or an already resolved one.
 * @returns The policy.
 * @throws {AxError} Kind `"InvalidInput"` for an unknown name or a malformed custom policy.
 */
export function resolvePolicy(spec: PolicySpec = "arceos"): PerCpuPolicy {
  if (spec === "arceos") return ARCEOS_POLICY;
  if (spec === "kvm") return KVM_POLICY;
  if (spec === "kvm-6.12") return KVM_6_12_POLICY;
  if (typeof spec !== "object" || spec === null) {
    throw new AxError(
      "InvalidInput",
      `Invalid policy ${
        JSON.stringify(spec)
      }: expected "arceos", "kvm", "kvm-6.12" or a custom policy`,
    );
  }
  if ("name" in spec && typeof spec.hedeleg === "bigint") return spec as PerCpuPolicy;
  const custom = spec as CustomPolicySpec;
  let hcounteren: bigint;
  try {
    hcounteren = typeof custom.hcounteren === "bigint"
      ? BigInt.asUintN(64, custom.hcounteren)
      : typeof custom.hcounteren === "number"
      ? BigInt(custom.hcounteren)
      : parseHex(String(custom.hcounteren));
  } catch (error) {
    throw new AxError(
      "InvalidInput",
      `Invalid policy: "hcounteren" must be a "0x…" value, got ${
        JSON.stringify(String(custom.hcounteren))
      }`,
      { cause: error },
    );
  }
  const levels = custom.guestPageTableLevels ?? 3;
  if (![3, 4, 5].includes(levels)) {
    throw new AxError(
      "InvalidInput",
      `Invalid policy: "guestPageTableLevels" must be 3, 4 or 5, got ${levels}`,
    );
  }
  const delegation = custom.delegation ?? "per-cpu";
  if (delegation !== "per-cpu" && delegation !== "per-vcpu") {
    throw new AxError(
      "InvalidInput",
      `Invalid policy: "delegation" must be "per-cpu" or "per-vcpu", got ${
        JSON.stringify(delegation)
      }`,
    );
  }
  const hedeleg = maskOf(causeList(custom.hedeleg, "exception", "hedeleg"));
  const hideleg = maskOf(causeList(custom.hideleg, "interrupt", "hideleg"));
  const perVcpu = delegation === "per-vcpu";
  return Object.freeze({
    name: "custom",
    hedeleg: perVcpu ? 0n : hedeleg,
    hideleg: perVcpu ? 0n : hideleg,
    hcounteren,
    sie: Object.freeze(causeList(custom.sie, "interrupt", "sie")),
    guestPageTableLevels: levels,
    delegation,
    vcpuHedeleg: perVcpu ? hedeleg : 0n,
    vcpuHideleg: perVcpu ? hideleg : 0n,
    vcpu: perVcpu ? "kvm" : "arceos",
  });
}

/**
 * The set-up operations of a policy, in the reference's order: write hedeleg,
 * write hideleg, clear hvip VSSIP, VSTIP, VSEIP one at a time, write
 * hcounteren, then set each sie bit one at a time.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { setupOperations } from "./policy.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(setupOperations(ARCEOS_POLICY).length, 9);
 * ```
 *
 * @param policy The policy.
 * @returns The operations.
 */
export function setupOperations(policy: PerCpuPolicy): CsrOp[] {
  return [
    { op: "write", csr: CSR.hedeleg, value: policy.hedeleg },
    { op: "write", csr: CSR.hideleg, value: policy.hideleg },
    ...HVIP_CLEARS.map((name): CsrOp => ({
      op: "clear",
      csr: CSR.hvip,
      value: interruptMask(name),
    })),
    { op: "write", csr: CSR.hcounteren, value: policy.hcounteren },
    ...policy.sie.map((cause): CsrOp => ({ op: "set", csr: CSR.sie, value: 1n << BigInt(cause) })),
  ];
}

/**
 * A one-line description of a policy's values.
 *
 * @example Usage
 * ```ts
 * import { KVM_POLICY } from "@rvhv/percpu";
 * import { describePolicy } from "./policy.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(
 *   describePolicy(KVM_POLICY),
 *   "kvm: hedeleg 0x0, hideleg 0x0, hcounteren 0x2, sie 0x0; per vCPU: hedeleg 0xb10d, hideleg 0x444",
 * );
 * ```
 *
 * @param policy The policy.
 * @returns The description.
 */
export function describePolicy(policy: PerCpuPolicy): string {
  const vcpu = policy.delegation === "per-vcpu"
    ? `; per vCPU: hedeleg ${hex(policy.vcpuHedeleg)}, hideleg ${hex(policy.vcpuHideleg)}`
    : "";
  return `${policy.name}: hedeleg ${hex(policy.hedeleg)}, hideleg ${hex(policy.hideleg)}, ` +
    `hcounteren ${hex(policy.hcounteren)}, sie ${hex(maskOf(policy.sie))}${vcpu}`;
}

/**
 * The CSRs the set-up owns, in read-back order: the names the report, the
 * verification and every view of a set-up use.
 *
 * @example Usage
 * ```ts
 * import { SETUP_CSR_NAMES } from "./policy.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(SETUP_CSR_NAMES, ["hedeleg", "hideleg", "hvip", "hcounteren", "sie"]);
 * ```
 */
export const SETUP_CSR_NAMES: readonly SetupCsrName[] = Object.freeze([
  "hedeleg",
  "hideleg",
  "hvip",
  "hcounteren",
  "sie",
]);

/**
 * The name of a CSR the set-up owns.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { setupTable } from "./policy.ts";
 * import { type SetupCsrName } from "./policy.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const name: SetupCsrName = "hcounteren";
 * strictEqual(setupTable(ARCEOS_POLICY).find((row) => row.name === name)!.mustStick, false);
 * ```
 */
export type SetupCsrName = "hedeleg" | "hideleg" | "hvip" | "hcounteren" | "sie";

/**
 * What a policy's set-up asks of one CSR: the one table that the set-up's
 * stick check, its report, `verify`, the HTTP view and the backend
 * comparisons all read.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY } from "@rvhv/percpu";
 * import { setupTable, type SetupCsr } from "./policy.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hvip: SetupCsr = setupTable(ARCEOS_POLICY).find((row) => row.name === "hvip")!;
 * strictEqual(hvip.asked, 0n); // the VS bits cleared...
 * strictEqual(hvip.mask, 0x444n); // ...and only those
 * strictEqual(hvip.mustStick, false);
 * ```
 */
export interface SetupCsr {
  /** The CSR's name. */
  readonly name: SetupCsrName;
  /** Its number. */
  readonly csr: CsrNum;
  /** The value asked within `mask`; `undefined` when the policy asks nothing of it. */
  readonly asked: bigint | undefined;
  /** The bits the policy controls (all ones for a full write). */
  readonly mask: bigint;
  /**
   * Whether the set-up fails when the hart does not keep a bit (the
   * delegation); otherwise a refused bit is a fact of the hart, reported.
   */
  readonly mustStick: boolean;
}

const TABLES: WeakMap<PerCpuPolicy, readonly SetupCsr[]> = new WeakMap();
const LOADED_TABLES: WeakMap<PerCpuPolicy, readonly SetupCsr[]> = new WeakMap();

/**
 * What a policy's set-up asks of each CSR it owns, in
 * {@linkcode SETUP_CSR_NAMES} order: hedeleg and hideleg written whole and
 * required to stick, hvip's VS bits cleared, hcounteren written, sie's
 * policy bits set (or nothing asked when the policy sets none). With
 * `delegation: "vcpu"`, hedeleg and hideleg are what a vCPU's bind loads
 * under a per-vCPU policy (KVM): what the hart holds once a vCPU was bound.
 *
 * @example Usage
 * ```ts
 * import { KVM_POLICY } from "@rvhv/percpu";
 * import { setupTable } from "./policy.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(
 *   setupTable(KVM_POLICY).map((row) => [row.name, row.asked, row.mustStick]),
 *   [
 *     ["hedeleg", 0n, true], // delegation is per vCPU
 *     ["hideleg", 0n, true],
 *     ["hvip", 0n, false],
 *     ["hcounteren", 0x2n, false],
 *     ["sie", undefined, false], // KVM sets no sie bits
 *   ],
 * );
 * deepStrictEqual(
 *   setupTable(KVM_POLICY, "vcpu").slice(0, 2).map((row) => row.asked),
 *   [0xb10dn, 0x444n], // after a vCPU's bind
 * );
 * ```
 *
 * @param policy The policy.
 * @param delegation Whose delegation hedeleg and hideleg hold: the per-CPU
 *   set-up's (default) or, under a per-vCPU policy, a bound vCPU's.
 * @returns One row per set-up CSR.
 */
export function setupTable(
  policy: PerCpuPolicy,
  delegation: "per-cpu" | "vcpu" = "per-cpu",
): readonly SetupCsr[] {
  const loaded = delegation === "vcpu" && policy.delegation === "per-vcpu";
  const cache = loaded ? LOADED_TABLES : TABLES;
  const cached = cache.get(policy);
  if (cached !== undefined) return cached;
  const sie = maskOf(policy.sie);
  const row = (
    name: SetupCsrName,
    asked: bigint | undefined,
    mask: bigint,
    mustStick: boolean,
  ): SetupCsr => Object.freeze({ name, csr: CSR[name], asked, mask, mustStick });
  const table = Object.freeze([
    row("hedeleg", loaded ? policy.vcpuHedeleg : policy.hedeleg, ALL_ONES, true),
    row("hideleg", loaded ? policy.vcpuHideleg : policy.hideleg, ALL_ONES, true),
    row("hvip", 0n, VS_INTERRUPTS, false),
    row("hcounteren", policy.hcounteren, ALL_ONES, false),
    sie === 0n ? row("sie", undefined, 0n, false) : row("sie", sie, sie, false),
  ]);
  cache.set(policy, table);
  return table;
}

/**
 * The CSRs whose values before the set-up are kept, in the order they are
 * read, and restored by disable.
 */
export const PRIOR_CSRS: readonly PriorCsr[] = Object.freeze([
  "hedeleg",
  "hideleg",
  "hvip",
  "hcounteren",
  "sie",
  "vsie",
]);

/** KVM's `kvm_arch_hardware_disable` order, then the CSRs KVM does not touch. */
export const RESTORE_ORDER: readonly PriorCsr[] = Object.freeze([
  "vsie",
  "hvip",
  "hedeleg",
  "hideleg",
  "hcounteren",
  "sie",
]);

/**
 * The CSRs whose values before the set-up are kept, and restored by disable.
 *
 * @example Usage
 * ```ts
 * import { RISCVPerCpu } from "@rvhv/percpu";
 * import { type PriorCsr } from "./policy.ts";
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
export type PriorCsr = SetupCsrName | "vsie";

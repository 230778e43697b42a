import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import {
  ARCEOS_POLICY,
  describePolicy,
  KVM_6_12_POLICY,
  KVM_POLICY,
  resolvePolicy,
  setupOperations,
} from "./policy.ts";

Deno.test("the arceos, kvm and kvm-6.12 policies carry the reference's and KVM's values", () => {
  const values = (p: typeof ARCEOS_POLICY) => [
    p.hedeleg,
    p.hideleg,
    p.hcounteren,
    p.sie,
    p.delegation,
    p.vcpuHedeleg,
    p.vcpuHideleg,
    p.vcpu,
  ];
  deepStrictEqual(values(ARCEOS_POLICY), [
    0xb10dn,
    0x444n,
    (1n << 64n) - 1n,
    [9, 1, 5],
    "per-cpu",
    0n,
    0n,
    "arceos",
  ]);
  // Linux ≥ 7.1: nothing delegated per CPU; the vCPU's KVM_HEDELEG_DEFAULT at load.
  deepStrictEqual(values(KVM_POLICY), [0n, 0n, 0x2n, [], "per-vcpu", 0xb10dn, 0x444n, "kvm"]);
  // Linux 6.12: kvm_arch_hardware_enable's values, per CPU.
  deepStrictEqual(values(KVM_6_12_POLICY), [0xb109n, 0x444n, 0x2n, [], "per-cpu", 0n, 0n, "kvm"]);
  strictEqual(resolvePolicy(), ARCEOS_POLICY);
  strictEqual(resolvePolicy("kvm"), KVM_POLICY);
  strictEqual(resolvePolicy("kvm-6.12"), KVM_6_12_POLICY);
});

Deno.test("a custom policy with per-vCPU delegation moves hedeleg/hideleg to the bind", () => {
  const policy = resolvePolicy({
    hedeleg: [3],
    hideleg: [6],
    hcounteren: 0,
    sie: [],
    delegation: "per-vcpu",
  });
  deepStrictEqual(
    [policy.hedeleg, policy.hideleg, policy.vcpuHedeleg, policy.vcpuHideleg, policy.vcpu],
    [0n, 0n, 0x8n, 0x40n, "kvm"],
  );
});

Deno.test("setupOperations() follows the reference's order", () => {
  deepStrictEqual(setupOperations(ARCEOS_POLICY), [
    { op: "write", csr: CSR.hedeleg, value: 0xb10dn },
    { op: "write", csr: CSR.hideleg, value: 0x444n },
    { op: "clear", csr: CSR.hvip, value: 0x4n },
    { op: "clear", csr: CSR.hvip, value: 0x40n },
    { op: "clear", csr: CSR.hvip, value: 0x400n },
    { op: "write", csr: CSR.hcounteren, value: (1n << 64n) - 1n },
    { op: "set", csr: CSR.sie, value: 0x200n },
    { op: "set", csr: CSR.sie, value: 0x2n },
    { op: "set", csr: CSR.sie, value: 0x20n },
  ]);
  strictEqual(setupOperations(KVM_POLICY).length, 6);
});

Deno.test("resolvePolicy() takes names and numbers in a custom policy", () => {
  const policy = resolvePolicy({
    hedeleg: ["ILLEGAL_INSTRUCTION", "inst_accesss_fault", 8],
    hideleg: ["VIRTUAL_SUPERVISOR_TIMER"],
    hcounteren: "0x3",
    sie: [9],
  });
  deepStrictEqual([policy.hedeleg, policy.hideleg, policy.hcounteren, policy.sie], [
    0x106n,
    0x40n,
    3n,
    [9],
  ]);
  strictEqual(
    describePolicy(policy),
    "custom: hedeleg 0x106, hideleg 0x40, hcounteren 0x3, sie 0x200",
  );
});

Deno.test("resolvePolicy() refuses malformed policies", () => {
  const invalid = (e: unknown) => e instanceof AxError && e.kind === "InvalidInput";
  throws(() => resolvePolicy("linux" as "kvm"), invalid);
  throws(
    () => resolvePolicy({ hedeleg: ["NOPE"], hideleg: [], hcounteren: "0", sie: [] }),
    invalid,
  );
  throws(() => resolvePolicy({ hedeleg: [64], hideleg: [], hcounteren: "0", sie: [] }), invalid);
  throws(() => resolvePolicy({ hedeleg: [], hideleg: [], hcounteren: "zz", sie: [] }), invalid);
  throws(
    () =>
      resolvePolicy({
        hedeleg: [],
        hideleg: [],
        hcounteren: "0",
        sie: [],
        guestPageTableLevels: 2,
      }),
    invalid,
  );
});

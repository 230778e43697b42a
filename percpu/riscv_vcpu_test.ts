import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../hal/errors.ts";
import { SpyHal } from "../tests/_helpers/spy_hal.ts";
import type { PolicySpec } from "./policy.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { PROFILE_NAMES } from "../plugins/emulator/options.ts";
import { recordHal } from "../trace/recorder.ts";
import { withTempDir } from "../tests/_helpers/traces.ts";
import { PerCpuSet } from "./percpu_set.ts";
import { RISCVPerCpu } from "./riscv_percpu.ts";
import { RISCVVCpu } from "./riscv_vcpu.ts";

const kind = (k: string) => (e: unknown) => e instanceof AxError && e.kind === k;

async function delegation(hal: AxVCpuHal, hart: number): Promise<[bigint, bigint]> {
  return [await hal.csr.read(hart, CSR.hedeleg), await hal.csr.read(hart, CSR.hideleg)];
}

Deno.test("RISCVVCpu.create() is gated on an enabled hart and touches no CSR otherwise", async () => {
  await withTempDir(async (dir) => {
    const hal = await recordHal(await createEmulatorHal(), { path: `${dir}/gate.jsonl` });
    const percpu = await RISCVPerCpu.create(0, hal);
    const before = hal.recording.events;
    await rejects(RISCVVCpu.create(percpu), kind("BadState"), "initialized, not enabled");
    await percpu.hardwareEnable();
    await percpu.hardwareDisable();
    const afterDisable = hal.recording.events;
    await rejects(RISCVVCpu.create(percpu), kind("BadState"), "disabled");
    strictEqual(hal.recording.events, afterDisable, "no CSR access for a refused create");
    strictEqual(afterDisable > before, true);
    await hal.close();
  });
});

for (const profile of PROFILE_NAMES) {
  Deno.test(`kvm (${profile}): delegation 0/0 per CPU, 0xb10d/0x444 at bind on that hart only, kept by unbind`, async () => {
    const hal = await createEmulatorHal({ harts: 3, profile });
    const set = await PerCpuSet.init(hal, { policy: "kvm" });
    await set.enableAll();
    for (const hart of hal.harts) deepStrictEqual(await delegation(hal, hart), [0n, 0n]);
    const vcpu = await RISCVVCpu.create(set.get(1), { vmId: 5 });
    strictEqual(vcpu.state, "created");
    await vcpu.setup();
    strictEqual(vcpu.state, "free");
    await vcpu.bind();
    strictEqual(vcpu.state, "bound");
    deepStrictEqual(await delegation(hal, 1), [0xb10dn, 0x444n]);
    deepStrictEqual(await delegation(hal, 0), [0n, 0n]);
    deepStrictEqual(await delegation(hal, 2), [0n, 0n]);
    const hgatp = await hal.csr.read(1, CSR.hgatp);
    strictEqual(hgatp & ((1n << 44n) - 1n), vcpu.gstageRoot >> 12n, "root PPN");
    strictEqual((hgatp >> 60n) >= 8n, true, "a G-stage mode");
    await rejects(set.get(1).hardwareDisable(), kind("BadState"), "a vCPU is bound");
    await vcpu.unbind();
    deepStrictEqual(await delegation(hal, 1), [0xb10dn, 0x444n], "vcpu_put writes nothing");
    strictEqual(await hal.csr.read(1, CSR.hgatp), hgatp);
    await set.disableAll();
    for (const hart of hal.harts) deepStrictEqual(await delegation(hal, hart), [0n, 0n]);
    await hal.close();
  });

  Deno.test(`kvm-6.12 (${profile}): 0xb109/0x444 per CPU, unchanged by bind and unbind`, async () => {
    const hal = await createEmulatorHal({ harts: 2, profile });
    const set = await PerCpuSet.init(hal, { policy: "kvm-6.12" });
    await set.enableAll();
    const vcpu = await RISCVVCpu.create(set.get(0));
    await vcpu.setup();
    deepStrictEqual(await delegation(hal, 0), [0xb109n, 0x444n]);
    await vcpu.bind();
    deepStrictEqual(await delegation(hal, 0), [0xb109n, 0x444n]);
    await vcpu.unbind();
    deepStrictEqual(await delegation(hal, 0), [0xb109n, 0x444n]);
    await set.disableAll();
    await hal.close();
  });

  Deno.test(`arceos (${profile}): setup sets hstatus SPV|SPVP, bind writes hgatp = Sv39x4 | root PPN`, async () => {
    const hal = await createEmulatorHal({ profile });
    const set = await PerCpuSet.init(hal);
    await set.enableAll();
    const vcpu = await RISCVVCpu.create(set.get(0), { gstageRoot: 0x8020_0000n });
    await vcpu.setup();
    const hstatus = await hal.csr.read(0, CSR.hstatus);
    strictEqual(hstatus & 0x180n, 0x180n, "SPV and SPVP");
    await vcpu.bind();
    strictEqual(await hal.csr.read(0, CSR.hgatp), (8n << 60n) | (0x8020_0000n >> 12n));
    deepStrictEqual(
      vcpu.csrReport().map((e) => [e.name, e.refused]),
      [["hstatus", 0n], ["hgatp", 0n]],
    );
    await vcpu.unbind();
    strictEqual(await hal.csr.read(0, CSR.hgatp), 0n, "riscv_vcpu's unbind clears hgatp");
    await set.disableAll();
    await hal.close();
  });
}

Deno.test("RISCVVCpu: wrong transitions are BadState, a second bind on the hart ResourceBusy", async () => {
  const hal = await createEmulatorHal();
  const set = await PerCpuSet.init(hal, { policy: "kvm" });
  await set.enableAll();
  const a = await RISCVVCpu.create(set.get(0), { vmId: 1 });
  const b = await RISCVVCpu.create(set.get(0), { vmId: 2 });
  await rejects(a.bind(), kind("BadState"), "not set up");
  await rejects(a.unbind(), kind("BadState"));
  await a.setup();
  await rejects(a.setup(), kind("BadState"));
  await b.setup();
  await a.bind();
  await rejects(b.bind(), kind("ResourceBusy"));
  strictEqual(b.state, "free", "nothing changed");
  await a.unbind();
  await b.bind();
  strictEqual(set.get(0).vcpu, b);
  await b.unbind();
  strictEqual(set.get(0).vcpu, undefined);
  await set.disableAll();
  await hal.close();
});

Deno.test("a vCPU step and a per-CPU transition on one hart never interleave", async (t) => {
  for (const policy of ["kvm", "arceos"] as const) {
    await t.step(
      `${policy}: a bind racing a disable: the first started wins, the other is BadState`,
      async () => {
        const hal = await createEmulatorHal({ harts: 2 });
        const set = await PerCpuSet.init(hal, { policy });
        await set.enableAll();
        const percpu = set.get(1);
        const vcpu = await RISCVVCpu.create(percpu, { vmId: 1 });
        await vcpu.setup();
        const [bind, disable] = await Promise.allSettled([vcpu.bind(), percpu.hardwareDisable()]);
        strictEqual(bind.status, "fulfilled");
        strictEqual(disable.status, "rejected");
        strictEqual(kind("BadState")((disable as PromiseRejectedResult).reason), true);
        strictEqual(percpu.state, "enabled", "the hart stays enabled under its bound vCPU");
        strictEqual(percpu.vcpu, vcpu);
        const wanted = policy === "kvm" ? 0xb10dn : percpu.policy.hedeleg;
        strictEqual(await hal.csr.read(1, CSR.hedeleg), wanted);

        // The other order: the disable holds the hart, the bind is refused and writes nothing.
        await vcpu.unbind();
        const hgatp = await hal.csr.read(1, CSR.hgatp);
        const [disabled, refused] = await Promise.allSettled([
          percpu.hardwareDisable(),
          vcpu.bind(),
        ]);
        strictEqual(disabled.status, "fulfilled");
        strictEqual(kind("BadState")((refused as PromiseRejectedResult).reason), true);
        strictEqual(vcpu.state, "free");
        strictEqual(percpu.vcpu, undefined);
        deepStrictEqual(await delegation(hal, 1), [0n, 0n], "the priors, as the disable left them");
        strictEqual(await hal.csr.read(1, CSR.hgatp), hgatp, "the refused bind wrote no hgatp");
        await rejects(vcpu.bind(), kind("BadState"), "the gate holds at bind, not only at create");
        await hal.close();
      },
    );
  }

  await t.step("two binds on one hart: one is bound, the other refused", async () => {
    const hal = await createEmulatorHal();
    const set = await PerCpuSet.init(hal, { policy: "kvm" });
    await set.enableAll();
    const a = await RISCVVCpu.create(set.get(0), { vmId: 1 });
    const b = await RISCVVCpu.create(set.get(0), { vmId: 2 });
    await a.setup();
    await b.setup();
    const results = await Promise.allSettled([a.bind(), b.bind()]);
    deepStrictEqual(results.map((r) => r.status), ["fulfilled", "rejected"]);
    deepStrictEqual([a.state, b.state], ["bound", "free"]);
    strictEqual(set.get(0).vcpu, a);
    await a.unbind();
    await set.disableAll();
    await hal.close();
  });
});

Deno.test("a VMID wider than the hart keeps is reported, not refused", async () => {
  const hal = await createEmulatorHal({ spec: { vmidlen: 4 } });
  const set = await PerCpuSet.init(hal, { policy: "kvm" });
  await set.enableAll();
  const vcpu = await RISCVVCpu.create(set.get(0), { vmId: 0x35 });
  await vcpu.setup();
  await vcpu.bind();
  const hgatp = vcpu.csrReport().find((e) => e.name === "hgatp")!;
  strictEqual(hgatp.refused, 0x30n << 44n, "VMID bits 4 and 5 are not implemented");
  await vcpu.unbind();
  await set.disableAll();
  await hal.close();
});

Deno.test("a per-vCPU delegation the hart does not keep fails the bind and is put back", async () => {
  const hal = await createEmulatorHal({ profile: "qemu-7.2" });
  // hedeleg cannot delegate an ecall from VS (bit 10 is read-only zero).
  const policy = { hedeleg: [3, 10], hideleg: [], hcounteren: 0, sie: [], delegation: "per-vcpu" };
  const set = await PerCpuSet.init(hal, { policy: policy as PolicySpec });
  await set.enableAll();
  const vcpu = await RISCVVCpu.create(set.get(0));
  await vcpu.setup();
  await rejects(vcpu.bind(), (e) => {
    strictEqual((e as AxError).kind, "Unsupported");
    strictEqual(
      (e as Error).message,
      "Cannot bind vCPU 0 of VM 1 on hart 0: hedeleg did not keep ENVIRONMENT_CALL_FROM_VS: " +
        "asked 0x408, kept 0x8; the hart's delegation was put back",
    );
    return true;
  });
  strictEqual(vcpu.state, "free");
  strictEqual(set.get(0).vcpu, undefined);
  deepStrictEqual(await delegation(hal, 0), [0n, 0n], "the per-CPU delegation again");
  strictEqual(await hal.csr.read(0, CSR.hgatp), 0n);
  await set.disableAll();
  await hal.close();
});

Deno.test("a bind whose batch traps undoes what it wrote", async () => {
  const inner = await createEmulatorHal({ profile: "qemu-10.0" });
  let armed = false;
  const hal = new SpyHal(inner, (_hart, op) => armed && op.csr === CSR.vsatp ? 2 : undefined);
  const set = await PerCpuSet.init(hal, { policy: "kvm" });
  await set.enableAll();
  const vcpu = await RISCVVCpu.create(set.get(0));
  await vcpu.setup();
  armed = true;
  await rejects(vcpu.bind(), (e) => e instanceof CsrTrap && e.csr === CSR.vsatp);
  armed = false;
  strictEqual(vcpu.state, "free");
  deepStrictEqual(await delegation(hal, 0), [0n, 0n]);
  strictEqual(await hal.csr.read(0, CSR.hgatp), 0n);
  await vcpu.bind(); // the vCPU is still usable
  deepStrictEqual(await delegation(hal, 0), [0xb10dn, 0x444n]);
  await vcpu.unbind();
  await set.disableAll();
  await hal.close();
});

Deno.test("kvm: G-stage detection runs once per hart; a later vCPU's setup leaves a bound one's hgatp", async () => {
  const inner = await createEmulatorHal({ profile: "qemu-10.0" });
  const hal = new SpyHal(inner);
  const set = await PerCpuSet.init(hal, { policy: "kvm" });
  await set.enableAll();
  const a = await RISCVVCpu.create(set.get(0), { vmId: 1 });
  await a.setup();
  await a.bind();
  const hgatp = await hal.csr.read(0, CSR.hgatp);
  const b = await RISCVVCpu.create(set.get(0), { vmId: 2 });
  const before = hal.ops.length;
  await b.setup();
  deepStrictEqual(hal.ops.slice(before), [], "no probe: the hart's modes are known");
  strictEqual(await hal.csr.read(0, CSR.hgatp), hgatp, "the bound vCPU's hgatp is intact");
  await rejects(set.get(0).restorePriors(), kind("BadState"), "a vCPU is bound");
  await a.unbind();
  await b.bind();
  strictEqual((await hal.csr.read(0, CSR.hgatp)) >> 60n, hgatp >> 60n, "the same mode");
  await b.unbind();
  await set.disableAll();
  await hal.close();
});

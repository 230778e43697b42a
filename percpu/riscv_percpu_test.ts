import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../hal/errors.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { SpyHal } from "../tests/_helpers/spy_hal.ts";
import { ARCEOS_POLICY, KVM_6_12_POLICY, setupOperations } from "./policy.ts";
import { RISCVPerCpu } from "./riscv_percpu.ts";

const isKind = (kind: string) => (e: unknown) => e instanceof AxError && e.kind === kind;

async function readAll(
  hal: { csr: { read(h: number, c: number): Promise<bigint> } },
  hart: number,
) {
  const out: Record<string, bigint> = {};
  for (const name of ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "vsie"] as const) {
    out[name] = await hal.csr.read(hart, CSR[name]);
  }
  return out;
}

Deno.test("RISCVPerCpu.create() leaves the golden values on both profiles", async (t) => {
  const golden = {
    spec: { hcounteren: 0xffff_ffffn },
    "qemu-7.2": { hcounteren: 0xffff_ffff_ffff_ffffn },
  } as const;
  for (const profile of ["spec", "qemu-7.2"] as const) {
    await t.step(profile, async () => {
      const hal = await createEmulatorHal({ harts: 4, profile, firmware: "opensbi" });
      for (const hart of hal.harts) {
        const percpu = await RISCVPerCpu.create(hart, hal);
        strictEqual(percpu.state, "initialized");
        strictEqual(await hal.csr.read(hart, CSR.hedeleg), 0xb10dn);
        strictEqual(await hal.csr.read(hart, CSR.hideleg), 0x444n);
        strictEqual(await hal.csr.read(hart, CSR.hvip), 0n);
        strictEqual(await hal.csr.read(hart, CSR.hcounteren), golden[profile].hcounteren);
        const sie = await hal.csr.read(hart, CSR.sie);
        strictEqual(sie & 0x222n, 0x222n, `sie ${sie.toString(16)} should contain 0x222`);
      }
      await hal.close();
    });
  }
});

Deno.test("RISCVPerCpu.create() runs the reference's nine operations in order", async () => {
  const hal = new SpyHal(await createEmulatorHal({ harts: 1 }));
  await RISCVPerCpu.create(0, hal);
  const writes = hal.writes(0).map(({ op, csr, value }) => ({ op, csr, value }));
  deepStrictEqual(writes, setupOperations(ARCEOS_POLICY));
  deepStrictEqual(writes.map((w) => w.op), [
    "write",
    "write",
    "clear",
    "clear",
    "clear",
    "write",
    "set",
    "set",
    "set",
  ]);
  deepStrictEqual(writes.slice(6).map((w) => w.value), [0x200n, 0x2n, 0x20n]);
  // The probe is the first access of all.
  deepStrictEqual(hal.ops[0], { hart: 0, op: "read", csr: CSR.hgatp });
});

Deno.test("RISCVPerCpu.create() on a hart without H rejects Unsupported and writes nothing", async () => {
  const hal = new SpyHal(await createEmulatorHal({ harts: 2, isa: ["rv64imafdc", "rv64imafdch"] }));
  const error = await RISCVPerCpu.create(0, hal).then(() => undefined, (e) => e);
  ok(error instanceof AxError);
  strictEqual(error.kind, "Unsupported");
  strictEqual(error.hart, 0);
  match(error.message, /hart 0.*H extension is absent.*nothing was written/);
  deepStrictEqual(hal.writes(), []);
  await hal.close();
});

Deno.test("RISCVPerCpu lifecycle: every transition and every BadState", async (t) => {
  const hal = new SpyHal(await createEmulatorHal({ harts: 1 }));
  const priors = await readAll(hal, 0);
  const percpu = await RISCVPerCpu.create(0, hal);
  const afterSetup = await readAll(hal, 0);

  await t.step("initialized: disable is BadState and changes nothing", async () => {
    strictEqual(percpu.isEnabled(), false);
    const before = hal.writes().length;
    await rejects(percpu.hardwareDisable(), isKind("BadState"));
    strictEqual(percpu.state, "initialized");
    strictEqual(hal.writes().length, before);
  });
  await t.step("initialized → enabled checks support and writes nothing", async () => {
    const before = hal.ops.length;
    await percpu.hardwareEnable();
    strictEqual(percpu.state, "enabled");
    strictEqual(percpu.isEnabled(), true);
    // The probe answer was cached at creation: no access at all.
    strictEqual(hal.ops.length, before);
  });
  await t.step("enabled: enable is BadState", async () => {
    await rejects(percpu.hardwareEnable(), isKind("BadState"));
    strictEqual(percpu.state, "enabled");
    deepStrictEqual(await readAll(hal, 0), afterSetup);
  });
  await t.step("enabled → disabled restores the priors in KVM's order", async () => {
    const before = hal.ops.length;
    await percpu.hardwareDisable();
    strictEqual(percpu.state, "disabled");
    const restore = hal.ops.slice(before).filter((o) => o.op === "write").map((o) => o.csr);
    deepStrictEqual(restore, [
      CSR.vsie,
      CSR.hvip,
      CSR.hedeleg,
      CSR.hideleg,
      CSR.hcounteren,
      CSR.sie,
    ]);
    deepStrictEqual(await readAll(hal, 0), priors);
  });
  await t.step("disabled: disable is BadState", async () => {
    await rejects(percpu.hardwareDisable(), isKind("BadState"));
    strictEqual(percpu.state, "disabled");
  });
  await t.step("disabled → enabled runs the set-up again", async () => {
    const before = hal.writes().length;
    await percpu.hardwareEnable();
    strictEqual(percpu.state, "enabled");
    strictEqual(hal.writes().length - before, 9);
    deepStrictEqual(await readAll(hal, 0), afterSetup);
  });
  await t.step("a transition while another runs is BadState", async () => {
    const first = percpu.hardwareDisable();
    await rejects(percpu.hardwareEnable(), isKind("BadState"));
    await first;
    strictEqual(percpu.state, "disabled");
  });
  await t.step("restorePriors() from initialized leaves the hart disabled", async () => {
    const other = await RISCVPerCpu.create(0, hal);
    await other.restorePriors();
    strictEqual(other.state, "disabled");
    deepStrictEqual(await readAll(hal, 0), priors);
  });
  await hal.close();
});

Deno.test("RISCVPerCpu.hardwareDisable() restores non-zero priors", async () => {
  const hal = await createEmulatorHal({ harts: 1, profile: "qemu-7.2" });
  await hal.csr.write(0, CSR.hedeleg, 0x8n);
  await hal.csr.write(0, CSR.hideleg, 0x4n);
  await hal.csr.write(0, CSR.hvip, 0x4n);
  await hal.csr.write(0, CSR.hcounteren, 0x5n);
  await hal.csr.write(0, CSR.sie, 0x2000n);
  const priors = await readAll(hal, 0);
  deepStrictEqual(
    [priors.hedeleg, priors.hideleg, priors.hvip, priors.hcounteren],
    [0x8n, 0x4n, 0x4n, 0x5n],
  );
  const percpu = await RISCVPerCpu.create(0, hal);
  deepStrictEqual(percpu.priors, priors);
  await percpu.hardwareEnable();
  strictEqual(await hal.csr.read(0, CSR.hvip), 0n);
  await percpu.hardwareDisable();
  deepStrictEqual(await readAll(hal, 0), priors);
  await hal.close();
});

Deno.test("RISCVPerCpu.create() fails when hedeleg does not keep the policy's bits", async () => {
  const hal = await createEmulatorHal({ harts: 1 });
  // Cause 10 (ecall from VS) is read-only zero in hedeleg.
  const error = await RISCVPerCpu.create(0, hal, {
    policy: { hedeleg: [2, 10], hideleg: [2], hcounteren: "0x1", sie: [] },
  }).then(() => undefined, (e) => e);
  ok(error instanceof AxError);
  strictEqual(error.kind, "Unsupported");
  match(error.message, /hedeleg \(0x602\) did not keep bit 10 \(ENVIRONMENT_CALL_FROM_VS\)/);
  match(error.message, /asked 0x404, kept 0x4; the prior values were restored/);
  strictEqual(await hal.csr.read(0, CSR.hedeleg), 0n);
  strictEqual(await hal.csr.read(0, CSR.hideleg), 0n);
  await hal.close();
});

Deno.test("RISCVPerCpu.create() restores the priors when a set-up access traps", async () => {
  const inner = await createEmulatorHal({ harts: 1 });
  const hal = new SpyHal(
    inner,
    (_hart, op) => op.csr === CSR.hcounteren && op.op === "write" ? 2 : undefined,
  );
  const error = await RISCVPerCpu.create(0, hal).then(() => undefined, (e) => e);
  ok(error instanceof CsrTrap);
  strictEqual(error.csr, CSR.hcounteren);
  strictEqual(await inner.csr.read(0, CSR.hedeleg), 0n);
  strictEqual(await inner.csr.read(0, CSR.hideleg), 0n);
  await hal.close();
});

Deno.test("RISCVPerCpu with the kvm-6.12 policy writes KVM's values and leaves sie alone", async () => {
  const hal = await createEmulatorHal({ harts: 1 });
  const sie = await hal.csr.read(0, CSR.sie);
  const percpu = await RISCVPerCpu.create(0, hal, { policy: "kvm-6.12" });
  strictEqual(percpu.policy, KVM_6_12_POLICY);
  strictEqual(await hal.csr.read(0, CSR.hedeleg), 0xb109n);
  strictEqual(await hal.csr.read(0, CSR.hcounteren), 0x2n);
  strictEqual(await hal.csr.read(0, CSR.sie), sie);
  const sieEntry = percpu.csrReport().find((e) => e.name === "sie")!;
  strictEqual(sieEntry.asked, undefined);
  strictEqual(sieEntry.refused, 0n);
  await hal.close();
});

Deno.test("RISCVPerCpu.csrReport() names what each hart refused", async (t) => {
  await t.step("spec: the upper half of hcounteren", async () => {
    const hal = await createEmulatorHal({ harts: 1, profile: "spec" });
    const report = (await RISCVPerCpu.create(0, hal)).csrReport();
    deepStrictEqual(report.map((e) => [e.name, e.refused]), [
      ["hedeleg", 0n],
      ["hideleg", 0n],
      ["hvip", 0n],
      ["hcounteren", 0xffff_ffff_0000_0000n],
      ["sie", 0n],
    ]);
    await hal.close();
  });
  await t.step("no firmware: sie bits not delegated by mideleg", async () => {
    const hal = await createEmulatorHal({ harts: 1, firmware: "none" });
    const sie = (await RISCVPerCpu.create(0, hal)).csrReport().find((e) => e.name === "sie")!;
    strictEqual(sie.kept, 0n);
    strictEqual(sie.refused, 0x222n);
    await hal.close();
  });
});

Deno.test("RISCVPerCpu.maxGuestPageTableLevels() is 3 (Sv39x4) unless the policy says otherwise", async () => {
  const hal = await createEmulatorHal({ harts: 1 });
  strictEqual((await RISCVPerCpu.create(0, hal)).maxGuestPageTableLevels(), 3);
  const custom = await RISCVPerCpu.create(0, hal, {
    policy: { hedeleg: [], hideleg: [], hcounteren: 0, sie: [], guestPageTableLevels: 4 },
  });
  strictEqual(custom.maxGuestPageTableLevels(), 4);
  await hal.close();
});

Deno.test("RISCVPerCpu.create() rejects NotFound for a hart the backend lacks", async () => {
  const hal = await createEmulatorHal({ harts: 2 });
  await rejects(RISCVPerCpu.create(5, hal), isKind("NotFound"));
  await hal.close();
});

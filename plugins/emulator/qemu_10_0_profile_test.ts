/**
 * The qemu-10.0 profile against what QEMU 10.0.13 read back over the
 * gdbstub (the differences from 7.2 are docs/qemu-versions.md's tables). The bit-for-bit check against the binary itself
 * is tests/differential/qemu_test.ts.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { CSR, type CsrName } from "../../hal/csr_numbers.ts";
import { createEmulatorHal } from "./mod.ts";
import type { EmulatorHal } from "./emulator_hal.ts";
import { RISCVPerCpu } from "../../percpu/riscv_percpu.ts";
import {
  checkDependents,
  checkReadBacks,
  type DependentRow,
  ONES,
  type ReadBackRow,
} from "../../tests/_helpers/probe_tables.ts";

/** A fresh `-S` QEMU 10.0: 2 harts, no firmware. */
function freshQemu(isa = "rv64imafdch"): Promise<EmulatorHal> {
  return createEmulatorHal({ harts: 2, profile: "qemu-10.0", firmware: "none", isa });
}

/** [CSR, reset read, read after writing ~0, read after writing 0], one fresh QEMU per row. */
const READ_BACK_10_0: readonly ReadBackRow[] = [
  ["hedeleg", 0n, 0x4b1ffn, 0n],
  ["hideleg", 0n, 0xffffffffffff0444n, 0n],
  ["hie", 0n, 0x1444n, 0n],
  ["hvip", 0x80n, 0x4c4n, 0x80n],
  ["hip", 0n, 0x4n, 0n],
  ["hcounteren", 0n, 0x7ffffn, 0n],
  ["hgeie", 0n, 0n, 0n],
  ["henvcfg", 0n, 0x20000000000000f1n, 0n],
  ["htval", 0n, ONES, 0n],
  ["htinst", 0n, 0n, 0n],
  ["hgatp", 0n, 0n, 0n],
  ["hstatus", 0x200000000n, 0xfffcfffefeffffdfn, 0x200000000n],
  ["vsie", 0n, 0n, 0n],
  ["vsip", 0n, 0n, 0n],
  ["vstvec", 0n, 0n, 0n],
  ["vsscratch", 0n, ONES, 0n],
  ["vsatp", 0n, 0n, 0n],
  ["sie", 0n, 0n, 0n],
  ["sip", 0n, 0n, 0n],
  ["scounteren", 0n, 0x7ffffn, 0n],
  ["medeleg", 0n, 0xf4b7ffn, 0n],
  ["mideleg", 0x1444n, 0x3666n, 0x1444n],
  ["mie", 0n, 0xffffffffffff1eeen, 0n],
  ["mcounteren", 0n, 0x7ffffn, 0n],
  ["menvcfg", 0x2000000000000000n, 0xb0000000000000f1n, 0n],
  ["mtval2", 0n, ONES, 0n],
  ["mtinst", 0n, ONES, 0n],
  // Status and counter CSRs.
  ["mstatus", 0xa00000000n, 0x8000000a007e79aan, 0xa00000000n],
  ["sstatus", 0x200000000n, 0x80000002000c6122n, 0x200000000n],
  ["vsstatus", 0xa00000000n, 0xfffffffefeffffffn, 0x200000000n],
  ["mip", 0x80n, 0x26e6n, 0x80n],
  ["satp", 0n, 0n, 0n],
  ["stvec", 0n, 0n, 0n],
  ["mtvec", 0n, 0n, 0n],
  ["senvcfg", 0n, 0xf1n, 0n],
  ["mcountinhibit", 0n, 0x7fffdn, 0n],
];

Deno.test("qemu-10.0 profile: reset, all-ones and zero read-backs match QEMU 10.0", async (t) => {
  await checkReadBacks(t, READ_BACK_10_0, () => freshQemu());
});

/** Interrupt CSRs under delegation: each cell in a fresh QEMU, delegation written with ~0 first. */
const DEPENDENT_10_0: readonly DependentRow[] = [
  ["reset", [], "hvip", 0x80n, 0x4c4n, 0x80n],
  ["reset", [], "mie", 0n, 0xffffffffffff1eeen, 0n],
  ["mideleg=~0", ["mideleg"], "sie", 0n, 0x222n, 0n],
  ["mideleg=~0", ["mideleg"], "sip", 0n, 0x2n, 0n],
  ["mideleg=~0", ["mideleg"], "vsie", 0n, 0n, 0n],
  ["hideleg=~0", ["hideleg"], "vsie", 0n, 0xffffffffffff0222n, 0n],
  ["hideleg=~0", ["hideleg"], "vsip", 0n, 0x2n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "sie", 0n, 0x222n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "sip", 0n, 0x2n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "vsie", 0n, 0xffffffffffff0222n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "hip", 0n, 0x4n, 0n],
];

Deno.test("qemu-10.0 profile: interrupt CSRs depend on mideleg/hideleg as on QEMU 10.0", async (t) => {
  await checkDependents(t, DEPENDENT_10_0, () => freshQemu());
});

Deno.test("qemu-10.0 profile: what the notes only sketched, as probed on QEMU 10.0.13", async (t) => {
  await t.step("hvip reads all of mip: MTIP at reset, and an SSIP set through sip", async () => {
    const hal = await freshQemu();
    strictEqual(await hal.csr.read(0, CSR.hvip), 0x80n);
    await hal.csr.write(0, CSR.mideleg, 0x222n);
    await hal.csr.write(0, CSR.sip, 0x2n);
    strictEqual(await hal.csr.read(0, CSR.hvip), 0x82n);
    strictEqual(await hal.csr.read(0, CSR.hip), 0n, "hip shows only the VS bits and SGEIP");
    await hal.close();
  });
  await t.step("hvip bits 13-63 are dropped (they never reach mip)", async () => {
    const hal = await freshQemu();
    for (const value of [1n << 13n, 0xffff0000n, ~0x1fffn & ONES]) {
      await hal.csr.write(0, CSR.hvip, value);
      strictEqual(await hal.csr.read(0, CSR.hvip), 0x80n);
    }
    await hal.close();
  });
  await t.step("under OpenSBI (mtimecmp all ones) hvip reads 0", async () => {
    const hal = await createEmulatorHal({ harts: 1, profile: "qemu-10.0", firmware: "opensbi" });
    strictEqual(await hal.csr.read(0, CSR.hvip), 0n);
    strictEqual(await hal.csr.read(0, CSR.medeleg), 0xf4b509n);
    await hal.close();
  });
  await t.step("vsip shows VSTIP and VSEIP injected through hvip", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.hideleg, ONES);
    await hal.csr.write(0, CSR.hvip, 0x40n);
    strictEqual(await hal.csr.read(0, CSR.vsip), 0x20n);
    await hal.csr.write(0, CSR.hvip, 0x400n);
    strictEqual(await hal.csr.read(0, CSR.vsip), 0x200n);
    await hal.close();
  });
  await t.step("sip hides STIP from M-mode while menvcfg.STCE is set", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.stimecmp, 0n);
    await hal.csr.write(0, CSR.mideleg, 0x222n);
    strictEqual(await hal.csr.read(0, CSR.sip), 0x20n);
    await hal.csr.write(0, CSR.menvcfg, 1n << 63n);
    strictEqual(await hal.csr.read(0, CSR.sip), 0n);
    strictEqual(await hal.csr.read(0, CSR.mip) & 0x20n, 0x20n);
    await hal.close();
  });
  await t.step("henvcfg: gated by menvcfg, and cleared with it", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.henvcfg, ONES);
    strictEqual(await hal.csr.read(0, CSR.henvcfg), 0x20000000000000f1n, "ADUE from reset");
    await hal.csr.write(0, CSR.menvcfg, 0n);
    strictEqual(await hal.csr.read(0, CSR.henvcfg), 0xf1n);
    await hal.csr.write(0, CSR.menvcfg, ONES);
    strictEqual(await hal.csr.read(0, CSR.henvcfg), 0xf1n, "the cleared bits stay cleared");
    await hal.csr.write(0, CSR.henvcfg, ONES);
    strictEqual(await hal.csr.read(0, CSR.henvcfg), 0xa0000000000000f1n);
    await hal.csr.write(0, CSR.menvcfg, 1n << 63n);
    strictEqual(await hal.csr.read(0, CSR.henvcfg), 0x80000000000000f1n);
    await hal.close();
  });
  await t.step("hgatp and vsatp accept Bare, Sv39x4, Sv48x4 and Sv57x4 only", async () => {
    const hal = await freshQemu();
    for (const name of ["hgatp", "vsatp", "satp"] as const) {
      for (let mode = 0n; mode < 16n; mode++) {
        const value = (mode << 60n) | (ONES >> 4n);
        await hal.csr.write(0, CSR[name], value);
        const kept = [0n, 8n, 9n, 10n].includes(mode);
        strictEqual(await hal.csr.read(0, CSR[name]), kept ? value : 0n, `${name} mode ${mode}`);
        await hal.csr.write(0, CSR[name], 0n);
      }
    }
    await hal.close();
  });
  await t.step("vstvec accepts modes 0 and 1 and drops a write of mode 2 or 3", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.vstvec, ONES - 2n);
    strictEqual(await hal.csr.read(0, CSR.vstvec), ONES - 2n);
    for (const bad of [ONES - 1n, ONES, 0x13n]) {
      await hal.csr.write(0, CSR.vstvec, bad);
      strictEqual(await hal.csr.read(0, CSR.vstvec), ONES - 2n);
    }
    await hal.close();
  });
  await t.step("UXL/SXL: 0 keeps, 1 and 2 are written, 3 becomes 2", async () => {
    const hal = await freshQemu();
    const steps: [CsrName, bigint, bigint][] = [
      ["mstatus", 0x100000000n, 0x900000000n],
      ["mstatus", 0x300000000n, 0xa00000000n],
      ["mstatus", 0n, 0xa00000000n],
      ["mstatus", 0x400000000n, 0x600000000n],
      ["mstatus", 0xc00000000n, 0xa00000000n],
      ["vsstatus", 0x100000000n, 0x100000000n],
      ["vsstatus", 0x300000000n, 0x200000000n],
      ["vsstatus", 0xc00000000n, 0xe00000000n],
    ];
    for (const [name, value, expected] of steps) {
      await hal.csr.write(0, CSR[name], value);
      strictEqual(await hal.csr.read(0, CSR[name]), expected, `${name} <- ${value}`);
    }
    await hal.close();
  });
  await t.step("sstatus puts SD at bit 31 while SXL is 1 (mstatus keeps it at 63)", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.mstatus, (1n << 34n) | (3n << 13n));
    strictEqual(await hal.csr.read(0, CSR.sstatus), 0x280006000n);
    strictEqual(await hal.csr.read(0, CSR.mstatus), 0x8000000600006000n);
    await hal.csr.write(0, CSR.mstatus, (2n << 34n) | (3n << 13n));
    strictEqual(await hal.csr.read(0, CSR.sstatus), 0x8000000200006000n);
    await hal.close();
  });
  await t.step("mstatus: MPV and GVA read 0, MPP=2 keeps the old MPP, VS needs V", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.mstatus, (1n << 11n) | (1n << 39n) | (1n << 38n) | (3n << 9n));
    strictEqual(await hal.csr.read(0, CSR.mstatus), 0xa00000800n);
    await hal.csr.write(0, CSR.mstatus, 2n << 11n);
    strictEqual(await hal.csr.read(0, CSR.mstatus), 0xa00000800n);
    await hal.close();
  });
  await t.step(
    "htimedelta re-arms the VS timer; a future vstimecmp keeps an injected VSTIP",
    async () => {
      const hal = await freshQemu();
      await hal.csr.write(0, CSR.vstimecmp, 0x100n);
      strictEqual(await hal.csr.read(0, CSR.hip), 0n);
      await hal.csr.write(0, CSR.htimedelta, 0x100n);
      strictEqual(await hal.csr.read(0, CSR.hip), 0x40n, "vstimecmp <= time + htimedelta");
      await hal.csr.write(0, CSR.htimedelta, 0n);
      await hal.csr.write(0, CSR.hvip, 0x40n);
      await hal.csr.write(0, CSR.vstimecmp, ONES);
      strictEqual(await hal.csr.read(0, CSR.hip), 0x40n);
      await hal.close();
    },
  );
  await t.step("a hart without H: vstimecmp traps, mie drops the VS enables", async () => {
    const hal = await freshQemu("rv64imafdc");
    const [vstimecmp] = await hal.csr.batch(0, [{ op: "read", csr: CSR.vstimecmp }]);
    deepStrictEqual(vstimecmp, { ok: false, trapCause: 2 });
    await hal.csr.write(0, CSR.mie, ONES);
    strictEqual(await hal.csr.read(0, CSR.mie), 0xffffffffffff0aaan);
    await hal.csr.write(0, CSR.mideleg, ONES);
    strictEqual(await hal.csr.read(0, CSR.mideleg), 0x2666n);
    await hal.close();
  });
  await t.step("svpbmt: menvcfg resets with PBMTE, and PBMTE is writable", async () => {
    const hal = await freshQemu("rv64imafdch_svpbmt");
    strictEqual(await hal.csr.read(0, CSR.menvcfg), 0x6000000000000000n);
    await hal.csr.write(0, CSR.menvcfg, ONES);
    strictEqual(await hal.csr.read(0, CSR.menvcfg), 0xf0000000000000f1n);
    await hal.close();
  });
});

Deno.test("qemu-10.0 profile: the ArceOS set-up under OpenSBI 1.6 ends as natively (docs/native-access.md)", async () => {
  const hal = await createEmulatorHal({ harts: 4, profile: "qemu-10.0", firmware: "opensbi" });
  strictEqual(hal.info().firmware, "opensbi-1.6");
  for (const hart of hal.harts) {
    strictEqual(await hal.csr.read(hart, CSR.mideleg), 0x1666n);
    strictEqual(await hal.csr.read(hart, CSR.medeleg), 0xf4b509n);
    await RISCVPerCpu.create(hart, hal);
    const values = [];
    for (const name of ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "hstatus"] as const) {
      values.push(await hal.csr.read(hart, CSR[name]));
    }
    deepStrictEqual(values, [0xb10dn, 0x444n, 0n, 0x7ffffn, 0x222n, 0x200000000n]);
  }
  await hal.close();
});

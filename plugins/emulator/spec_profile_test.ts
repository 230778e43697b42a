/**
 * The spec profile against the privileged spec's bit attributes (1.12 with
 * H) and its documented WARL choices (docs/backends.md, "Emulator profiles").
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { CSR, type CsrName } from "../../hal/csr_numbers.ts";
import { causeMask } from "../../hal/trap_bits.ts";
import { createEmulatorHal, type EmulatorOptions } from "./mod.ts";

const ONES = (1n << 64n) - 1n;

async function writeRead(
  name: CsrName,
  value: bigint,
  options: EmulatorOptions = {},
): Promise<bigint> {
  const hal = await createEmulatorHal({ firmware: "none", ...options });
  await hal.csr.write(0, CSR[name], value);
  const result = await hal.csr.read(0, CSR[name]);
  await hal.close();
  return result;
}

Deno.test("spec profile: read-only-zero bits of the hypervisor CSRs (Priv 1.12)", async (t) => {
  await t.step("hedeleg: causes 9, 10, 11, 14, 16–23 and above are read-only zero", async () => {
    const kept = await writeRead("hedeleg", ONES);
    strictEqual(kept, 0xb1ffn);
    strictEqual(kept & causeMask([9, 10, 11, 20, 21, 22, 23]), 0n);
  });
  await t.step("hideleg: only VSSI, VSTI, VSEI (bits 2, 6, 10) are writable", async () => {
    strictEqual(await writeRead("hideleg", ONES), 0x444n);
  });
  await t.step("hvip: only bits 2, 6, 10 are writable", async () => {
    strictEqual(await writeRead("hvip", ONES), 0x444n);
  });
  await t.step("hip: only VSSIP is writable", async () => {
    strictEqual(await writeRead("hip", ONES), 0x4n);
  });
  await t.step("hie: SGEIE is read-only zero while GEILEN is 0", async () => {
    strictEqual(await writeRead("hie", ONES), 0x444n);
    strictEqual(await writeRead("hie", ONES, { spec: { geilen: 4 } }), 0x1444n);
  });
  await t.step("hcounteren is a 32-bit register", async () => {
    strictEqual(await writeRead("hcounteren", ONES), 0xffff_ffffn);
  });
  await t.step("hgeie holds bits GEILEN:1 only", async () => {
    strictEqual(await writeRead("hgeie", ONES), 0n);
    strictEqual(await writeRead("hgeie", ONES, { spec: { geilen: 3 } }), 0xen);
  });
  await t.step("hstatus: VSXL reads 2, VSBE and the WPRI bits read zero", async () => {
    strictEqual(await writeRead("hstatus", ONES), 0x2_0070_03c0n);
    strictEqual(await writeRead("hstatus", 0n), 0x2_0000_0000n);
  });
  await t.step("hstatus.VGEIN accepts 0..GEILEN and keeps its value otherwise", async () => {
    strictEqual(await writeRead("hstatus", 3n << 12n, { spec: { geilen: 4 } }), 0x2_0000_3000n);
    strictEqual(await writeRead("hstatus", 5n << 12n, { spec: { geilen: 4 } }), 0x2_0000_0000n);
  });
  await t.step("htinst is read-only zero; htval holds a Sv48x4 address >> 2", async () => {
    strictEqual(await writeRead("htinst", ONES), 0n);
    strictEqual(await writeRead("htval", ONES), (1n << 48n) - 1n);
    strictEqual(
      await writeRead("htval", ONES, { spec: { hgatpModes: ["sv39x4"] } }),
      (1n << 39n) - 1n,
    );
  });
  await t.step("henvcfg: only FIOM without Zicbo*, Svpbmt and Sstc", async () => {
    strictEqual(await writeRead("henvcfg", ONES), 0x1n);
  });
});

Deno.test("spec profile: hgatp and satp legalize their MODE", async (t) => {
  const vmidAndPpn = (0x3fffn << 44n) | ((1n << 44n) - 4n);
  await t.step("an unsupported MODE keeps the old MODE; PPN[1:0] read as zero", async () => {
    strictEqual(await writeRead("hgatp", ONES), vmidAndPpn);
  });
  await t.step("Sv39x4 and Sv48x4 are accepted", async () => {
    strictEqual(await writeRead("hgatp", (8n << 60n) | vmidAndPpn), (8n << 60n) | vmidAndPpn);
    strictEqual(await writeRead("hgatp", (9n << 60n) | 4n), (9n << 60n) | 4n);
    strictEqual(await writeRead("hgatp", (10n << 60n) | 4n), 4n);
  });
  await t.step("VMID bits above VMIDLEN read as zero", async () => {
    strictEqual(await writeRead("hgatp", 0x3fffn << 44n, { spec: { vmidlen: 7 } }), 0x7fn << 44n);
  });
  await t.step("satp and vsatp ignore a write with an unsupported MODE", async () => {
    strictEqual(await writeRead("satp", ONES), 0n);
    strictEqual(await writeRead("vsatp", ONES), 0n);
    strictEqual(await writeRead("satp", (8n << 60n) | 0x1234n), (8n << 60n) | 0x1234n);
  });
});

Deno.test("spec profile: machine and supervisor CSRs", async (t) => {
  await t.step("mideleg: VS bits are read-only one with H", async () => {
    strictEqual(await writeRead("mideleg", 0n), 0x444n);
    strictEqual(await writeRead("mideleg", ONES), 0x666n);
    strictEqual(await writeRead("mideleg", 0n, { spec: { geilen: 1 } }), 0x1444n);
    strictEqual(await writeRead("mideleg", ONES, { isa: "rv64imafdc" }), 0x222n);
  });
  await t.step("medeleg: ecall from M and causes 14, 16–19 are read-only zero", async () => {
    strictEqual(await writeRead("medeleg", ONES), 0xf0b7ffn);
    strictEqual(await writeRead("medeleg", ONES, { isa: "rv64imafdc" }), 0xb3ffn);
  });
  await t.step("mie: the VS enables exist only with H", async () => {
    strictEqual(await writeRead("mie", ONES), 0xeeen);
    strictEqual(await writeRead("mie", ONES, { isa: "rv64imafdc" }), 0xaaan);
  });
  await t.step("sie shows only what mideleg delegates", async () => {
    strictEqual(await writeRead("sie", ONES), 0n);
    const hal = await createEmulatorHal({ firmware: "none" });
    await hal.csr.write(0, CSR.mideleg, 0x20n);
    await hal.csr.write(0, CSR.sie, ONES);
    strictEqual(await hal.csr.read(0, CSR.sie), 0x20n);
    await hal.close();
  });
  await t.step(
    "mip: MTIP is pending at reset and read-only; M writes SSIP, STIP, SEIP, VSSIP",
    async () => {
      const hal = await createEmulatorHal({ firmware: "none" });
      strictEqual(await hal.csr.read(0, CSR.mip), 0x80n);
      await hal.csr.write(0, CSR.mip, ONES);
      strictEqual(await hal.csr.read(0, CSR.mip), 0x2a6n);
      strictEqual(await hal.csr.read(0, CSR.hvip), 0x4n);
      await hal.close();
    },
  );
  await t.step("vsie and vsip are read-only zero until hideleg delegates", async () => {
    const hal = await createEmulatorHal({ firmware: "none" });
    await hal.csr.write(0, CSR.vsie, ONES);
    strictEqual(await hal.csr.read(0, CSR.vsie), 0n);
    await hal.csr.write(0, CSR.hideleg, ONES);
    await hal.csr.write(0, CSR.vsie, ONES);
    strictEqual(await hal.csr.read(0, CSR.vsie), 0x222n);
    await hal.csr.write(0, CSR.hvip, ONES);
    strictEqual(await hal.csr.read(0, CSR.vsip), 0x222n);
    await hal.close();
  });
  await t.step("mstatus: SXL/UXL read 2, MPP=2 becomes U, SD summarises FS", async () => {
    strictEqual(await writeRead("mstatus", ONES), 0x8000_00ca_007e_79aan);
    strictEqual(await writeRead("mstatus", 0n), 0xa_0000_0000n);
    strictEqual((await writeRead("mstatus", 2n << 11n)) & (3n << 11n), 0n);
  });
  await t.step("sstatus is a view of mstatus", async () => {
    strictEqual(await writeRead("sstatus", ONES), 0x8000_0002_000c_6122n);
  });
  await t.step("vsstatus: UXL reads 2", async () => {
    strictEqual(await writeRead("vsstatus", ONES), 0x8000_0002_000c_6122n);
    strictEqual(await writeRead("vsstatus", 0n), 0x2_0000_0000n);
  });
  await t.step("xtvec mode 2 and 3 lose bit 1; xepc bit 0 is zero", async () => {
    strictEqual(await writeRead("mtvec", ONES), ONES - 2n);
    strictEqual(await writeRead("stvec", 0x1002n), 0x1000n);
    strictEqual(await writeRead("mepc", ONES), ONES - 1n);
    strictEqual(await writeRead("sepc", ONES, { isa: "rv64imafdh" }), ONES - 3n);
  });
  await t.step("counteren are 32-bit; mcountinhibit has no TM bit", async () => {
    strictEqual(await writeRead("mcounteren", ONES), 0xffff_ffffn);
    strictEqual(await writeRead("scounteren", ONES), 0xffff_ffffn);
    strictEqual(await writeRead("mcountinhibit", ONES), 0xffff_fffdn);
  });
});

Deno.test("spec profile: Sstc timers drive STIP and VSTIP", async () => {
  const hal = await createEmulatorHal({ firmware: "none", isa: "rv64imafdch_sstc" });
  const csr = hal.csr;
  await csr.write(0, CSR.menvcfg, 1n << 63n);
  await csr.write(0, CSR.stimecmp, 5n);
  strictEqual((await csr.read(0, CSR.mip)) & 0x20n, 0n, "stimecmp in the future");
  await csr.write(0, CSR.stimecmp, 0n);
  strictEqual((await csr.read(0, CSR.mip)) & 0x20n, 0x20n, "stimecmp reached");
  await csr.write(0, CSR.henvcfg, 1n << 63n);
  strictEqual(await csr.read(0, CSR.henvcfg), 1n << 63n);
  await csr.write(0, CSR.vstimecmp, 10n);
  strictEqual((await csr.read(0, CSR.hip)) & 0x40n, 0n);
  await csr.write(0, CSR.htimedelta, 10n);
  strictEqual((await csr.read(0, CSR.hip)) & 0x40n, 0x40n);
  await csr.write(0, CSR.menvcfg, 0n);
  strictEqual(
    await csr.read(0, CSR.henvcfg),
    0n,
    "henvcfg.STCE reads zero while menvcfg.STCE is 0",
  );
  await hal.close();
});

Deno.test("spec profile: without H every H and VS CSR traps and misa has no H", async () => {
  const hal = await createEmulatorHal({ isa: "rv64imafdc" });
  const names: CsrName[] = [
    "hstatus",
    "hedeleg",
    "hideleg",
    "hie",
    "hcounteren",
    "hgeie",
    "htval",
    "hip",
    "hvip",
    "htinst",
    "hgatp",
    "hgeip",
    "henvcfg",
    "htimedelta",
    "vsstatus",
    "vsie",
    "vstvec",
    "vsscratch",
    "vsepc",
    "vscause",
    "vstval",
    "vsip",
    "vsatp",
  ];
  const results = await hal.csr.batch(0, names.map((name) => ({ op: "read", csr: CSR[name] })));
  deepStrictEqual(results, names.map(() => ({ ok: false, trapCause: 2 })));
  strictEqual((await hal.csr.read(0, CSR.misa)) & 0x80n, 0n);
  await hal.close();
});

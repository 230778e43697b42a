import { strictEqual, throws } from "node:assert/strict";
import { CSR, csrName, csrNumber, isHypervisorCsr, isReadOnlyCsr } from "./csr_numbers.ts";
import { AxError } from "./errors.ts";

Deno.test("CSR has the spec addresses the set-up and the bridge use", () => {
  const expected: Record<string, number> = {
    hstatus: 0x600,
    hedeleg: 0x602,
    hideleg: 0x603,
    hie: 0x604,
    htimedelta: 0x605,
    hcounteren: 0x606,
    hgeie: 0x607,
    henvcfg: 0x60a,
    htval: 0x643,
    hip: 0x644,
    hvip: 0x645,
    htinst: 0x64a,
    hgatp: 0x680,
    hgeip: 0xe12,
    vsstatus: 0x200,
    vsie: 0x204,
    vstvec: 0x205,
    vsscratch: 0x240,
    vsepc: 0x241,
    vscause: 0x242,
    vstval: 0x243,
    vsip: 0x244,
    vsatp: 0x280,
    sstatus: 0x100,
    sie: 0x104,
    stvec: 0x105,
    scounteren: 0x106,
    sip: 0x144,
    satp: 0x180,
    mstatus: 0x300,
    misa: 0x301,
    medeleg: 0x302,
    mideleg: 0x303,
    mie: 0x304,
    mcounteren: 0x306,
    menvcfg: 0x30a,
    mip: 0x344,
    mtinst: 0x34a,
    mtval2: 0x34b,
    mhartid: 0xf14,
    mcountinhibit: 0x320,
    stimecmp: 0x14d,
    vstimecmp: 0x24d,
    senvcfg: 0x10a,
  };
  for (const [name, num] of Object.entries(expected)) {
    strictEqual((CSR as Record<string, number>)[name], num, name);
  }
});

Deno.test("CSR addresses are unique", () => {
  const seen = new Map<number, string>();
  for (const [name, num] of Object.entries(CSR)) {
    strictEqual(
      seen.get(num),
      undefined,
      `${name} and ${seen.get(num)} share 0x${num.toString(16)}`,
    );
    seen.set(num, name);
  }
});

Deno.test("csrName() and csrNumber() are inverse", () => {
  for (const [name, num] of Object.entries(CSR)) {
    strictEqual(csrName(num), name);
    strictEqual(csrNumber(name), num);
  }
  strictEqual(csrName(0x7c0), "csr0x7c0");
  strictEqual(csrNumber("csr0x7c0"), 0x7c0);
  strictEqual(csrNumber("0x602"), 0x602);
  strictEqual(csrNumber("HGATP"), 0x680);
  throws(() => csrNumber("hedelg"), (e) => e instanceof AxError && e.kind === "NotFound");
  throws(() => csrNumber("602"), (e) => e instanceof AxError);
});

Deno.test("isReadOnlyCsr() and isHypervisorCsr() read the address encoding", () => {
  strictEqual(isReadOnlyCsr(CSR.hgeip), true);
  strictEqual(isReadOnlyCsr(CSR.time), true);
  strictEqual(isReadOnlyCsr(CSR.mstatus), false);
  for (const csr of [CSR.hstatus, CSR.hgatp, CSR.hgeip, CSR.vsatp, CSR.vsstatus]) {
    strictEqual(isHypervisorCsr(csr), true, csrName(csr));
  }
  for (const csr of [CSR.sstatus, CSR.satp, CSR.mstatus, CSR.mideleg]) {
    strictEqual(isHypervisorCsr(csr), false, csrName(csr));
  }
});

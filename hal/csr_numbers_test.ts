import { strictEqual, throws } from "node:assert/strict";
import { CSR, csrName, csrNumber, isHypervisorCsr, isReadOnlyCsr } from "./csr_numbers.ts";
import { AxError } from "./errors.ts";

Deno.test("CSR has the spec addresses the set-up and the bridge use", () => {
  // The privileged spec's CSR listing, by address.
  const listing = `
    0x100 sstatus  0x104 sie  0x105 stvec  0x106 scounteren  0x10a senvcfg
    0x144 sip  0x14d stimecmp  0x180 satp  0x200 vsstatus  0x204 vsie
    0x205 vstvec  0x240 vsscratch  0x241 vsepc  0x242 vscause  0x243 vstval
    0x244 vsip  0x24d vstimecmp  0x280 vsatp  0x300 mstatus  0x301 misa
    0x302 medeleg  0x303 mideleg  0x304 mie  0x306 mcounteren  0x30a menvcfg
    0x320 mcountinhibit  0x344 mip  0x34a mtinst  0x34b mtval2  0x600 hstatus
    0x602 hedeleg  0x603 hideleg  0x604 hie  0x605 htimedelta  0x606 hcounteren
    0x607 hgeie  0x60a henvcfg  0x643 htval  0x644 hip  0x645 hvip
    0x64a htinst  0x680 hgatp  0xe12 hgeip  0xf14 mhartid
  `;
  const expected = new Map<string, number>();
  for (const [, num, name] of listing.matchAll(/(0x[0-9a-f]+) (\w+)/g)) {
    expected.set(name!, Number(num));
  }
  strictEqual(expected.size, 44);
  for (const [name, num] of expected) {
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

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import type { CheckedCsrOp } from "../../../hal/backend_hal.ts";
import { AxError } from "../../../hal/errors.ts";
import { CSR, csrNumber } from "../../../hal/csr_numbers.ts";
import {
  checkExpressible,
  compileBatch,
  csrAccessPath,
  decodeResults,
  inexpressible,
} from "./_codegen.ts";
import { WORK } from "./_agent.ts";
import { disassemble, objdumpTest } from "../../../tests/_helpers/objdump.ts";

const read = (csr: number): CheckedCsrOp => ({ op: "read", csr });

Deno.test("csrAccessPath() sends machine-level CSRs to the debugger, the rest to the hart", () => {
  for (const name of ["mstatus", "misa", "medeleg", "mideleg", "mie", "mhartid", "mcountinhibit"]) {
    strictEqual(csrAccessPath(csrNumber(name)), "debugger", name);
  }
  for (const name of ["sstatus", "sie", "stvec", "satp", "hedeleg", "hgatp", "vsie", "cycle"]) {
    strictEqual(csrAccessPath(csrNumber(name)), "native", name);
  }
  strictEqual(csrAccessPath(0x7b0), "debugger", "dcsr (debug mode, machine level)");
  strictEqual(csrAccessPath(0x000), "native", "a user-level address, even an unimplemented one");
});

Deno.test("inexpressible() names the operations that would take the agent down", () => {
  strictEqual(inexpressible({ op: "write", csr: CSR.satp, value: 8n << 60n }) !== undefined, true);
  strictEqual(inexpressible({ op: "set", csr: CSR.satp, value: 1n << 63n }) !== undefined, true);
  strictEqual(inexpressible({ op: "write", csr: CSR.satp, value: 0x1234n }), undefined);
  strictEqual(inexpressible({ op: "clear", csr: CSR.satp, value: -1n }), undefined);
  strictEqual(inexpressible({ op: "set", csr: CSR.sstatus, value: 2n }) !== undefined, true);
  strictEqual(inexpressible({ op: "set", csr: CSR.sstatus, value: 1n << 18n }), undefined);
  strictEqual(inexpressible({ op: "clear", csr: CSR.sstatus, value: 2n }), undefined);
  strictEqual(inexpressible(read(CSR.satp)), undefined);
  throws(
    () => checkExpressible(3, [read(CSR.sie), { op: "write", csr: CSR.satp, value: 8n << 60n }]),
    (e) =>
      e instanceof AxError && e.kind === "Unsupported" && e.hart === 3 &&
      /^Cannot write CSR "satp" \(0x180\) natively on hart 3 \(operation 1 of the batch\): it could turn on address translation/
        .test(e.message),
  );
});

Deno.test("compileBatch() emits one CSR instruction per operation", async (t) => {
  const origin = 0x8022_0000;
  const ops: CheckedCsrOp[] = [
    read(CSR.hgatp),
    { op: "write", csr: CSR.hedeleg, value: 0xb10dn },
    { op: "clear", csr: CSR.hvip, value: 4n },
    { op: "set", csr: CSR.sie, value: 0n },
    { op: "write", csr: CSR.stvec, value: -1n },
  ];
  const batch = compileBatch(origin, ops);
  await t.step("operands only for the operations that write", () => {
    strictEqual(batch.count, 5);
    const view = new DataView(batch.operands.buffer);
    deepStrictEqual(
      [view.getBigUint64(0, true), view.getBigUint64(8, true), view.getBigUint64(16, true)],
      [0xb10dn, 4n, (1n << 64n) - 1n],
    );
    strictEqual(batch.operands.length, 24);
  });
  await t.step("too many operations are refused", () => {
    throws(() => compileBatch(origin, Array(WORK.maxOps + 1).fill(read(CSR.sie))), /at most 128/);
  });
});

objdumpTest("compileBatch() code disassembles to the CSR instructions asked for", async () => {
  const origin = 0x8022_0000;
  const batch = compileBatch(origin, [
    read(CSR.hgatp),
    { op: "write", csr: CSR.hedeleg, value: 0xb10dn },
    { op: "clear", csr: CSR.hvip, value: 4n },
    { op: "set", csr: CSR.sie, value: 0n },
    { op: "write", csr: CSR.stvec, value: -1n },
  ]);
  const text = (await disassemble(batch.code, origin)).map((line) => line.text);
  deepStrictEqual(text, [
    "sd x0,8(x12)",
    "csrrs x5,hgatp,x0",
    "sd x5,0(x12)",
    "addi x12,x12,24",
    "ld x6,0(x11)",
    "addi x11,x11,8",
    "sd x0,8(x12)",
    "csrrw x5,hedeleg,x6",
    "sd x5,0(x12)",
    "addi x12,x12,24",
    "ld x6,0(x11)",
    "addi x11,x11,8",
    "sd x0,8(x12)",
    "csrrc x5,hvip,x6",
    "sd x5,0(x12)",
    "addi x12,x12,24",
    // A zero mask: csrrs with rs1 = x0, which does not write.
    "sd x0,8(x12)",
    "csrrs x5,sie,x0",
    "sd x5,0(x12)",
    "addi x12,x12,24",
    // stvec: the value the agent keeps (s8) in place around the operation.
    "ld x6,0(x11)",
    "addi x11,x11,8",
    "sd x0,8(x12)",
    "csrrw x0,stvec,x24",
    "csrrw x5,stvec,x6",
    "csrrw x24,stvec,x25",
    "sd x5,0(x12)",
    "addi x12,x12,24",
    "jalr x0,0(x1)",
  ]);
});

Deno.test("decodeResults() turns the slots into values and traps", () => {
  const bytes = new Uint8Array(3 * WORK.resultSize);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, 0xb10dn, true);
  view.setBigUint64(24 + 0, 0xdeadn, true); // stale t0 behind a trap
  view.setBigUint64(24 + 8, 3n, true); // scause 2 + 1
  view.setBigUint64(24 + 16, 0x680022f3n, true);
  view.setBigUint64(48, 0n, true);
  const { results, stval } = decodeResults(bytes, 3);
  deepStrictEqual(results, [
    { ok: true, value: 0xb10dn },
    { ok: false, trapCause: 2 },
    { ok: true, value: 0n },
  ]);
  deepStrictEqual(stval, [undefined, 0x680022f3n, undefined]);
  throws(() => decodeResults(bytes, 4), /from 72 bytes/);
  view.setBigUint64(24 + 8, (1n << 63n) + 6n, true);
  throws(() => decodeResults(bytes, 3), /is no exception cause/);
});

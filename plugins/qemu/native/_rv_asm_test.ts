import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { Assembler, encodeCsr } from "./_rv_asm.ts";
import { disassemble, objdumpTest } from "../../../tests/_helpers/objdump.ts";

function words(code: Uint8Array): number[] {
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
  return Array.from({ length: code.length / 4 }, (_, i) => view.getUint32(4 * i, true));
}

/** One of every form the agent uses, with GNU objdump 2.40's decoding of each word. */
function everyForm(): Assembler {
  const a = new Assembler(0x8020_0000);
  a.label("top");
  a.addi("t0", "t1", -5);
  a.addiw("a0", "a1", 2047);
  a.andi("t2", "t2", 2);
  a.slli("t1", "a0", 6);
  a.add("s0", "t0", "t1");
  a.lui("a7", 0x485);
  a.auipc("s9", 0xfffff);
  a.lw("t0", -8, "s0");
  a.ld("a1", 16, "s0");
  a.sw("s5", 0, "s6");
  a.sd("t0", -2048, "a2");
  a.beq("t0", "s5", "top");
  a.bne("a0", "a1", "fwd");
  a.blt("t0", "zero", "fwd");
  a.bgeu("s1", "t0", "top");
  a.jal("ra", "fwd");
  a.j("top");
  a.jalr("ra", 0, "t3");
  a.li("a7", 0x48534d);
  a.li("t0", -3);
  a.li("t0", 0x7fff_f800);
  a.la("s0", 0x8020_1000);
  a.laLabel("s9", "fwd");
  a.csr("csrrw", "t0", 0x105, "t1");
  a.csr("csrrs", "t0", 0x680, "zero");
  a.csr("csrrc", "zero", 0x144, "t4");
  a.csr("csrrwi", "t0", 0x140, 31);
  a.csr("csrrsi", "zero", 0x100, 2);
  a.csr("csrrci", "zero", 0x104, 2);
  a.ecall();
  a.sret();
  a.wfi();
  a.fence();
  a.fenceI();
  a.label("fwd");
  a.nop();
  return a;
}

/** What GNU objdump 2.40 (`-M no-aliases,numeric`) prints for {@linkcode everyForm}. */
const EVERY_FORM_WORDS: readonly number[] = [
  0xffb30293, // addi x5,x6,-5
  0x7ff5851b, // addiw x10,x11,2047
  0x0023f393, // andi x7,x7,2
  0x00651313, // slli x6,x10,0x6
  0x00628433, // add x8,x5,x6
  0x004858b7, // lui x17,0x485
  0xfffffc97, // auipc x25,0xfffff
  0xff842283, // lw x5,-8(x8)
  0x01043583, // ld x11,16(x8)
  0x015b2023, // sw x21,0(x22)
  0x80563023, // sd x5,-2048(x12)
  0xfd528ae3, // beq x5,x21,top
  0x06b51463, // bne x10,x11,fwd
  0x0602c263, // blt x5,x0,fwd
  0xfc54f4e3, // bgeu x9,x5,top
  0x05c000ef, // jal x1,fwd
  0xfc1ff06f, // jal x0,top
  0x000e00e7, // jalr x1,0(x28)
  0x004858b7, // lui x17,0x485
  0x34d8889b, // addiw x17,x17,845
  0xffd00293, // addi x5,x0,-3
  0x800002b7, // lui x5,0x80000
  0x8002829b, // addiw x5,x5,-2048
  0x00001417, // auipc x8,0x1
  0xfa440413, // addi x8,x8,-92
  0x00000c97, // auipc x25,0x0
  0x034c8c93, // addi x25,x25,52
  0x105312f3, // csrrw x5,stvec,x6
  0x680022f3, // csrrs x5,hgatp,x0
  0x144eb073, // csrrc x0,sip,x29
  0x140fd2f3, // csrrwi x5,sscratch,31
  0x10016073, // csrrsi x0,sstatus,2
  0x10417073, // csrrci x0,sie,2
  0x00000073, // ecall
  0x10200073, // sret
  0x10500073, // wfi
  0x0330000f, // fence rw,rw
  0x0000100f, // fence.i
  0x00000013, // addi x0,x0,0
];

Deno.test("Assembler encodes every form the agent uses as GNU objdump decodes it", () => {
  deepStrictEqual(words(everyForm().assemble()), EVERY_FORM_WORDS);
});

Deno.test("encodeCsr() puts the CSR number in the immediate", async (t) => {
  await t.step("csrr t0, hgatp: the H probe the agent runs", () => {
    strictEqual(encodeCsr("csrrs", "t0", 0x680, "zero"), 0x680022f3);
  });
  await t.step("out-of-range operands are refused", () => {
    throws(() => encodeCsr("csrrw", "t0", 0x1000, "t1"), /12 bits/);
    throws(() => encodeCsr("csrrwi", "t0", 0x140, 32), /5 bits/);
    throws(() => encodeCsr("csrrwi", "t0", 0x140, "t1"), /5-bit immediate/);
    throws(() => encodeCsr("csrrw", "x32", 0x140, "t1"), /x0 to x31/);
  });
});

Deno.test("Assembler resolves labels and refuses what it cannot encode", async (t) => {
  await t.step("an undefined label", () => {
    const a = new Assembler(0x8020_0000);
    a.j("nowhere");
    throws(() => a.assemble(), /label "nowhere" is not defined/);
  });
  await t.step("a label defined twice", () => {
    const a = new Assembler(0x8020_0000);
    a.label("x");
    throws(() => a.label("x"), /twice/);
  });
  await t.step("a branch beyond 4 KiB", () => {
    const a = new Assembler(0x8020_0000);
    a.label("far");
    for (let i = 0; i < 1100; i++) a.nop();
    a.beqz("t0", "far");
    throws(() => a.assemble(), /13 signed bits/);
  });
  await t.step("immediates out of range", () => {
    const a = new Assembler(0x8020_0000);
    throws(() => a.addi("t0", "t0", 2048), /12 signed bits/);
    throws(() => a.li("t0", 2 ** 31), /32 signed bits/);
    throws(() => a.slli("t0", "t0", 64), /6 bits/);
  });
  await t.step("align pads with nops", () => {
    const a = new Assembler(0x8020_0004);
    a.align(16);
    strictEqual(a.pc, 0x8020_0010);
    deepStrictEqual(words(a.assemble()), [0x13, 0x13, 0x13]);
  });
});

objdumpTest("Assembler output disassembles to the intended instructions", async () => {
  const listing = await disassemble(everyForm().assemble(), 0x8020_0000);
  deepStrictEqual(listing.map((line) => line.word), EVERY_FORM_WORDS);
  deepStrictEqual(listing.slice(0, 3).map((line) => line.text), [
    "addi x5,x6,-5",
    "addiw x10,x11,2047",
    "andi x7,x7,2",
  ]);
  strictEqual(listing[28]!.text, "csrrs x5,hgatp,x0");
  strictEqual(listing.at(-1)!.address, 0x8020_0098);
  strictEqual(listing[23]!.text, "auipc x8,0x1");
  strictEqual(listing[24]!.text, "addi x8,x8,-92"); // 0x8020005c + 0x1000 - 92 = 0x80201000
});

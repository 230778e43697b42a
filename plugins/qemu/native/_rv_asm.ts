/**
 * A small RV64 assembler: the instructions the native-access agent and its
 * per-batch code use, encoded in TypeScript (no toolchain needed at run time
 * or in CI), every instruction 4 bytes (no compressed forms, so a trap
 * handler can always skip a faulting instruction with `sepc += 4`).
 *
 * Labels are resolved when {@linkcode Assembler.assemble} runs; `la` takes an
 * absolute address (the agent is linked at a known base) and emits a
 * pc-relative `auipc` + `addi` pair.
 *
 * Needs no permissions.
 *
 * @module
 */

/** The integer registers by ABI name (and `x0`–`x31`). */
export const REG: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries([
    ...[
      "zero",
      "ra",
      "sp",
      "gp",
      "tp",
      "t0",
      "t1",
      "t2",
      "s0",
      "s1",
      "a0",
      "a1",
      "a2",
      "a3",
      "a4",
      "a5",
      "a6",
      "a7",
      "s2",
      "s3",
      "s4",
      "s5",
      "s6",
      "s7",
      "s8",
      "s9",
      "s10",
      "s11",
      "t3",
      "t4",
      "t5",
      "t6",
    ].map((name, i) => [name, i] as const),
    ...Array.from({ length: 32 }, (_, i) => [`x${i}`, i] as const),
  ]),
);

/** A register: its ABI name (`"t0"`) or number. */
export type Reg = string | number;

function reg(r: Reg): number {
  const n = typeof r === "number" ? r : REG[r];
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 31) {
    throw new RangeError(`Cannot encode register ${String(r)}: expected x0 to x31 or an ABI name`);
  }
  return n;
}

function checkSigned(value: number, bits: number, what: string): void {
  const min = -(2 ** (bits - 1));
  const max = 2 ** (bits - 1) - 1;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Cannot encode ${what} ${value}: it does not fit in ${bits} signed bits`);
  }
}

function checkUnsigned(value: number, bits: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`Cannot encode ${what} ${value}: it does not fit in ${bits} bits`);
  }
}

/** R-type: funct7 rs2 rs1 funct3 rd opcode. */
function rType(
  opcode: number,
  funct3: number,
  funct7: number,
  rd: Reg,
  rs1: Reg,
  rs2: Reg,
): number {
  return ((funct7 << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) |
    (reg(rd) << 7) | opcode) >>> 0;
}

/** I-type: imm[11:0] rs1 funct3 rd opcode. */
function iType(opcode: number, funct3: number, rd: Reg, rs1: Reg, imm: number): number {
  checkSigned(imm, 12, "immediate");
  return (((imm & 0xfff) << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | opcode) >>>
    0;
}

/** S-type: imm[11:5] rs2 rs1 funct3 imm[4:0] opcode. */
function sType(opcode: number, funct3: number, rs2: Reg, rs1: Reg, imm: number): number {
  checkSigned(imm, 12, "offset");
  return ((((imm >> 5) & 0x7f) << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) |
    ((imm & 0x1f) << 7) | opcode) >>> 0;
}

/** B-type: imm[12|10:5] rs2 rs1 funct3 imm[4:1|11] opcode. */
function bType(funct3: number, rs1: Reg, rs2: Reg, offset: number): number {
  checkSigned(offset, 13, "branch offset");
  if (offset % 2 !== 0) throw new RangeError(`Cannot encode branch offset ${offset}: it is odd`);
  return ((((offset >> 12) & 1) << 31) | (((offset >> 5) & 0x3f) << 25) | (reg(rs2) << 20) |
    (reg(rs1) << 15) | (funct3 << 12) | (((offset >> 1) & 0xf) << 8) |
    (((offset >> 11) & 1) << 7) | 0x63) >>> 0;
}

/** J-type: imm[20|10:1|11|19:12] rd opcode. */
function jType(rd: Reg, offset: number): number {
  checkSigned(offset, 21, "jump offset");
  if (offset % 2 !== 0) throw new RangeError(`Cannot encode jump offset ${offset}: it is odd`);
  return ((((offset >> 20) & 1) << 31) | (((offset >> 1) & 0x3ff) << 21) |
    (((offset >> 11) & 1) << 20) | (((offset >> 12) & 0xff) << 12) | (reg(rd) << 7) | 0x6f) >>>
    0;
}

/** U-type: imm[31:12] rd opcode (`upper` is the 20-bit field). */
function uType(opcode: number, rd: Reg, upper: number): number {
  checkUnsigned(upper, 20, "upper immediate");
  return ((upper << 12) | (reg(rd) << 7) | opcode) >>> 0;
}

/** Splits a 32-bit signed offset into `auipc`/`lui` (hi20) and `addi` (lo12) parts. */
function hiLo(value: number): { hi: number; lo: number } {
  checkSigned(value, 32, "pc-relative offset");
  const lo = ((value & 0xfff) << 20) >> 20; // sign-extended low 12 bits
  const hi = ((value - lo) >>> 12) & 0xfffff;
  return { hi, lo };
}

/** The CSR instruction forms. */
export type CsrForm = "csrrw" | "csrrs" | "csrrc" | "csrrwi" | "csrrsi" | "csrrci";

const CSR_FUNCT3: Readonly<Record<CsrForm, number>> = {
  csrrw: 1,
  csrrs: 2,
  csrrc: 3,
  csrrwi: 5,
  csrrsi: 6,
  csrrci: 7,
};

/**
 * Encodes one CSR instruction (`csrrw rd, csr, rs1` …; for the `i` forms
 * `src` is the 5-bit immediate).
 *
 * @example Usage
 * ```ts
 * import { encodeCsr } from "./_rv_asm.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(encodeCsr("csrrs", "t0", 0x680, "zero"), 0x680022f3); // csrr t0, hgatp
 * ```
 *
 * @param form The instruction.
 * @param rd The destination register.
 * @param csr The 12-bit CSR address.
 * @param src The source register, or the immediate for the `i` forms.
 * @returns The instruction word.
 */
export function encodeCsr(form: CsrForm, rd: Reg, csr: number, src: Reg): number {
  checkUnsigned(csr, 12, "CSR address");
  const funct3 = CSR_FUNCT3[form];
  let field: number;
  if (form.endsWith("i")) {
    if (typeof src !== "number") {
      throw new RangeError(`Cannot encode ${form}: the source must be a 5-bit immediate`);
    }
    checkUnsigned(src, 5, "CSR immediate");
    field = src;
  } else {
    field = reg(src);
  }
  return ((csr << 20) | (field << 15) | (funct3 << 12) | (reg(rd) << 7) | 0x73) >>> 0;
}

/** A word whose branch or jump target is resolved at assembly time. */
interface Fixup {
  readonly at: number;
  readonly label: string;
  readonly encode: (offset: number) => number;
}

/**
 * Assembles RV64 machine code at a fixed address.
 *
 * @example Usage
 * ```ts
 * import { Assembler } from "./_rv_asm.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const asm = new Assembler(0x8020_0000);
 * asm.label("park");
 * asm.wfi();
 * asm.j("park");
 * const code = asm.assemble();
 * strictEqual(code.length, 8);
 * strictEqual(new DataView(code.buffer).getUint32(4, true), 0xffdff06f); // j .-4
 * ```
 */
export class Assembler {
  /** The address of the first instruction. */
  readonly origin: number;
  #words: number[] = [];
  #labels = new Map<string, number>();
  #fixups: Fixup[] = [];

  /**
   * Starts an empty program.
   *
   * @param origin The address the code will run at (for `la` and labels).
   */
  constructor(origin: number) {
    this.origin = origin;
  }

  /** The address of the next instruction. */
  get pc(): number {
    return this.origin + 4 * this.#words.length;
  }

  /** The number of bytes emitted so far. */
  get size(): number {
    return 4 * this.#words.length;
  }

  /**
   * The address of a label defined so far.
   *
   * @param name The label.
   * @returns Its address.
   * @throws {RangeError} When the label is not defined.
   */
  address(name: string): number {
    const at = this.#labels.get(name);
    if (at === undefined) throw new RangeError(`Cannot find label "${name}"`);
    return at;
  }

  /**
   * Defines a label at the current address.
   *
   * @param name The label.
   * @throws {RangeError} When it is defined already.
   */
  label(name: string): void {
    if (this.#labels.has(name)) throw new RangeError(`Cannot define label "${name}" twice`);
    this.#labels.set(name, this.pc);
  }

  /**
   * Pads with `nop`s up to a multiple of `bytes`.
   *
   * @param bytes The alignment, a power of two of at least 4.
   */
  align(bytes: number): void {
    while (this.pc % bytes !== 0) this.nop();
  }

  /**
   * Emits a raw instruction word.
   *
   * @param word The word.
   */
  word(word: number): void {
    this.#words.push(word >>> 0);
  }

  #branchTo(label: string, encode: (offset: number) => number): void {
    this.#fixups.push({ at: this.#words.length, label, encode });
    this.#words.push(0);
  }

  /** `addi rd, rs1, imm`. */
  addi(rd: Reg, rs1: Reg, imm: number): void {
    this.word(iType(0x13, 0, rd, rs1, imm));
  }
  /** `addiw rd, rs1, imm`. */
  addiw(rd: Reg, rs1: Reg, imm: number): void {
    this.word(iType(0x1b, 0, rd, rs1, imm));
  }
  /** `andi rd, rs1, imm`. */
  andi(rd: Reg, rs1: Reg, imm: number): void {
    this.word(iType(0x13, 7, rd, rs1, imm));
  }
  /** `slli rd, rs1, shamt` (0–63). */
  slli(rd: Reg, rs1: Reg, shamt: number): void {
    checkUnsigned(shamt, 6, "shift amount");
    this.word(iType(0x13, 1, rd, rs1, shamt));
  }
  /** `add rd, rs1, rs2`. */
  add(rd: Reg, rs1: Reg, rs2: Reg): void {
    this.word(rType(0x33, 0, 0, rd, rs1, rs2));
  }
  /** `lui rd, upper` (`upper` is the 20-bit field). */
  lui(rd: Reg, upper: number): void {
    this.word(uType(0x37, rd, upper));
  }
  /** `auipc rd, upper`. */
  auipc(rd: Reg, upper: number): void {
    this.word(uType(0x17, rd, upper));
  }
  /** `lw rd, offset(rs1)`. */
  lw(rd: Reg, offset: number, rs1: Reg): void {
    this.word(iType(0x03, 2, rd, rs1, offset));
  }
  /** `ld rd, offset(rs1)`. */
  ld(rd: Reg, offset: number, rs1: Reg): void {
    this.word(iType(0x03, 3, rd, rs1, offset));
  }
  /** `sw rs2, offset(rs1)`. */
  sw(rs2: Reg, offset: number, rs1: Reg): void {
    this.word(sType(0x23, 2, rs2, rs1, offset));
  }
  /** `sd rs2, offset(rs1)`. */
  sd(rs2: Reg, offset: number, rs1: Reg): void {
    this.word(sType(0x23, 3, rs2, rs1, offset));
  }
  /** `beq rs1, rs2, label`. */
  beq(rs1: Reg, rs2: Reg, label: string): void {
    this.#branchTo(label, (offset) => bType(0, rs1, rs2, offset));
  }
  /** `bne rs1, rs2, label`. */
  bne(rs1: Reg, rs2: Reg, label: string): void {
    this.#branchTo(label, (offset) => bType(1, rs1, rs2, offset));
  }
  /** `blt rs1, rs2, label`. */
  blt(rs1: Reg, rs2: Reg, label: string): void {
    this.#branchTo(label, (offset) => bType(4, rs1, rs2, offset));
  }
  /** `bgeu rs1, rs2, label`. */
  bgeu(rs1: Reg, rs2: Reg, label: string): void {
    this.#branchTo(label, (offset) => bType(7, rs1, rs2, offset));
  }
  /** `beqz rs, label`. */
  beqz(rs: Reg, label: string): void {
    this.beq(rs, "zero", label);
  }
  /** `bltz rs, label`. */
  bltz(rs: Reg, label: string): void {
    this.blt(rs, "zero", label);
  }
  /** `jal rd, label`. */
  jal(rd: Reg, label: string): void {
    this.#branchTo(label, (offset) => jType(rd, offset));
  }
  /** `j label`. */
  j(label: string): void {
    this.jal("zero", label);
  }
  /** `jalr rd, offset(rs1)`. */
  jalr(rd: Reg, offset: number, rs1: Reg): void {
    this.word(iType(0x67, 0, rd, rs1, offset));
  }
  /** `ret`. */
  ret(): void {
    this.jalr("zero", 0, "ra");
  }
  /** `mv rd, rs`. */
  mv(rd: Reg, rs: Reg): void {
    this.addi(rd, rs, 0);
  }
  /** `nop`. */
  nop(): void {
    this.addi("zero", "zero", 0);
  }
  /**
   * `li rd, value` for a value that fits in 32 signed bits (`lui` +
   * `addiw`, or a single `addi`).
   */
  li(rd: Reg, value: number): void {
    checkSigned(value, 32, "constant");
    if (value >= -2048 && value <= 2047) {
      this.addi(rd, "zero", value);
      return;
    }
    const { hi, lo } = hiLo(value);
    this.lui(rd, hi);
    if (lo !== 0) this.addiw(rd, rd, lo);
  }
  /**
   * `la rd, address`: `auipc` + `addi`, pc-relative (the address must be
   * within ±2 GiB of the instruction).
   */
  la(rd: Reg, address: number): void {
    const { hi, lo } = hiLo(address - this.pc);
    this.auipc(rd, hi);
    this.addi(rd, rd, lo);
  }
  /** `la rd, label` for a label defined anywhere (resolved at assembly). */
  laLabel(rd: Reg, label: string): void {
    const first = this.#words.length;
    this.#fixups.push({
      at: first,
      label,
      encode: (offset) => uType(0x17, rd, hiLo(offset).hi),
    });
    this.#words.push(0);
    this.#fixups.push({
      at: first + 1,
      label,
      // The low part is relative to the auipc, one word earlier.
      encode: (offset) => iType(0x13, 0, rd, rd, hiLo(offset + 4).lo),
    });
    this.#words.push(0);
  }
  /** A CSR instruction. */
  csr(form: CsrForm, rd: Reg, csr: number, src: Reg): void {
    this.word(encodeCsr(form, rd, csr, src));
  }
  /** `ecall`. */
  ecall(): void {
    this.word(0x00000073);
  }
  /** `sret`. */
  sret(): void {
    this.word(0x10200073);
  }
  /** `wfi`. */
  wfi(): void {
    this.word(0x10500073);
  }
  /** `fence rw, rw`. */
  fence(): void {
    this.word(0x0330000f);
  }
  /** `fence.i`. */
  fenceI(): void {
    this.word(0x0000100f);
  }

  /**
   * Resolves the labels and returns the code, little-endian.
   *
   * @returns The machine code.
   * @throws {RangeError} For an undefined label or a target out of range.
   */
  assemble(): Uint8Array {
    const words = [...this.#words];
    for (const fixup of this.#fixups) {
      const target = this.#labels.get(fixup.label);
      if (target === undefined) {
        throw new RangeError(`Cannot assemble: label "${fixup.label}" is not defined`);
      }
      words[fixup.at] = fixup.encode(target - (this.origin + 4 * fixup.at)) >>> 0;
    }
    const bytes = new Uint8Array(words.length * 4);
    const view = new DataView(bytes.buffer);
    words.forEach((word, i) => view.setUint32(4 * i, word, true));
    return bytes;
  }
}

/**
 * CSR addresses and names (RISC-V privileged spec, RV64).
 *
 * @module
 */

import { AxError } from "./errors.ts";
import type { CsrNum } from "./types.ts";

/**
 * CSR addresses by their spec names.
 *
 * Covers the hypervisor (H), virtual-supervisor (VS), supervisor and machine
 * CSRs the per-CPU set-up, the QEMU bridge and the emulator touch, plus the
 * counters, PMP, state-enable and AIA CSRs a backend may list.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(CSR.hedeleg, 0x602);
 * strictEqual(CSR.hgatp, 0x680);
 * ```
 */
export const CSR = {
  // Unprivileged floating-point and counters.
  fflags: 0x001,
  frm: 0x002,
  fcsr: 0x003,
  cycle: 0xc00,
  time: 0xc01,
  instret: 0xc02,
  hpmcounter3: 0xc03,
  hpmcounter4: 0xc04,
  hpmcounter5: 0xc05,
  hpmcounter6: 0xc06,
  hpmcounter7: 0xc07,
  hpmcounter8: 0xc08,
  hpmcounter9: 0xc09,
  hpmcounter10: 0xc0a,
  hpmcounter11: 0xc0b,
  hpmcounter12: 0xc0c,
  hpmcounter13: 0xc0d,
  hpmcounter14: 0xc0e,
  hpmcounter15: 0xc0f,
  hpmcounter16: 0xc10,
  hpmcounter17: 0xc11,
  hpmcounter18: 0xc12,
  hpmcounter19: 0xc13,
  hpmcounter20: 0xc14,
  hpmcounter21: 0xc15,
  hpmcounter22: 0xc16,
  hpmcounter23: 0xc17,
  hpmcounter24: 0xc18,
  hpmcounter25: 0xc19,
  hpmcounter26: 0xc1a,
  hpmcounter27: 0xc1b,
  hpmcounter28: 0xc1c,
  hpmcounter29: 0xc1d,
  hpmcounter30: 0xc1e,
  hpmcounter31: 0xc1f,
  // Supervisor.
  sstatus: 0x100,
  sie: 0x104,
  stvec: 0x105,
  scounteren: 0x106,
  senvcfg: 0x10a,
  sstateen0: 0x10c,
  sscratch: 0x140,
  sepc: 0x141,
  scause: 0x142,
  stval: 0x143,
  sip: 0x144,
  stimecmp: 0x14d,
  siselect: 0x150,
  sireg: 0x151,
  stopei: 0x15c,
  satp: 0x180,
  scontext: 0x5a8,
  stopi: 0xdb0,
  scountovf: 0xda0,
  // Virtual supervisor.
  vsstatus: 0x200,
  vsie: 0x204,
  vstvec: 0x205,
  vsscratch: 0x240,
  vsepc: 0x241,
  vscause: 0x242,
  vstval: 0x243,
  vsip: 0x244,
  vstimecmp: 0x24d,
  vsiselect: 0x250,
  vsireg: 0x251,
  vstopei: 0x25c,
  vsatp: 0x280,
  vstopi: 0xeb0,
  // Hypervisor.
  hstatus: 0x600,
  hedeleg: 0x602,
  hideleg: 0x603,
  hie: 0x604,
  htimedelta: 0x605,
  hcounteren: 0x606,
  hgeie: 0x607,
  hvien: 0x608,
  hvictl: 0x609,
  henvcfg: 0x60a,
  hstateen0: 0x60c,
  hedelegh: 0x612,
  hidelegh: 0x613,
  htimedeltah: 0x615,
  henvcfgh: 0x61a,
  htval: 0x643,
  hip: 0x644,
  hvip: 0x645,
  hviprio1: 0x646,
  hviprio2: 0x647,
  htinst: 0x64a,
  hgatp: 0x680,
  hcontext: 0x6a8,
  hgeip: 0xe12,
  // Machine.
  mvendorid: 0xf11,
  marchid: 0xf12,
  mimpid: 0xf13,
  mhartid: 0xf14,
  mconfigptr: 0xf15,
  mstatus: 0x300,
  misa: 0x301,
  medeleg: 0x302,
  mideleg: 0x303,
  mie: 0x304,
  mtvec: 0x305,
  mcounteren: 0x306,
  mvien: 0x308,
  mvip: 0x309,
  menvcfg: 0x30a,
  mstateen0: 0x30c,
  mcountinhibit: 0x320,
  mhpmevent3: 0x323,
  mhpmevent4: 0x324,
  mhpmevent5: 0x325,
  mhpmevent6: 0x326,
  mhpmevent7: 0x327,
  mhpmevent8: 0x328,
  mhpmevent9: 0x329,
  mhpmevent10: 0x32a,
  mhpmevent11: 0x32b,
  mhpmevent12: 0x32c,
  mhpmevent13: 0x32d,
  mhpmevent14: 0x32e,
  mhpmevent15: 0x32f,
  mhpmevent16: 0x330,
  mhpmevent17: 0x331,
  mhpmevent18: 0x332,
  mhpmevent19: 0x333,
  mhpmevent20: 0x334,
  mhpmevent21: 0x335,
  mhpmevent22: 0x336,
  mhpmevent23: 0x337,
  mhpmevent24: 0x338,
  mhpmevent25: 0x339,
  mhpmevent26: 0x33a,
  mhpmevent27: 0x33b,
  mhpmevent28: 0x33c,
  mhpmevent29: 0x33d,
  mhpmevent30: 0x33e,
  mhpmevent31: 0x33f,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  mtinst: 0x34a,
  mtval2: 0x34b,
  miselect: 0x350,
  mireg: 0x351,
  mtopei: 0x35c,
  pmpcfg0: 0x3a0,
  pmpcfg1: 0x3a1,
  pmpcfg2: 0x3a2,
  pmpcfg3: 0x3a3,
  pmpcfg4: 0x3a4,
  pmpcfg5: 0x3a5,
  pmpcfg6: 0x3a6,
  pmpcfg7: 0x3a7,
  pmpcfg8: 0x3a8,
  pmpcfg9: 0x3a9,
  pmpcfg10: 0x3aa,
  pmpcfg11: 0x3ab,
  pmpcfg12: 0x3ac,
  pmpcfg13: 0x3ad,
  pmpcfg14: 0x3ae,
  pmpcfg15: 0x3af,
  pmpaddr0: 0x3b0,
  pmpaddr1: 0x3b1,
  pmpaddr2: 0x3b2,
  pmpaddr3: 0x3b3,
  pmpaddr4: 0x3b4,
  pmpaddr5: 0x3b5,
  pmpaddr6: 0x3b6,
  pmpaddr7: 0x3b7,
  pmpaddr8: 0x3b8,
  pmpaddr9: 0x3b9,
  pmpaddr10: 0x3ba,
  pmpaddr11: 0x3bb,
  pmpaddr12: 0x3bc,
  pmpaddr13: 0x3bd,
  pmpaddr14: 0x3be,
  pmpaddr15: 0x3bf,
  pmpaddr16: 0x3c0,
  pmpaddr17: 0x3c1,
  pmpaddr18: 0x3c2,
  pmpaddr19: 0x3c3,
  pmpaddr20: 0x3c4,
  pmpaddr21: 0x3c5,
  pmpaddr22: 0x3c6,
  pmpaddr23: 0x3c7,
  pmpaddr24: 0x3c8,
  pmpaddr25: 0x3c9,
  pmpaddr26: 0x3ca,
  pmpaddr27: 0x3cb,
  pmpaddr28: 0x3cc,
  pmpaddr29: 0x3cd,
  pmpaddr30: 0x3ce,
  pmpaddr31: 0x3cf,
  pmpaddr32: 0x3d0,
  pmpaddr33: 0x3d1,
  pmpaddr34: 0x3d2,
  pmpaddr35: 0x3d3,
  pmpaddr36: 0x3d4,
  pmpaddr37: 0x3d5,
  pmpaddr38: 0x3d6,
  pmpaddr39: 0x3d7,
  pmpaddr40: 0x3d8,
  pmpaddr41: 0x3d9,
  pmpaddr42: 0x3da,
  pmpaddr43: 0x3db,
  pmpaddr44: 0x3dc,
  pmpaddr45: 0x3dd,
  pmpaddr46: 0x3de,
  pmpaddr47: 0x3df,
  pmpaddr48: 0x3e0,
  pmpaddr49: 0x3e1,
  pmpaddr50: 0x3e2,
  pmpaddr51: 0x3e3,
  pmpaddr52: 0x3e4,
  pmpaddr53: 0x3e5,
  pmpaddr54: 0x3e6,
  pmpaddr55: 0x3e7,
  pmpaddr56: 0x3e8,
  pmpaddr57: 0x3e9,
  pmpaddr58: 0x3ea,
  pmpaddr59: 0x3eb,
  pmpaddr60: 0x3ec,
  pmpaddr61: 0x3ed,
  pmpaddr62: 0x3ee,
  pmpaddr63: 0x3ef,
  mseccfg: 0x747,
  tselect: 0x7a0,
  tdata1: 0x7a1,
  tdata2: 0x7a2,
  tdata3: 0x7a3,
  mcycle: 0xb00,
  minstret: 0xb02,
  mhpmcounter3: 0xb03,
  mhpmcounter4: 0xb04,
  mhpmcounter5: 0xb05,
  mhpmcounter6: 0xb06,
  mhpmcounter7: 0xb07,
  mhpmcounter8: 0xb08,
  mhpmcounter9: 0xb09,
  mhpmcounter10: 0xb0a,
  mhpmcounter11: 0xb0b,
  mhpmcounter12: 0xb0c,
  mhpmcounter13: 0xb0d,
  mhpmcounter14: 0xb0e,
  mhpmcounter15: 0xb0f,
  mhpmcounter16: 0xb10,
  mhpmcounter17: 0xb11,
  mhpmcounter18: 0xb12,
  mhpmcounter19: 0xb13,
  mhpmcounter20: 0xb14,
  mhpmcounter21: 0xb15,
  mhpmcounter22: 0xb16,
  mhpmcounter23: 0xb17,
  mhpmcounter24: 0xb18,
  mhpmcounter25: 0xb19,
  mhpmcounter26: 0xb1a,
  mhpmcounter27: 0xb1b,
  mhpmcounter28: 0xb1c,
  mhpmcounter29: 0xb1d,
  mhpmcounter30: 0xb1e,
  mhpmcounter31: 0xb1f,
  mtopi: 0xfb0,
} as const;

/**
 * The names in {@linkcode CSR}.
 *
 * @example Usage
 * ```ts
 * import { CSR, csrNumber } from "@rvhv/percpu";
 * import { type CsrName } from "./csr_numbers.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const delegation: CsrName[] = ["medeleg", "mideleg", "hedeleg", "hideleg"];
 * strictEqual(CSR[delegation[2]!], 0x602);
 * strictEqual(csrNumber(delegation[3]!), 0x603);
 * ```
 */
export type CsrName = keyof typeof CSR;

const NAME_BY_NUMBER: ReadonlyMap<CsrNum, CsrName> = new Map(
  (Object.entries(CSR) as [CsrName, number][]).map(([name, num]) => [num, name]),
);

const HEX_CSR_REGEXP = /^(?:0x)?([0-9a-f]{1,3})$/i;

/**
 * Throws unless `csr` is a 12-bit CSR address.
 *
 * @example Usage
 * ```ts
 * import { assertCsrNumber } from "./csr_numbers.ts";
 * import { throws } from "node:assert/strict";
 *
 * assertCsrNumber(0x602);
 * throws(() => assertCsrNumber(0x1000));
 * ```
 *
 * @param csr The value to check.
 * @param context What was being done, for the message (e.g. `"operation 2 of a CSR batch"`).
 * @throws {AxError} Kind `"InvalidInput"` when `csr` is not an integer in `0..0xfff`.
 */
export function assertCsrNumber(csr: unknown, context = "a CSR access"): asserts csr is CsrNum {
  if (typeof csr !== "number" || !Number.isInteger(csr) || csr < 0 || csr > 0xfff) {
    throw new AxError(
      "InvalidInput",
      `Cannot run ${context}: CSR number ${String(csr)} is not an integer from 0x000 to 0xfff`,
    );
  }
}

/**
 * The spec name of a CSR, or `csr0x…` for an address without a name here.
 *
 * @example Usage
 * ```ts
 * import { csrName } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(csrName(0x606), "hcounteren");
 * strictEqual(csrName(0x7c0), "csr0x7c0");
 * ```
 *
 * @param n The CSR address.
 * @returns The name.
 */
export function csrName(n: CsrNum): string {
  return NAME_BY_NUMBER.get(n) ?? `csr0x${n.toString(16).padStart(3, "0")}`;
}

/**
 * The address of a CSR given by name (case-insensitive) or as a hex address
 * (`"0x602"`, `"csr0x602"`).
 *
 * @example Usage
 * ```ts
 * import { csrNumber } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(csrNumber("HEDELEG"), 0x602);
 * strictEqual(csrNumber("0x645"), 0x645);
 * ```
 *
 * @param name The CSR's name or hex address.
 * @returns The CSR address.
 * @throws {AxError} Kind `"NotFound"` when the name is unknown.
 */
export function csrNumber(name: string): CsrNum {
  const lower = name.toLowerCase();
  if (Object.hasOwn(CSR, lower)) return CSR[lower as CsrName];
  const hex = HEX_CSR_REGEXP.exec(lower.startsWith("csr") ? lower.slice(3) : lower);
  if (hex !== null && (lower.includes("0x"))) return parseInt(hex[1]!, 16);
  throw new AxError("NotFound", `Cannot find CSR "${name}": no CSR has that name`);
}

/**
 * Whether a CSR address is read-only by encoding (bits 11:10 are `0b11`):
 * writing it raises an illegal-instruction exception.
 *
 * @example Usage
 * ```ts
 * import { CSR, isReadOnlyCsr } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isReadOnlyCsr(CSR.mhartid), true);
 * strictEqual(isReadOnlyCsr(CSR.hedeleg), false);
 * ```
 *
 * @param n The CSR address.
 * @returns `true` for read-only addresses.
 */
export function isReadOnlyCsr(n: CsrNum): boolean {
  return (n >> 10) === 0b11;
}

/**
 * Whether a CSR belongs to the hypervisor extension: the H CSRs
 * (`0x6xx`, `0xe12` hgeip) and the VS CSRs (`0x2xx`, `0xe80`–`0xebf`).
 * A hart without H raises illegal instruction for all of them.
 *
 * @example Usage
 * ```ts
 * import { CSR } from "@rvhv/percpu";
 * import { isHypervisorCsr } from "./csr_numbers.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isHypervisorCsr(CSR.vsatp), true);
 * strictEqual(isHypervisorCsr(CSR.satp), false);
 * ```
 *
 * @param n The CSR address.
 * @returns `true` for H and VS CSRs.
 */
export function isHypervisorCsr(n: CsrNum): boolean {
  // Bits 9:8 = 0b10 is the hypervisor privilege level in the CSR encoding.
  return ((n >> 8) & 0b11) === 0b10;
}

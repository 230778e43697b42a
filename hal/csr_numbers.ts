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
  pmpcfg2: 0x3a2,
  pmpaddr0: 0x3b0,
  pmpaddr1: 0x3b1,
  pmpaddr15: 0x3bf,
  mseccfg: 0x747,
  tselect: 0x7a0,
  tdata1: 0x7a1,
  tdata2: 0x7a2,
  tdata3: 0x7a3,
  mcycle: 0xb00,
  minstret: 0xb02,
  mhpmcounter3: 0xb03,
  mhpmcounter31: 0xb1f,
  mtopi: 0xfb0,
} as const;

/** The names in {@linkcode CSR}. */
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
 * import { assertCsrNumber } from "@rvhv/percpu";
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
 * import { CSR, isHypervisorCsr } from "@rvhv/percpu";
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

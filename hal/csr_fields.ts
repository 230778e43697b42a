/**
 * The one home of CSR field facts (RV64): the 64-bit mask, the status,
 * interrupt, envcfg and address-translation fields, and which delegation
 * bits the spec makes read-only zero or requires writable. Built from the
 * spec's bit positions and the cause names in `hal/trap_bits.ts`; everything
 * that models, checks or shows a CSR asks here.
 *
 * @module
 */

import { exceptionMask, interruptMask } from "./trap_bits.ts";

/**
 * All 64 bits: a CSR's width (XLEN 64), the mask of a full write.
 *
 * @example Usage
 * ```ts
 * import { ALL_ONES, CSR } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(ALL_ONES, BigInt.asUintN(64, -1n));
 * const hal = await createEmulatorHal();
 * await hal.csr.write(0, CSR.sscratch, -1n);
 * strictEqual(await hal.csr.read(0, CSR.sscratch), ALL_ONES);
 * await hal.close();
 * ```
 */
export const ALL_ONES: bigint = (1n << 64n) - 1n;

/** One bit. */
function bit(n: number): bigint {
  return 1n << BigInt(n);
}

/** `n` bits starting at `lsb`. */
function field(lsb: number, width: number): bigint {
  return ((1n << BigInt(width)) - 1n) << BigInt(lsb);
}

/** mstatus/sstatus/vsstatus fields. */
export const STATUS = {
  UIE: bit(0),
  SIE: bit(1),
  MIE: bit(3),
  UPIE: bit(4),
  SPIE: bit(5),
  UBE: bit(6),
  MPIE: bit(7),
  SPP: bit(8),
  VS: field(9, 2),
  MPP: field(11, 2),
  FS: field(13, 2),
  XS: field(15, 2),
  MPRV: bit(17),
  SUM: bit(18),
  MXR: bit(19),
  TVM: bit(20),
  TW: bit(21),
  TSR: bit(22),
  SDT: bit(24),
  UXL: field(32, 2),
  SXL: field(34, 2),
  SBE: bit(36),
  MBE: bit(37),
  GVA: bit(38),
  MPV: bit(39),
  SD: bit(63),
} as const;

/** XLEN encoding 2 (64-bit) in the UXL field. */
export const UXL_64: bigint = 2n << 32n;
/** XLEN encoding 2 (64-bit) in the SXL field. */
export const SXL_64: bigint = 2n << 34n;
/** XLEN encoding 1 (32-bit) in the SXL field. */
export const SXL_32: bigint = 1n << 34n;
/** Where a 32-bit status register (an RV32 view) has SD. */
export const SD_32: bigint = bit(31);

/** hstatus fields. */
export const HSTATUS = {
  VSBE: bit(5),
  GVA: bit(6),
  SPV: bit(7),
  SPVP: bit(8),
  HU: bit(9),
  VGEIN: field(12, 6),
  VTVM: bit(20),
  VTW: bit(21),
  VTSR: bit(22),
  VSXL: field(32, 2),
  HUPMM: field(48, 2),
} as const;

/** XLEN encoding 2 (64-bit) in the VSXL field. */
export const VSXL_64: bigint = 2n << 32n;

/** mip/mie bits by interrupt. */
export const IP = {
  SSIP: interruptMask("SUPERVISOR_SOFTWARE"),
  VSSIP: interruptMask("VIRTUAL_SUPERVISOR_SOFTWARE"),
  MSIP: interruptMask("MACHINE_SOFTWARE"),
  STIP: interruptMask("SUPERVISOR_TIMER"),
  VSTIP: interruptMask("VIRTUAL_SUPERVISOR_TIMER"),
  MTIP: interruptMask("MACHINE_TIMER"),
  SEIP: interruptMask("SUPERVISOR_EXTERNAL"),
  VSEIP: interruptMask("VIRTUAL_SUPERVISOR_EXTERNAL"),
  MEIP: interruptMask("MACHINE_EXTERNAL"),
  SGEIP: interruptMask("SUPERVISOR_GUEST_EXTERNAL"),
  LCOFIP: interruptMask("COUNTER_OVERFLOW"),
} as const;

/** SSIP | STIP | SEIP. */
export const S_INTERRUPTS: bigint = IP.SSIP | IP.STIP | IP.SEIP;
/**
 * The VS-level interrupts (VSSIP, VSTIP, VSEIP): what the set-up delegates in
 * hideleg and clears in hvip.
 *
 * @example Usage
 * ```ts
 * import { Interrupt, VS_INTERRUPTS } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(VS_INTERRUPTS >> BigInt(Interrupt.VIRTUAL_SUPERVISOR_TIMER) & 1n, 1n);
 * ```
 */
export const VS_INTERRUPTS: bigint = IP.VSSIP | IP.VSTIP | IP.VSEIP;
/** MSIP | MTIP | MEIP. */
export const M_INTERRUPTS: bigint = IP.MSIP | IP.MTIP | IP.MEIP;

/** menvcfg/henvcfg/senvcfg fields. */
export const ENVCFG = {
  FIOM: bit(0),
  CBIE: field(4, 2),
  CBCFE: bit(6),
  CBZE: bit(7),
  ADUE: bit(61),
  PBMTE: bit(62),
  CDE: bit(60),
  STCE: bit(63),
} as const;

/** hgatp/satp fields (RV64). */
export const ATP = {
  MODE: field(60, 4),
  VMID: field(44, 14),
  ASID: field(44, 16),
  PPN: field(0, 44),
} as const;

/** The MODE values of satp and hgatp. */
export const ATP_MODE = {
  bare: 0,
  sv39: 8,
  sv48: 9,
  sv57: 10,
} as const;

/**
 * A status value with SD recomputed: set when any of FS, VS, XS is dirty (3).
 *
 * @param status The stored status bits.
 * @returns The value a read shows.
 */
export function withSd(status: bigint): bigint {
  const dirty = (status & STATUS.FS) === STATUS.FS || (status & STATUS.VS) === STATUS.VS ||
    (status & STATUS.XS) === STATUS.XS;
  return dirty ? status | STATUS.SD : status & ~STATUS.SD;
}

/**
 * medeleg bits the spec makes read-only zero (ecall from M, double trap).
 *
 * @example Usage
 * ```ts
 * import { ALL_ONES, CSR } from "@rvhv/percpu";
 * import { MEDELEG_READ_ONLY_ZERO } from "./csr_fields.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * await hal.csr.write(0, CSR.medeleg, ALL_ONES);
 * strictEqual((await hal.csr.read(0, CSR.medeleg)) & MEDELEG_READ_ONLY_ZERO, 0n);
 * await hal.close();
 * ```
 */
export const MEDELEG_READ_ONLY_ZERO: bigint = exceptionMask(
  "ENVIRONMENT_CALL_FROM_M",
  "DOUBLE_TRAP",
);

/**
 * hedeleg bits the spec makes read-only zero: environment calls from HS, VS
 * and M, double trap, the guest-page faults and virtual instruction.
 *
 * @example Usage
 * ```ts
 * import { ALL_ONES, CSR } from "@rvhv/percpu";
 * import { HEDELEG_READ_ONLY_ZERO } from "./csr_fields.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * await hal.csr.write(0, CSR.hedeleg, ALL_ONES);
 * strictEqual((await hal.csr.read(0, CSR.hedeleg)) & HEDELEG_READ_ONLY_ZERO, 0n);
 * await hal.close();
 * ```
 */
export const HEDELEG_READ_ONLY_ZERO: bigint = exceptionMask(
  "ENVIRONMENT_CALL_FROM_HS",
  "ENVIRONMENT_CALL_FROM_VS",
  "ENVIRONMENT_CALL_FROM_M",
  "DOUBLE_TRAP",
  "INSTRUCTION_GUEST_PAGE_FAULT",
  "LOAD_GUEST_PAGE_FAULT",
  "VIRTUAL_INSTRUCTION",
  "STORE_AMO_GUEST_PAGE_FAULT",
);

/**
 * hideleg bits the spec makes read-only zero: the S-level interrupts 1, 5, 9 and 12.
 *
 * @example Usage
 * ```ts
 * import { ALL_ONES, CSR } from "@rvhv/percpu";
 * import { HIDELEG_READ_ONLY_ZERO } from "./csr_fields.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * await hal.csr.write(0, CSR.hideleg, ALL_ONES);
 * strictEqual((await hal.csr.read(0, CSR.hideleg)) & HIDELEG_READ_ONLY_ZERO, 0n);
 * await hal.close();
 * ```
 */
export const HIDELEG_READ_ONLY_ZERO: bigint = interruptMask(
  "SUPERVISOR_SOFTWARE",
  "SUPERVISOR_TIMER",
  "SUPERVISOR_EXTERNAL",
  "SUPERVISOR_GUEST_EXTERNAL",
);

/** hedeleg bits the spec requires writable (Priv 1.12), with bit 0 chosen writable. */
export const HEDELEG_WRITABLE: bigint = exceptionMask(
  "INSTRUCTION_ADDRESS_MISALIGNED",
  "INSTRUCTION_ACCESS_FAULT",
  "ILLEGAL_INSTRUCTION",
  "BREAKPOINT",
  "LOAD_ADDRESS_MISALIGNED",
  "LOAD_ACCESS_FAULT",
  "STORE_AMO_ADDRESS_MISALIGNED",
  "STORE_AMO_ACCESS_FAULT",
  "ENVIRONMENT_CALL_FROM_U_OR_VU",
  "INSTRUCTION_PAGE_FAULT",
  "LOAD_PAGE_FAULT",
  "STORE_AMO_PAGE_FAULT",
);

/** The exceptions that exist only with H (what medeleg gains and hedeleg never keeps). */
export const H_EXCEPTIONS: bigint = exceptionMask(
  "ENVIRONMENT_CALL_FROM_VS",
  "INSTRUCTION_GUEST_PAGE_FAULT",
  "LOAD_GUEST_PAGE_FAULT",
  "VIRTUAL_INSTRUCTION",
  "STORE_AMO_GUEST_PAGE_FAULT",
);

/**
 * Where each hart keeps its CSR state: slot indices into the hart's window of
 * the machine's shared `BigUint64Array`. Views (`sie`, `hvip`, `vsip`, …) have
 * no slot of their own: they read and write the slot of the CSR they alias.
 *
 * @module
 */

/** Slot indices. */
export const SLOT = {
  mstatus: 0,
  medeleg: 1,
  mideleg: 2,
  mie: 3,
  /** mip, including the hvip bits (one store of pending bits). */
  mip: 4,
  mtvec: 5,
  mcounteren: 6,
  menvcfg: 7,
  mcountinhibit: 8,
  mscratch: 9,
  mepc: 10,
  mcause: 11,
  mtval: 12,
  mtval2: 13,
  mtinst: 14,
  /** The ACLINT timer compare of this hart (memory-mapped, not a CSR). */
  mtimecmp: 15,
  stvec: 16,
  scounteren: 17,
  senvcfg: 18,
  sscratch: 19,
  sepc: 20,
  scause: 21,
  stval: 22,
  satp: 23,
  stimecmp: 24,
  hstatus: 25,
  hedeleg: 26,
  hideleg: 27,
  htimedelta: 28,
  hcounteren: 29,
  hgeie: 30,
  henvcfg: 31,
  htval: 32,
  htinst: 33,
  hgatp: 34,
  vsstatus: 35,
  vstvec: 36,
  vsscratch: 37,
  vsepc: 38,
  vscause: 39,
  vstval: 40,
  vsatp: 41,
  vstimecmp: 42,
  misa: 43,
  /** Model-internal flags (see `FLAG`). */
  flags: 44,
} as const;

/** Bits of the `flags` slot. */
export const FLAG = {
  /** The VS timer fires: vstimecmp ≤ time + htimedelta (QEMU's `vstime_irq`). */
  vstimeIrq: 1n,
} as const;

/** Slots per hart: 45 used, rounded up to 48 (384 bytes). */
export const SLOT_COUNT = 48;

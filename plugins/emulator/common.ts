/**
 * Pieces both profiles share: plain storage CSRs, the constant identity
 * CSRs, and the list of CSRs the emulator leaves unmodelled.
 *
 * @module
 */

import { ConstCsr, MaskedCsr } from "../../hal/csr_blocks.ts";
import type { CsrFile } from "../../hal/csr_file.ts";
import { ALL_ONES } from "../../hal/csr_fields.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import type { CsrNum } from "../../hal/types.ts";
import {
  COUNTERS_NOT_MODELLED,
  DEBUG_NOT_MODELLED,
  FP_NOT_MODELLED,
  NEEDS_H,
  PMP_NOT_MODELLED,
} from "./profile.ts";
import { SLOT } from "./slots.ts";

/**
 * Defines the CSRs that are plain 64-bit storage in every profile: the
 * scratch registers, the trap-value and trap-cause registers.
 *
 * @param file The CSR file to fill.
 */
export function definePlainStorage(file: CsrFile): void {
  file.define(CSR.mscratch, new MaskedCsr(SLOT.mscratch, ALL_ONES));
  file.define(CSR.mcause, new MaskedCsr(SLOT.mcause, ALL_ONES));
  file.define(CSR.mtval, new MaskedCsr(SLOT.mtval, ALL_ONES));
  file.define(CSR.sscratch, new MaskedCsr(SLOT.sscratch, ALL_ONES));
  file.define(CSR.scause, new MaskedCsr(SLOT.scause, ALL_ONES));
  file.define(CSR.stval, new MaskedCsr(SLOT.stval, ALL_ONES));
  file.define(CSR.vsscratch, new MaskedCsr(SLOT.vsscratch, ALL_ONES), NEEDS_H);
  file.define(CSR.vscause, new MaskedCsr(SLOT.vscause, ALL_ONES), NEEDS_H);
  file.define(CSR.vstval, new MaskedCsr(SLOT.vstval, ALL_ONES), NEEDS_H);
}

/**
 * Defines the identity CSRs: misa (read-only in every profile, as QEMU
 * ignores misa writes), mhartid, and `time`, which reads 0 because time does
 * not advance in the emulator (as in a QEMU held at `-S`).
 *
 * @param file The CSR file to fill.
 */
export function defineIdentity(file: CsrFile): void {
  file.define(CSR.misa, new ConstCsr((hart) => hart.get(SLOT.misa)));
  file.define(CSR.mhartid, new ConstCsr((hart) => BigInt(hart.id)));
  file.define(CSR.mconfigptr, new ConstCsr(0n));
  file.define(CSR.time, new ConstCsr(0n));
}

function range(first: CsrNum, last: CsrNum, reason: string, into: Map<CsrNum, string>): void {
  for (let csr = first; csr <= last; csr++) into.set(csr, reason);
}

/**
 * The CSRs real harts have that the emulator does not model, with why.
 *
 * @returns A new map from CSR address to reason.
 */
export function unmodelledCsrs(): Map<CsrNum, string> {
  const out = new Map<CsrNum, string>();
  range(CSR.fflags, CSR.fcsr, FP_NOT_MODELLED, out);
  out.set(CSR.cycle, COUNTERS_NOT_MODELLED);
  out.set(CSR.instret, COUNTERS_NOT_MODELLED);
  range(0xc03, 0xc1f, COUNTERS_NOT_MODELLED, out);
  out.set(CSR.mcycle, COUNTERS_NOT_MODELLED);
  out.set(CSR.minstret, COUNTERS_NOT_MODELLED);
  range(0xb03, 0xb1f, COUNTERS_NOT_MODELLED, out);
  range(0x323, 0x33f, COUNTERS_NOT_MODELLED, out);
  range(0x3a0, 0x3af, PMP_NOT_MODELLED, out);
  range(0x3b0, 0x3ef, PMP_NOT_MODELLED, out);
  range(CSR.tselect, CSR.tdata3, DEBUG_NOT_MODELLED, out);
  return out;
}

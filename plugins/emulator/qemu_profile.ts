/**
 * The CSR model shared by the QEMU profiles (`qemu-7.2`, `qemu-10.0`): what
 * `qemu-system-riscv64 -M virt -cpu rv64` reads back when its CSRs are
 * accessed from M-mode (the debugger's view of a hart held at `-S`), built
 * from QEMU's `target/riscv/csr.c` read-modify-write functions.
 *
 * Everything the versions share is written once here. Everything that
 * differs is one named field of `QemuBehaviours` (`qemu_model.ts`),
 * documented in `QEMU_BEHAVIOURS` and read in exactly one place below; each
 * version file (`qemu_7_2_profile.ts`, `qemu_10_0_profile.ts`) is a value of
 * that interface, checked bit for bit against the real binary by
 * `tests/differential/qemu_test.ts`.
 *
 * The quirks both versions share, each one line where it is enforced:
 * hstatus reads force VSXL=2 and VSBE=0; mideleg forces 0x1444 on every
 * access; sie is mie masked by mideleg; hvip, hip, sip, vsip and mip are views
 * of one pending store; htinst ignores writes; satp/stvec/mtvec drop writes
 * with an invalid mode; an M-mode writer with menvcfg.STCE=1 cannot change
 * STIP/VSTIP through mip or hvip; time reads 0 (the machine never runs), so a
 * stimecmp/vstimecmp write at or below 0 (+ htimedelta) raises the timer, and
 * a vstimecmp write in the future also clears a VSTIP stored through hvip or
 * mip; without H, mtval2 and mtinst trap (QEMU gates them on H).
 *
 * @module
 */

import { type HartContext, type Lane, type Words, wordsOf } from "../../hal/csr_hart.ts";
import { ConstCsr, FunctionCsr, LaneCsr, MaskedCsr, StoredCsr } from "../../hal/csr_blocks.ts";
import { CsrFile } from "../../hal/csr_file.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import type { IsaSpec } from "../../hal/isa.ts";
import { exceptionMask } from "../../hal/trap_bits.ts";
import type { CsrNum } from "../../hal/types.ts";
import { defineIdentity, definePlainStorage, unmodelledCsrs } from "./common.ts";
import {
  ALL_ONES,
  ATP_MODE,
  ENVCFG,
  H_EXCEPTIONS,
  HEDELEG_WRITABLE,
  HSTATUS,
  IP,
  M_INTERRUPTS,
  S_INTERRUPTS,
  SD_32,
  STATUS,
  SXL_32,
  VS_INTERRUPTS,
  withSd,
} from "../../hal/csr_fields.ts";
import type { EmulatorProfile } from "./profile.ts";
import { NEEDS_H, NEEDS_SSTC, NEEDS_SSTC_AND_H } from "./profile.ts";
import { FLAG, SLOT } from "./slots.ts";
import type { QemuModel } from "./qemu_model.ts";

/** SSIP|STIP|SEIP|LCOFIP: what mideleg and the mip views can hold (delegable_ints). */
const DELEGABLE_INTS = S_INTERRUPTS | IP.LCOFIP | VS_INTERRUPTS;
/** SGEIP|VS interrupts (HS_MODE_INTERRUPTS). */
const HS_MODE_INTERRUPTS = IP.SGEIP | VS_INTERRUPTS;
/** The menvcfg bits both versions accept whatever the extensions. */
const ENVCFG_BASE = ENVCFG.FIOM | ENVCFG.CBIE | ENVCFG.CBCFE | ENVCFG.CBZE;
/** The menvcfg bits henvcfg may only hold while menvcfg holds them. */
const ENVCFG_GATED = ENVCFG.PBMTE | ENVCFG.STCE | ENVCFG.ADUE;
/** The satp MODE values QEMU accepts on RV64. */
const VALID_ATP_MODES: ReadonlySet<number> = new Set([
  ATP_MODE.bare,
  ATP_MODE.sv39,
  ATP_MODE.sv48,
  ATP_MODE.sv57,
]);
/**
 * Causes QEMU can delegate in every version (delegable_excps): 0–10, 12, 13,
 * 15, 20–23 — the spec's writable hedeleg bits and the H-only causes, plus
 * ecall from HS.
 */
const BASE_DELEGABLE_EXCPS = HEDELEG_WRITABLE | H_EXCEPTIONS |
  exceptionMask("ENVIRONMENT_CALL_FROM_HS");
/**
 * Causes that stay with HS (vs_delegable_excps removes them): ecalls from
 * HS, VS and M, and the guest-page faults and virtual instruction.
 */
const HS_ONLY_EXCPS = exceptionMask(
  "ENVIRONMENT_CALL_FROM_HS",
  "ENVIRONMENT_CALL_FROM_VS",
  "ENVIRONMENT_CALL_FROM_M",
  "INSTRUCTION_GUEST_PAGE_FAULT",
  "LOAD_GUEST_PAGE_FAULT",
  "VIRTUAL_INSTRUCTION",
  "STORE_AMO_GUEST_PAGE_FAULT",
);

/** mstatus bits 7.2 and later expose in sstatus (sstatus_v1_10_mask with SD). */
const SSTATUS_MASK = STATUS.SIE | STATUS.SPIE | STATUS.UIE | STATUS.UPIE | STATUS.SPP | STATUS.FS |
  STATUS.XS | STATUS.SUM | STATUS.MXR | STATUS.VS | STATUS.SD;

/** The VS bits (2, 6, 10) as a vsie/vsip value holds them (1, 5, 9), by lane. */
const VS_AS_VS_BITS: Words = wordsOf(VS_INTERRUPTS >> 1n);
const VS_BITS: Words = wordsOf(VS_INTERRUPTS);

/**
 * Moves the VS bits (1, 5, 9) of a vsie/vsip word up to their hie/hip place.
 * The VS bits are in the low word, so each word moves on its own.
 */
function vsToHs(word: number, lane: Lane): number {
  const vsBits = word & VS_AS_VS_BITS[lane];
  return (word & ~VS_AS_VS_BITS[lane]) | (vsBits << 1);
}

/** Moves hie/hip VS bits down to their vsie/vsip place, one word at a time. */
function hsToVs(word: number, lane: Lane): number {
  const vsBits = word & VS_BITS[lane];
  return (word & ~VS_BITS[lane]) | (vsBits >>> 1);
}

/** A CSR that stores a written value unless `accept` refuses it. */
function storedUnless(slot: number, accept: (value: bigint) => boolean): StoredCsr {
  return new StoredCsr(slot, (hart, value) => {
    if (accept(value)) hart.put(slot, value);
  });
}

const STCE: Words = wordsOf(ENVCFG.STCE);

/** Whether an M-mode writer under Sstc has menvcfg.STCE set (STIP/VSTIP then belong to the timers). */
function stceOwnsTimers(hart: HartContext): boolean {
  return hart.features.sstc && hart.priv === 3 && hart.hasAny(SLOT.menvcfg, STCE);
}

/** A tvec value with a legal mode (0 direct, 1 vectored). */
function validTvec(value: bigint): boolean {
  return (value & 3n) < 2n;
}

/** An atp value with a MODE QEMU accepts. */
function validAtp(value: bigint): boolean {
  return VALID_ATP_MODES.has(Number(value >> 60n));
}

/**
 * Builds a QEMU profile from a version's model: the shared CSR model with
 * that version's behaviours.
 *
 * @example Usage
 * ```ts
 * import { createQemuProfile } from "./qemu_profile.ts";
 * import { QEMU_10_0_MODEL } from "./qemu_10_0_profile.ts";
 * import { HartContext } from "../../hal/csr_hart.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const profile = createQemuProfile(QEMU_10_0_MODEL);
 * const hart = new HartContext(new BigUint64Array(48), 0, 0, profile.extensionsOf({
 *   text: "rv64imafdch",
 *   xlen: 64,
 *   extensions: new Set(["i", "m", "a", "f", "d", "c", "h"]),
 * }));
 * profile.reset(hart);
 * strictEqual(profile.file.access(hart, 0x645, 0n, 0n), 0x80n); // hvip shows MTIP
 * ```
 *
 * @param model The version: name, OpenSBI, default extensions, behaviours.
 * @returns The profile.
 */
export function createQemuProfile(model: QemuModel): EmulatorProfile {
  const b = model.behaviours;
  const file = new CsrFile();

  /** The supervisor interrupts of this version (S_MODE_INTERRUPTS). */
  const sModeInts = S_INTERRUPTS | (b.lcofiInSupervisorViews ? IP.LCOFIP : 0n);
  /** What mie keeps (all_ints). */
  const allInts = M_INTERRUPTS | sModeInts | HS_MODE_INTERRUPTS | b.localInterrupts;
  /** What hideleg keeps (vs_delegable_ints). */
  const vsDelegableInts = VS_INTERRUPTS | b.localInterrupts;
  const delegableExcps = BASE_DELEGABLE_EXCPS |
    (b.medelegMEcall ? exceptionMask("ENVIRONMENT_CALL_FROM_M") : 0n) |
    (b.hedelegSoftwareCheck ? exceptionMask("SOFTWARE_CHECK") : 0n);
  const vsDelegableExcps = delegableExcps & ~HS_ONLY_EXCPS;
  /** What a write through sip may change (sip_writable_mask, delegable bits only). */
  const sipWritable = IP.SSIP | (b.lcofiInSupervisorViews ? IP.LCOFIP : 0n);
  /** What vsip shows of the delegated VS bits. */
  const vsipReadable = b.vsipShowsDelegated ? VS_INTERRUPTS : IP.VSSIP;

  /** An XL field (UXL or SXL) of a written value as stored: RV128 (3) may become RV64 (2). */
  function legalXl(value: bigint, field: bigint): bigint {
    if (!b.statusXlRv128To64 || (value & field) !== field) return value;
    return (value & ~field) | (field & (field << 1n));
  }

  function writeMstatus(hart: HartContext, value: bigint): void {
    let mask = STATUS.SIE | STATUS.SPIE | STATUS.MIE | STATUS.MPIE | STATUS.SPP | STATUS.MPRV |
      STATUS.SUM | STATUS.MXR | STATUS.TVM | STATUS.TSR | STATUS.TW;
    if (!b.mstatusMppLegalized || (value & STATUS.MPP) !== 1n << 12n) mask |= STATUS.MPP;
    if (!b.statusVsNeedsVector || hart.features.v) mask |= STATUS.VS;
    if (hart.features.f) mask |= STATUS.FS;
    if (b.mstatusVirtBitsWritable) mask |= STATUS.MPV | STATUS.GVA;
    // UXL (and SXL where writable) is written only when the new value's field is not zero.
    if ((value & STATUS.UXL) !== 0n) mask |= STATUS.UXL;
    if (b.mstatusSxlWritable && (value & STATUS.SXL) !== 0n) mask |= STATUS.SXL;
    let next = (hart.get(SLOT.mstatus) & ~mask) |
      (legalXl(legalXl(value, STATUS.UXL), STATUS.SXL) & mask);
    if (!b.mstatusSxlWritable) next = (next & ~STATUS.SXL) | (2n << 34n);
    hart.put(SLOT.mstatus, next);
  }

  // The interrupt and delegation registers' rules are bitwise, so they are
  // written per 32-bit lane (LaneCsr), with each mask as its words.
  const delegableInts = wordsOf(DELEGABLE_INTS);
  const hsModeInts = wordsOf(HS_MODE_INTERRUPTS);
  const timerPending = wordsOf(IP.STIP | IP.VSTIP);
  const vstip = wordsOf(IP.VSTIP);
  const stip = wordsOf(IP.STIP);
  const vssip = wordsOf(IP.VSSIP);
  const sgeip = wordsOf(IP.SGEIP);
  const vstimeIrq = wordsOf(FLAG.vstimeIrq);
  const allIntsWords = wordsOf(allInts);
  const vsDelegableIntsWords = wordsOf(vsDelegableInts);
  const vsDelegableExcpsWords = wordsOf(vsDelegableExcps);
  const sModeIntsWords = wordsOf(sModeInts);
  const sieBits = wordsOf(sModeInts | b.localInterrupts);
  const vsieBits = wordsOf(VS_INTERRUPTS | b.localInterrupts);
  const sipWritableWords = wordsOf(sipWritable);
  const vsipReadableWords = wordsOf(vsipReadable);

  /**
   * rmw_mip64: the one store behind mip, sip, hip, hvip and vsip. Returns
   * the old pending bits (with VSTIP from the VS timer unless the caller is
   * hvip).
   */
  function rmwMip(
    hart: HartContext,
    lane: Lane,
    value: number,
    writeMask: number,
    isHvip: boolean,
  ): number {
    let mask = writeMask & delegableInts[lane];
    // Sstc: an M-mode writer with menvcfg.STCE=1 cannot write STIP or VSTIP.
    if (stceOwnsTimers(hart)) mask &= ~timerPending[lane];
    let old = hart.word(SLOT.mip, lane);
    if (mask !== 0) hart.putWord(SLOT.mip, lane, (old & ~mask) | (value & mask));
    if (!isHvip && hart.hasAny(SLOT.flags, vstimeIrq)) old |= vstip[lane];
    return old;
  }

  /** rmw_mie64. */
  function rmwMie(hart: HartContext, lane: Lane, value: number, writeMask: number): number {
    let mask = writeMask & allIntsWords[lane];
    if (!hart.hasH) mask &= b.mieDropsVsWithoutH ? ~hsModeInts[lane] : ~sgeip[lane];
    const old = hart.word(SLOT.mie, lane);
    if (mask !== 0) hart.putWord(SLOT.mie, lane, (old & ~mask) | (value & mask));
    return old;
  }

  // ---- status ------------------------------------------------------------
  file.define(
    CSR.mstatus,
    new FunctionCsr({ read: (hart) => withSd(hart.get(SLOT.mstatus)), write: writeMstatus }),
  );
  file.define(
    CSR.sstatus,
    new FunctionCsr({
      read: (hart) => {
        const mstatus = hart.get(SLOT.mstatus);
        const sstatus = withSd(mstatus) & (SSTATUS_MASK | STATUS.UXL);
        // add_status_sd by SXL: a 32-bit S-mode has SD at bit 31.
        if (!b.sstatusSdFollowsSxl || (mstatus & STATUS.SXL) !== SXL_32) return sstatus;
        return (sstatus & STATUS.SD) === 0n ? sstatus : (sstatus & ~STATUS.SD) | SD_32;
      },
      write: (hart, value) => {
        const mask = (value & STATUS.UXL) !== 0n ? SSTATUS_MASK | STATUS.UXL : SSTATUS_MASK;
        writeMstatus(hart, (hart.get(SLOT.mstatus) & ~mask) | (value & mask));
      },
    }),
  );
  file.define(
    CSR.vsstatus,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.vsstatus),
      // Every other bit is kept, except that UXL=0 in the new value leaves UXL alone.
      write: (hart, value) => {
        let next = legalXl(value, STATUS.UXL) & ~b.vsstatusReadOnlyZero;
        if ((value & STATUS.UXL) === 0n) next |= hart.get(SLOT.vsstatus) & STATUS.UXL;
        hart.put(SLOT.vsstatus, next);
      },
    }),
    NEEDS_H,
  );
  file.define(
    CSR.hstatus,
    new FunctionCsr({
      // Stored unmasked; reads force VSXL=2 (64-bit only) and VSBE=0 (little endian only).
      read: (hart) => (hart.get(SLOT.hstatus) & ~(HSTATUS.VSXL | HSTATUS.VSBE)) | (2n << 32n),
      write: (hart, value) => hart.put(SLOT.hstatus, value & ~b.hstatusReadOnlyZero),
    }),
    NEEDS_H,
  );

  // ---- delegation --------------------------------------------------------
  file.define(CSR.medeleg, new MaskedCsr(SLOT.medeleg, delegableExcps));
  file.define(
    CSR.hedeleg,
    new LaneCsr((hart, lane, value, writeMask) => {
      const old = hart.word(SLOT.hedeleg, lane);
      if (writeMask !== 0) {
        const next = (old & ~writeMask) | (value & writeMask);
        hart.putWord(SLOT.hedeleg, lane, next & vsDelegableExcpsWords[lane]);
      }
      return old;
    }),
    NEEDS_H,
  );
  // rmw_mideleg64 returns the stored value and then forces the HS bits
  // (whether reset already stored them is midelegStaleFirstRead).
  file.define(
    CSR.mideleg,
    new LaneCsr((hart, lane, value, writeMask) => {
      const old = hart.word(SLOT.mideleg, lane);
      const mask = writeMask & delegableInts[lane];
      let next = (old & ~mask) | (value & mask);
      if (hart.hasH) next |= hsModeInts[lane];
      hart.putWord(SLOT.mideleg, lane, next);
      return old;
    }),
  );
  file.define(
    CSR.hideleg,
    new LaneCsr((hart, lane, value, writeMask) => {
      const old = hart.word(SLOT.hideleg, lane);
      const mask = writeMask & vsDelegableIntsWords[lane];
      hart.putWord(SLOT.hideleg, lane, (old & ~mask) | (value & mask));
      return old & vsDelegableIntsWords[lane];
    }),
    NEEDS_H,
  );

  // ---- interrupt enables -------------------------------------------------
  file.define(CSR.mie, new LaneCsr(rmwMie));
  file.define(
    CSR.sie,
    new LaneCsr((hart, lane, value, writeMask) => {
      const mask = hart.word(SLOT.mideleg, lane) & sieBits[lane];
      return rmwMie(hart, lane, value, writeMask & mask) & mask;
    }),
  );
  file.define(
    CSR.hie,
    new LaneCsr((hart, lane, value, writeMask) =>
      rmwMie(hart, lane, value, writeMask & hsModeInts[lane]) & hsModeInts[lane]
    ),
    NEEDS_H,
  );
  file.define(
    CSR.vsie,
    new LaneCsr((hart, lane, value, writeMask) => {
      const mask = hart.word(SLOT.hideleg, lane) & vsieBits[lane];
      const old = rmwMie(hart, lane, vsToHs(value, lane), vsToHs(writeMask, lane) & mask);
      return hsToVs(old & mask, lane);
    }),
    NEEDS_H,
  );

  // ---- interrupt pending: every view goes through rmw_mip64 --------------
  file.define(
    CSR.mip,
    new LaneCsr((hart, lane, value, writeMask) => rmwMip(hart, lane, value, writeMask, false)),
  );
  file.define(
    CSR.sip,
    new LaneCsr((hart, lane, value, writeMask) => {
      const mideleg = hart.word(SLOT.mideleg, lane);
      const old = rmwMip(hart, lane, value, writeMask & mideleg & sipWritableWords[lane], false);
      let visible = mideleg & sModeIntsWords[lane];
      if (b.sipHidesStipUnderStce && stceOwnsTimers(hart)) visible &= ~stip[lane];
      return old & visible;
    }),
  );
  file.define(
    CSR.hip,
    new LaneCsr((hart, lane, value, writeMask) =>
      rmwMip(hart, lane, value, writeMask & vssip[lane], false) & hsModeInts[lane]
    ),
    NEEDS_H,
  );
  file.define(
    CSR.hvip,
    new LaneCsr((hart, lane, value, writeMask) => {
      const old = rmwMip(hart, lane, value, writeMask & VS_BITS[lane], true);
      return b.hvipReadsMip ? old : old & VS_BITS[lane];
    }),
    NEEDS_H,
  );
  // vsip writes only VSSIP (hideleg & VSSIP); what it shows is vsipShowsDelegated.
  file.define(
    CSR.vsip,
    new LaneCsr((hart, lane, value, writeMask) => {
      const hideleg = hart.word(SLOT.hideleg, lane);
      const old = rmwMip(
        hart,
        lane,
        vsToHs(value, lane),
        vsToHs(writeMask, lane) & hideleg & vssip[lane],
        false,
      );
      return hsToVs(old & hideleg & vsipReadableWords[lane], lane);
    }),
    NEEDS_H,
  );
  // GEILEN is 0 on virt without AIA: hgeie keeps nothing and hgeip is zero.
  file.define(CSR.hgeie, new MaskedCsr(SLOT.hgeie, 0n), NEEDS_H);
  file.define(CSR.hgeip, new ConstCsr(0n), NEEDS_H);

  // ---- counters, envcfg ----------------------------------------------------
  file.define(CSR.mcounteren, new MaskedCsr(SLOT.mcounteren, b.counterenMask));
  file.define(CSR.scounteren, new MaskedCsr(SLOT.scounteren, b.counterenMask));
  file.define(CSR.hcounteren, new MaskedCsr(SLOT.hcounteren, b.counterenMask), NEEDS_H);
  file.define(CSR.mcountinhibit, new MaskedCsr(SLOT.mcountinhibit, b.mcountinhibitMask));
  const menvcfgWritable = b.menvcfgFollowsExtensions
    ? (hart: HartContext) =>
      ENVCFG_BASE | ENVCFG.CDE | (hart.features.svpbmt ? ENVCFG.PBMTE : 0n) |
      (hart.features.sstc ? ENVCFG.STCE : 0n) | (hart.has("svadu") ? ENVCFG.ADUE : 0n)
    : () => ENVCFG_BASE | ENVCFG.PBMTE | ENVCFG.STCE;
  file.define(
    CSR.menvcfg,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.menvcfg),
      write: (hart, value) => {
        const mask = menvcfgWritable(hart);
        const next = (hart.get(SLOT.menvcfg) & ~mask) | (value & mask);
        hart.put(SLOT.menvcfg, next);
        // A gated henvcfg bit goes with the menvcfg bit that gates it.
        if (b.henvcfgGatedByMenvcfg) {
          hart.put(SLOT.henvcfg, hart.get(SLOT.henvcfg) & (~ENVCFG_GATED | next));
        }
      },
    }),
  );
  file.define(CSR.senvcfg, new MaskedCsr(SLOT.senvcfg, ENVCFG_BASE));
  file.define(
    CSR.henvcfg,
    b.henvcfgGatedByMenvcfg
      ? new FunctionCsr({
        read: (hart) => hart.get(SLOT.henvcfg) & (~ENVCFG_GATED | hart.get(SLOT.menvcfg)),
        write: (hart, value) => {
          const mask = ENVCFG_BASE | (hart.get(SLOT.menvcfg) & ENVCFG_GATED);
          hart.put(SLOT.henvcfg, (hart.get(SLOT.henvcfg) & ~mask) | (value & mask));
        },
      })
      : new MaskedCsr(SLOT.henvcfg, ENVCFG_BASE | ENVCFG.PBMTE | ENVCFG.STCE),
    NEEDS_H,
  );

  // ---- trap vectors, epc, tval, tinst --------------------------------------
  file.define(CSR.mtvec, storedUnless(SLOT.mtvec, validTvec));
  file.define(CSR.stvec, storedUnless(SLOT.stvec, validTvec));
  file.define(
    CSR.vstvec,
    b.vstvecDropsInvalidMode
      ? storedUnless(SLOT.vstvec, validTvec)
      : new MaskedCsr(SLOT.vstvec, ALL_ONES),
    NEEDS_H,
  );
  file.define(CSR.mepc, new MaskedCsr(SLOT.mepc, ALL_ONES));
  file.define(CSR.sepc, new MaskedCsr(SLOT.sepc, ALL_ONES));
  file.define(CSR.vsepc, new MaskedCsr(SLOT.vsepc, ALL_ONES), NEEDS_H);
  file.define(CSR.htval, new MaskedCsr(SLOT.htval, ALL_ONES), NEEDS_H);
  // QEMU gates mtval2 and mtinst on H (predicate hmode), unlike the spec.
  file.define(CSR.mtval2, new MaskedCsr(SLOT.mtval2, ALL_ONES), NEEDS_H);
  file.define(CSR.mtinst, new MaskedCsr(SLOT.mtinst, ALL_ONES), NEEDS_H);
  // htinst ignores writes: it only shows what a trap wrote (0 after reset).
  file.define(CSR.htinst, new MaskedCsr(SLOT.htinst, 0n), NEEDS_H);

  // ---- address translation ------------------------------------------------
  file.define(CSR.satp, storedUnless(SLOT.satp, validAtp));
  for (const [csr, slot] of [[CSR.vsatp, SLOT.vsatp], [CSR.hgatp, SLOT.hgatp]] as const) {
    file.define(
      csr,
      b.atpDropsInvalidMode ? storedUnless(slot, validAtp) : new MaskedCsr(slot, ALL_ONES),
      NEEDS_H,
    );
  }

  // ---- Sstc timers (time is 0 while QEMU is held at -S) -------------------
  file.define(
    CSR.stimecmp,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.stimecmp),
      write: (hart, value) => {
        hart.put(SLOT.stimecmp, value);
        const mip = hart.get(SLOT.mip);
        hart.put(SLOT.mip, value <= 0n ? mip | IP.STIP : mip & ~IP.STIP);
      },
    }),
    NEEDS_SSTC,
  );
  /**
   * riscv_timer_write_timecmp for the VS timer: a compare in the past (time
   * is 0, plus htimedelta) raises vstime_irq and leaves the stored mip alone;
   * one in the future clears vstime_irq (and, where
   * vstimecmpClearsStoredVstip, the VSTIP stored through hvip or mip).
   */
  function armVsTimer(hart: HartContext): void {
    const fires = hart.get(SLOT.vstimecmp) <= hart.get(SLOT.htimedelta);
    const flags = hart.get(SLOT.flags);
    hart.put(SLOT.flags, fires ? flags | FLAG.vstimeIrq : flags & ~FLAG.vstimeIrq);
    if (!fires && b.vstimecmpClearsStoredVstip) {
      hart.put(SLOT.mip, hart.get(SLOT.mip) & ~IP.VSTIP);
    }
  }
  file.define(
    CSR.vstimecmp,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.vstimecmp),
      write: (hart, value) => {
        hart.put(SLOT.vstimecmp, value);
        armVsTimer(hart);
      },
    }),
    b.vstimecmpNeedsH ? NEEDS_SSTC_AND_H : NEEDS_SSTC,
  );
  file.define(
    CSR.htimedelta,
    b.htimedeltaRearmsVsTimer
      ? new FunctionCsr({
        read: (hart) => hart.get(SLOT.htimedelta),
        write: (hart, value) => {
          hart.put(SLOT.htimedelta, value);
          if (hart.features.sstc) armVsTimer(hart);
        },
      })
      : new MaskedCsr(SLOT.htimedelta, ALL_ONES),
    NEEDS_H,
  );

  definePlainStorage(file);
  defineIdentity(file);

  const notModelled: Map<CsrNum, string> = unmodelledCsrs();
  for (const csr of [CSR.mvendorid, CSR.marchid, CSR.mimpid]) {
    notModelled.set(csr, "the identity values depend on the QEMU build");
  }

  const defaultOn = model.defaultOn;
  return {
    name: model.name,
    describe: `what QEMU ${model.version} (-M virt -cpu rv64) reads back from M-mode, ` +
      "quirks included",
    opensbi: model.opensbi,
    file,
    notModelled,
    knownExtensions: model.knownExtensions,
    params: {
      geilen: 0,
      hcounterenBits: b.counterenMask === ALL_ONES ? 64 : 64 - clz64(b.counterenMask),
      defaultOn,
    },
    extensionsOf(isa: IsaSpec): Set<string> {
      return new Set([...isa.extensions, ...defaultOn, "s", "u"]);
    },
    reset(hart: HartContext): void {
      hart.put(SLOT.mstatus, (2n << 34n) | (2n << 32n));
      if (hart.hasH) {
        hart.put(SLOT.vsstatus, (2n << 34n) | (2n << 32n));
        hart.put(SLOT.hstatus, 2n << 32n);
        // From QEMU 8, reset stores the HS bits, so even the first read shows them.
        if (!b.midelegStaleFirstRead) hart.put(SLOT.mideleg, HS_MODE_INTERRUPTS);
      }
      if (b.menvcfgFollowsExtensions) {
        const svadu = hart.has("svadu") ? ENVCFG.ADUE : 0n;
        hart.put(SLOT.menvcfg, svadu | (hart.features.svpbmt ? ENVCFG.PBMTE : 0n));
      }
      hart.put(SLOT.mip, IP.MTIP);
      hart.put(SLOT.mtimecmp, 0n);
    },
  };
}

/** Leading zero bits of a 64-bit value. */
function clz64(value: bigint): number {
  let n = 0;
  for (let bit = 63n; bit >= 0n && ((value >> bit) & 1n) === 0n; bit--) n++;
  return n;
}

/**
 * The `qemu-7.2` profile: exactly what `qemu-system-riscv64 -M virt -cpu rv64`
 * of QEMU 7.2 reads back when its CSRs are accessed from M-mode (the
 * debugger's view of a hart held at `-S`), quirks included.
 *
 * Each CSR follows 7.2's `target/riscv/csr.c`. Functions QEMU implements as
 * read-modify-write (`rmw_mip64`, `rmw_mie64`, `rmw_mideleg64`, …) are
 * modelled as such, so `csrrs`/`csrrc` behave as on QEMU, not as a read
 * followed by a full write. The quirks, each one line where it is enforced:
 * hcounteren/scounteren/mcounteren, hgatp, vsatp, vstvec and htval keep every
 * bit; hstatus reads force VSXL=2 and VSBE=0; mideleg returns its stale value
 * and then forces 0x1444 on every access; sie is mie masked by mideleg; hvip,
 * hip, sip, vsip and mip are views of one pending store; vsip reads only
 * SSIP; htinst ignores writes; satp/stvec/mtvec drop writes with an invalid
 * mode; mstatus/sstatus/vsstatus keep UXL when written with UXL=0; an M-mode
 * writer with menvcfg.STCE=1 cannot change STIP/VSTIP through mip or hvip;
 * time reads 0 (the machine never runs), so a stimecmp/vstimecmp write at or
 * below 0 (+ htimedelta) raises the timer, and a vstimecmp write in the
 * future also clears a VSTIP stored through hvip or mip; without H, mtval2 and
 * mtinst trap (7.2 gates them on H) while vstimecmp still works (its only
 * predicate is Sstc).
 *
 * Source: riscv-facts.md §4 and qemu-bridge.md §4.5 (verified on 7.2.22), and
 * `tests/differential/qemu72_test.ts`, which checks this profile against a
 * real QEMU 7.2 bit for bit.
 *
 * @module
 */

import {
  ALL_ONES,
  ConstCsr,
  CsrFile,
  FunctionCsr,
  type HartContext,
  MaskedCsr,
} from "../../hal/csr_blocks.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import type { IsaSpec } from "../../hal/isa.ts";
import { causeMask } from "../../hal/trap_bits.ts";
import { defineIdentity, definePlainStorage, unmodelledCsrs } from "./common.ts";
import {
  ATP_MODE,
  ENVCFG,
  HSTATUS,
  IP,
  M_INTERRUPTS,
  STATUS,
  VS_INTERRUPTS,
  withSd,
} from "./fields.ts";
import type { EmulatorProfile } from "./profile.ts";
import { needsH, needsSstc } from "./profile.ts";
import { FLAG, SLOT } from "./slots.ts";

/** SSIP|STIP|SEIP|LCOFIP (7.2's S_MODE_INTERRUPTS). */
const S_MODE_INTERRUPTS = IP.SSIP | IP.STIP | IP.SEIP | IP.LCOFIP;
/** SGEIP|VS interrupts (7.2's HS_MODE_INTERRUPTS). */
const HS_MODE_INTERRUPTS = IP.SGEIP | VS_INTERRUPTS;
/** S|VS (7.2's delegable_ints). */
const DELEGABLE_INTS = S_MODE_INTERRUPTS | VS_INTERRUPTS;
/** M|S|HS (7.2's all_ints). */
const ALL_INTS = M_INTERRUPTS | S_MODE_INTERRUPTS | HS_MODE_INTERRUPTS;
/** 7.2's DELEGABLE_EXCPS: causes 0–13, 15, 20–23 (bit 11 included, unlike the spec). */
const DELEGABLE_EXCPS = causeMask([
  0,
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  12,
  13,
  15,
  20,
  21,
  22,
  23,
]);
/** 7.2's vs_delegable_excps: DELEGABLE_EXCPS without 9, 10, 11, 20–23. */
const VS_DELEGABLE_EXCPS = DELEGABLE_EXCPS & ~causeMask([9, 10, 11, 20, 21, 22, 23]);
/** sip_writable_mask: SSIP|USIP|UEIP|LCOFIP. */
const SIP_WRITABLE = IP.SSIP | 1n | (1n << 8n) | IP.LCOFIP;
/** mstatus bits 7.2's sstatus exposes (sstatus_v1_10_mask, UXL added on RV64). */
const SSTATUS_MASK = STATUS.SIE | STATUS.SPIE | STATUS.UIE | STATUS.UPIE | STATUS.SPP | STATUS.FS |
  STATUS.XS | STATUS.SUM | STATUS.MXR | STATUS.VS | STATUS.SD;
/** henvcfg/menvcfg write mask on RV64. */
const ENVCFG_RV64 = ENVCFG.FIOM | ENVCFG.CBIE | ENVCFG.CBCFE | ENVCFG.CBZE | ENVCFG.PBMTE |
  ENVCFG.STCE;
/** satp modes 7.2 accepts on RV64. */
const VALID_SATP_MODES: ReadonlySet<number> = new Set([
  ATP_MODE.bare,
  ATP_MODE.sv39,
  ATP_MODE.sv48,
  ATP_MODE.sv57,
]);

/** Multi-letter extensions QEMU 7.2 turns on by default for `-cpu rv64`. */
const DEFAULT_ON: readonly string[] = ["sstc", "zicsr", "zifencei", "zicntr"];
/** Multi-letter extensions the qemu-7.2 profile models (or that have no CSR effect). */
export const QEMU_7_2_KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  ...DEFAULT_ON,
  "sscofpmf",
  "svpbmt",
  "zicbom",
  "zicboz",
  "zihpm",
  "zba",
  "zbb",
  "zbc",
  "zbs",
]);

/** 7.2's write_mstatus. */
function writeMstatus(hart: HartContext, value: bigint): void {
  let mask = STATUS.SIE | STATUS.SPIE | STATUS.MIE | STATUS.MPIE | STATUS.SPP | STATUS.MPRV |
    STATUS.SUM | STATUS.MPP | STATUS.MXR | STATUS.TVM | STATUS.TSR | STATUS.TW | STATUS.VS;
  if (hart.features.f) mask |= STATUS.FS;
  mask |= STATUS.MPV | STATUS.GVA;
  // UXL is written only when the new value's UXL is not zero (the UXL quirk).
  if ((value & STATUS.UXL) !== 0n) mask |= STATUS.UXL;
  let next = (hart.get(SLOT.mstatus) & ~mask) | (value & mask);
  next = (next & ~STATUS.SXL) | (2n << 34n);
  hart.put(SLOT.mstatus, next);
}

/**
 * 7.2's rmw_mip64: the one store behind mip, sip, hip, hvip and vsip.
 * Returns the old pending bits (with VSTIP from the VS timer unless the
 * caller is hvip).
 */
function rmwMip(hart: HartContext, value: bigint, writeMask: bigint, isHvip: boolean): bigint {
  let mask = writeMask & DELEGABLE_INTS;
  // Sstc: an M-mode writer with menvcfg.STCE=1 cannot write STIP or VSTIP.
  if (hart.features.sstc && hart.priv === 3 && (hart.get(SLOT.menvcfg) & ENVCFG.STCE) !== 0n) {
    mask &= ~(IP.STIP | IP.VSTIP);
  }
  let old = hart.get(SLOT.mip);
  if (mask !== 0n) hart.put(SLOT.mip, (old & ~mask) | (value & mask));
  if (!isHvip && (hart.get(SLOT.flags) & FLAG.vstimeIrq) !== 0n) old |= IP.VSTIP;
  return old;
}

/** 7.2's rmw_mie64. */
function rmwMie(hart: HartContext, value: bigint, writeMask: bigint): bigint {
  let mask = writeMask & ALL_INTS;
  if (!hart.hasH) mask &= ~IP.SGEIP;
  const old = hart.get(SLOT.mie);
  if (mask !== 0n) hart.put(SLOT.mie, (old & ~mask) | (value & mask));
  return old;
}

/** Moves the VS bits (2, 6, 10) of a vsie/vsip value up to their hie/hip place. */
function vsToHs(value: bigint): bigint {
  const vsBits = value & (VS_INTERRUPTS >> 1n);
  return (value & ~(VS_INTERRUPTS >> 1n)) | (vsBits << 1n);
}

/** Moves hie/hip VS bits down to their vsie/vsip place. */
function hsToVs(value: bigint): bigint {
  const vsBits = value & VS_INTERRUPTS;
  return (value & ~VS_INTERRUPTS) | (vsBits >> 1n);
}

/** A read-modify-write CSR: its `read` is an rmw with an empty mask. */
function rmwCsr(rmw: (hart: HartContext, value: bigint, mask: bigint) => bigint): FunctionCsr {
  return new FunctionCsr({ read: (hart) => rmw(hart, 0n, 0n), rmw });
}

/** A 7.2 write function that stores the value unless `accept` refuses it. */
function storedUnless(slot: number, accept: (value: bigint) => boolean): FunctionCsr {
  return new FunctionCsr({
    read: (hart) => hart.get(slot),
    write: (hart, value) => {
      if (accept(value)) hart.put(slot, value);
    },
  });
}

/**
 * Builds the `qemu-7.2` profile.
 *
 * @returns The profile.
 */
export function createQemu72Profile(): EmulatorProfile {
  const file = new CsrFile();

  // ---- status ------------------------------------------------------------
  file.define(
    CSR.mstatus,
    new FunctionCsr({ read: (hart) => withSd(hart.get(SLOT.mstatus)), write: writeMstatus }),
  );
  file.define(
    CSR.sstatus,
    new FunctionCsr({
      read: (hart) => withSd(hart.get(SLOT.mstatus)) & (SSTATUS_MASK | STATUS.UXL),
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
      // Every bit is kept, except that UXL=0 in the new value leaves UXL alone.
      write: (hart, value) => {
        const keep = (value & STATUS.UXL) === 0n ? hart.get(SLOT.vsstatus) & STATUS.UXL : 0n;
        hart.put(SLOT.vsstatus, value | keep);
      },
    }),
    needsH,
  );
  file.define(
    CSR.hstatus,
    new FunctionCsr({
      // Stored unmasked; reads force VSXL=2 (64-bit only) and VSBE=0 (little endian only).
      read: (hart) => (hart.get(SLOT.hstatus) & ~(HSTATUS.VSXL | HSTATUS.VSBE)) | (2n << 32n),
      write: (hart, value) => hart.put(SLOT.hstatus, value),
    }),
    needsH,
  );

  // ---- delegation --------------------------------------------------------
  file.define(CSR.medeleg, new MaskedCsr(SLOT.medeleg, DELEGABLE_EXCPS));
  file.define(
    CSR.hedeleg,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.hedeleg),
      write: (hart, value) => hart.put(SLOT.hedeleg, value & VS_DELEGABLE_EXCPS),
    }),
    needsH,
  );
  // rmw_mideleg64 returns the stored value first and only then forces the
  // HS bits: the first access after reset reads a stale 0.
  file.define(
    CSR.mideleg,
    rmwCsr((hart, value, writeMask) => {
      const old = hart.get(SLOT.mideleg);
      const mask = writeMask & DELEGABLE_INTS;
      let next = (old & ~mask) | (value & mask);
      if (hart.hasH) next |= HS_MODE_INTERRUPTS;
      hart.put(SLOT.mideleg, next);
      return old;
    }),
  );
  file.define(
    CSR.hideleg,
    rmwCsr((hart, value, writeMask) => {
      const old = hart.get(SLOT.hideleg);
      const mask = writeMask & VS_INTERRUPTS;
      hart.put(SLOT.hideleg, (old & ~mask) | (value & mask));
      return old & VS_INTERRUPTS;
    }),
    needsH,
  );

  // ---- interrupt enables -------------------------------------------------
  file.define(CSR.mie, rmwCsr(rmwMie));
  file.define(
    CSR.sie,
    rmwCsr((hart, value, writeMask) => {
      const mask = hart.get(SLOT.mideleg) & S_MODE_INTERRUPTS;
      return rmwMie(hart, value, writeMask & mask) & mask;
    }),
  );
  file.define(
    CSR.hie,
    rmwCsr((hart, value, writeMask) =>
      rmwMie(hart, value, writeMask & HS_MODE_INTERRUPTS) & HS_MODE_INTERRUPTS
    ),
    needsH,
  );
  file.define(
    CSR.vsie,
    rmwCsr((hart, value, writeMask) => {
      const mask = hart.get(SLOT.hideleg) & VS_INTERRUPTS;
      const old = rmwMie(hart, vsToHs(value), vsToHs(writeMask) & mask);
      return hsToVs(old & mask);
    }),
    needsH,
  );

  // ---- interrupt pending: every view goes through rmw_mip64 --------------
  file.define(CSR.mip, rmwCsr((hart, value, writeMask) => rmwMip(hart, value, writeMask, false)));
  file.define(
    CSR.sip,
    rmwCsr((hart, value, writeMask) => {
      const mideleg = hart.get(SLOT.mideleg);
      const old = rmwMip(hart, value, writeMask & mideleg & SIP_WRITABLE, false);
      return old & mideleg & S_MODE_INTERRUPTS;
    }),
  );
  file.define(
    CSR.hip,
    rmwCsr((hart, value, writeMask) =>
      rmwMip(hart, value, writeMask & IP.VSSIP, false) & HS_MODE_INTERRUPTS
    ),
    needsH,
  );
  file.define(
    CSR.hvip,
    rmwCsr((hart, value, writeMask) =>
      rmwMip(hart, value, writeMask & VS_INTERRUPTS, true) & VS_INTERRUPTS
    ),
    needsH,
  );
  // vsip's write and read masks are both hideleg & VSSIP, so only SSIP is ever visible.
  file.define(
    CSR.vsip,
    rmwCsr((hart, value, writeMask) => {
      const mask = hart.get(SLOT.hideleg) & IP.VSSIP;
      const old = rmwMip(hart, vsToHs(value), vsToHs(writeMask) & mask, false);
      return hsToVs(old & mask);
    }),
    needsH,
  );
  // GEILEN is 0 on virt without AIA: hgeie keeps nothing and hgeip is zero.
  file.define(CSR.hgeie, new MaskedCsr(SLOT.hgeie, 0n), needsH);
  file.define(CSR.hgeip, new ConstCsr(0n), needsH);

  // ---- counters, envcfg: counteren keep all 64 bits ------------------------
  file.define(CSR.mcounteren, new MaskedCsr(SLOT.mcounteren, ALL_ONES));
  file.define(CSR.scounteren, new MaskedCsr(SLOT.scounteren, ALL_ONES));
  file.define(CSR.hcounteren, new MaskedCsr(SLOT.hcounteren, ALL_ONES), needsH);
  file.define(CSR.mcountinhibit, new MaskedCsr(SLOT.mcountinhibit, ALL_ONES));
  file.define(CSR.menvcfg, new MaskedCsr(SLOT.menvcfg, ENVCFG_RV64));
  file.define(
    CSR.senvcfg,
    new MaskedCsr(SLOT.senvcfg, ENVCFG.FIOM | ENVCFG.CBIE | ENVCFG.CBCFE | ENVCFG.CBZE),
  );
  // 7.2 does not gate henvcfg on menvcfg.
  file.define(CSR.henvcfg, new MaskedCsr(SLOT.henvcfg, ENVCFG_RV64), needsH);

  // ---- trap vectors, epc, tval, tinst: stored unmasked ---------------------
  const validTvec = (value: bigint) => (value & 3n) < 2n;
  file.define(CSR.mtvec, storedUnless(SLOT.mtvec, validTvec));
  file.define(CSR.stvec, storedUnless(SLOT.stvec, validTvec));
  file.define(CSR.vstvec, new MaskedCsr(SLOT.vstvec, ALL_ONES), needsH);
  file.define(CSR.mepc, new MaskedCsr(SLOT.mepc, ALL_ONES));
  file.define(CSR.sepc, new MaskedCsr(SLOT.sepc, ALL_ONES));
  file.define(CSR.vsepc, new MaskedCsr(SLOT.vsepc, ALL_ONES), needsH);
  file.define(CSR.htval, new MaskedCsr(SLOT.htval, ALL_ONES), needsH);
  // 7.2 gates mtval2 and mtinst on H (predicate hmode), unlike the spec.
  file.define(CSR.mtval2, new MaskedCsr(SLOT.mtval2, ALL_ONES), needsH);
  file.define(CSR.mtinst, new MaskedCsr(SLOT.mtinst, ALL_ONES), needsH);
  // htinst ignores writes: it only shows what a trap wrote (0 after reset).
  file.define(CSR.htinst, new MaskedCsr(SLOT.htinst, 0n), needsH);

  // ---- address translation ------------------------------------------------
  file.define(
    CSR.satp,
    storedUnless(SLOT.satp, (value) => VALID_SATP_MODES.has(Number(value >> 60n))),
  );
  file.define(CSR.vsatp, new MaskedCsr(SLOT.vsatp, ALL_ONES), needsH);
  file.define(CSR.hgatp, new MaskedCsr(SLOT.hgatp, ALL_ONES), needsH);

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
    needsSstc,
  );
  file.define(
    CSR.vstimecmp,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.vstimecmp),
      // 7.2's riscv_timer_write_timecmp: a compare in the past raises vstime_irq
      // and leaves the stored mip alone (riscv_cpu_update_mip drops a VSTIP-only
      // mask while vstime_irq is set); one in the future clears vstime_irq and
      // also the stored VSTIP, so a VSTIP written through hvip or mip is lost.
      write: (hart, value) => {
        hart.put(SLOT.vstimecmp, value);
        const fires = value <= hart.get(SLOT.htimedelta);
        const flags = hart.get(SLOT.flags);
        hart.put(SLOT.flags, fires ? flags | FLAG.vstimeIrq : flags & ~FLAG.vstimeIrq);
        if (!fires) hart.put(SLOT.mip, hart.get(SLOT.mip) & ~IP.VSTIP);
      },
    }),
    // 7.2's predicate for vstimecmp is sstc alone: it exists without H.
    needsSstc,
  );
  file.define(CSR.htimedelta, new MaskedCsr(SLOT.htimedelta, ALL_ONES), needsH);

  definePlainStorage(file);
  defineIdentity(file);

  const notModelled = unmodelledCsrs();
  for (const csr of [CSR.mvendorid, CSR.marchid, CSR.mimpid]) {
    notModelled.set(csr, "the identity values depend on the QEMU build");
  }

  return {
    name: "qemu-7.2",
    describe: "what QEMU 7.2 (-M virt -cpu rv64) reads back from M-mode, quirks included",
    opensbi: "opensbi-1.1",
    file,
    notModelled,
    knownExtensions: QEMU_7_2_KNOWN_EXTENSIONS,
    params: { geilen: 0, hcounterenBits: 64, defaultOn: DEFAULT_ON },
    extensionsOf(isa: IsaSpec): Set<string> {
      return new Set([...isa.extensions, ...DEFAULT_ON, "s", "u"]);
    },
    reset(hart: HartContext): void {
      hart.put(SLOT.mstatus, (2n << 34n) | (2n << 32n));
      if (hart.hasH) {
        hart.put(SLOT.vsstatus, (2n << 34n) | (2n << 32n));
        hart.put(SLOT.hstatus, 2n << 32n);
      }
      hart.put(SLOT.mip, IP.MTIP);
      hart.put(SLOT.mtimecmp, 0n);
    },
  };
}

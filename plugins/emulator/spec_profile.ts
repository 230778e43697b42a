/**
 * The `spec` profile: a hart that implements the RISC-V privileged spec 1.12
 * with the H extension faithfully, every WARL choice made once and written
 * down here.
 *
 * Choices (each one a legal implementation of the spec):
 * - GEILEN (guest external interrupts), VMIDLEN and the stage-2 translation
 *   modes are parameters; defaults GEILEN 0, VMIDLEN 14, Sv39x4 and Sv48x4.
 * - hedeleg bit 0 (instruction address misaligned) is writable: the spec
 *   leaves it to the implementation when IALIGN is 16, and the reference
 *   set-up delegates it.
 * - hcounteren, scounteren and mcounteren are 32-bit with every counter bit
 *   writable; mcountinhibit bit 1 (TM) is read-only zero.
 * - htinst and mtinst are read-only zero (the hart never reports
 *   transformed instructions); htval and mtval2 hold a guest physical
 *   address shifted right by 2, so as many bits as the widest mode needs.
 * - hgatp: an unsupported MODE keeps the old MODE; VMID bits above VMIDLEN
 *   and PPN[1:0] read as zero. satp/vsatp: a write with an unsupported MODE
 *   is ignored whole.
 * - xtvec: mode 2 and 3 are legalized by clearing bit 1 (as Spike does);
 *   MPP = 2 (reserved) becomes U.
 * - Without Sstc, menvcfg/henvcfg STCE are read-only zero and there are no
 *   stimecmp/vstimecmp; without Sscofpmf, LCOFI bits are read-only zero.
 * - mvendorid, marchid and mimpid read 0 (not implemented, as the spec allows).
 *
 * @module
 */

import {
  bigintOfLanes,
  extensionMask,
  type HartContext,
  type Lane,
  slotMask,
  wordsOf,
} from "../../hal/csr_hart.ts";
import { ConstCsr, FunctionCsr, MaskedCsr, StoredCsr, ViewCsr } from "../../hal/csr_blocks.ts";
import { CsrFile } from "../../hal/csr_file.ts";
import { ALL_ONES, H_EXCEPTIONS, HEDELEG_WRITABLE } from "../../hal/csr_fields.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import { exceptionMask } from "../../hal/trap_bits.ts";
import type { IsaSpec } from "../../hal/isa.ts";
import { defineIdentity, definePlainStorage, unmodelledCsrs } from "./common.ts";
import {
  ATP,
  ATP_MODE,
  ENVCFG,
  HSTATUS,
  IP,
  M_INTERRUPTS,
  S_INTERRUPTS,
  STATUS,
  SXL_64,
  UXL_64,
  VS_INTERRUPTS,
  VSXL_64,
  withSd,
} from "../../hal/csr_fields.ts";
import type { EmulatorProfile } from "./profile.ts";
import { NEEDS_H, NEEDS_SSTC, NEEDS_SSTC_AND_H } from "./profile.ts";
import { SLOT } from "./slots.ts";

/**
 * The stage-2 (guest physical) translation modes a `spec` hart may support.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { type GuestTranslationMode } from "./spec_profile.ts";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const modes: GuestTranslationMode[] = ["sv39x4"];
 * const hal = await createEmulatorHal({ spec: { hgatpModes: modes } });
 * await hal.csr.write(0, CSR.hgatp, 9n << 60n); // Sv48x4: not supported here
 * strictEqual(await hal.csr.read(0, CSR.hgatp) >> 60n, 0n);
 * await hal.close();
 * ```
 */
export type GuestTranslationMode = SpecParams["hgatpModes"][number];

/**
 * The parameters of the `spec` profile.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal, type SpecParams } from "@rvhv/percpu/emulator";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const spec: SpecParams = { geilen: 3, vmidlen: 7, hgatpModes: ["sv39x4", "sv48x4"] };
 * const hal = await createEmulatorHal({ spec });
 * await hal.csr.write(0, CSR.hgeie, (1n << 64n) - 1n);
 * strictEqual(await hal.csr.read(0, CSR.hgeie), 0b1110n);
 * await hal.close();
 * ```
 */
export interface SpecParams {
  /** Guest external interrupt lines (hgeie/hgeip bits GEILEN:1); 0 to 63. */
  geilen: number;
  /** Implemented VMID bits in hgatp; 0 to 14. */
  vmidlen: number;
  /** Supported hgatp modes besides Bare; satp supports the matching Sv modes. */
  hgatpModes: readonly ("sv39x4" | "sv48x4" | "sv57x4")[];
}

/**
 * The defaults of {@linkcode SpecParams}.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { DEFAULT_SPEC_PARAMS } from "./spec_profile.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * strictEqual((hal.info().params as { geilen: number }).geilen, DEFAULT_SPEC_PARAMS.geilen);
 * await hal.close();
 * ```
 */
export const DEFAULT_SPEC_PARAMS: Readonly<SpecParams> = Object.freeze({
  geilen: 0,
  vmidlen: 14,
  hgatpModes: Object.freeze(["sv39x4", "sv48x4"] as const),
});

const GUEST_MODE_NUMBER: Readonly<Record<GuestTranslationMode, number>> = {
  sv39x4: ATP_MODE.sv39,
  sv48x4: ATP_MODE.sv48,
  sv57x4: ATP_MODE.sv57,
};
/** Guest physical address bits per mode (Sv39x4: 41, Sv48x4: 50, Sv57x4: 59). */
const GUEST_ADDRESS_BITS: Readonly<Record<GuestTranslationMode, number>> = {
  sv39x4: 41,
  sv48x4: 50,
  sv57x4: 59,
};

/** Multi-letter extensions whose CSR effects the spec profile models (or that have none). */
export const SPEC_KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  "sstc",
  "sscofpmf",
  "svpbmt",
  "zicbom",
  "zicboz",
  "zicsr",
  "zifencei",
  "zicntr",
  "zihpm",
  "zba",
  "zbb",
  "zbc",
  "zbs",
]);

/** medeleg: everything but ecall from M (RO0) and the reserved causes. */
const MEDELEG_WRITABLE: bigint = HEDELEG_WRITABLE | exceptionMask("ENVIRONMENT_CALL_FROM_HS");

const COUNTEREN_WRITABLE = 0xffff_ffffn;
/** mcountinhibit bit 1 (TM) does not exist. */
const MCOUNTINHIBIT_WRITABLE = 0xffff_fffdn;

function lcof(hart: HartContext): bigint {
  return hart.features.sscofpmf ? IP.LCOFIP : 0n;
}

/** The tvec legalization Spike uses: modes 2 and 3 lose bit 1. */
function legalTvec(value: bigint): bigint {
  return value & ~2n;
}

/**
 * Builds the `spec` profile.
 *
 * @param params GEILEN, VMIDLEN and the hgatp modes.
 * @returns The profile.
 */
export function createSpecProfile(params: SpecParams = DEFAULT_SPEC_PARAMS): EmulatorProfile {
  const { geilen, vmidlen } = params;
  const sgei = geilen > 0 ? IP.SGEIP : 0n;
  const hgeieWritable = ((1n << BigInt(geilen)) - 1n) << 1n;
  const hgatpModes = new Set<number>([
    ATP_MODE.bare,
    ...params.hgatpModes.map((m) => GUEST_MODE_NUMBER[m]),
  ]);
  const gpaBits = Math.max(0, ...params.hgatpModes.map((m) => GUEST_ADDRESS_BITS[m]));
  const guestAddressMask = gpaBits > 2 ? (1n << BigInt(gpaBits - 2)) - 1n : 0n;
  const hgatpFieldMask = (((1n << BigInt(vmidlen)) - 1n) << 44n) | (ATP.PPN & ~3n);
  const file = new CsrFile();

  // ---- status ------------------------------------------------------------
  function mstatusWritable(hart: HartContext): bigint {
    let mask = STATUS.SIE | STATUS.MIE | STATUS.SPIE | STATUS.MPIE | STATUS.SPP | STATUS.MPP |
      STATUS.MPRV | STATUS.SUM | STATUS.MXR | STATUS.TVM | STATUS.TW | STATUS.TSR;
    if (hart.features.f) mask |= STATUS.FS;
    if (hart.features.v) mask |= STATUS.VS;
    if (hart.hasH) mask |= STATUS.MPV | STATUS.GVA;
    return mask;
  }
  function readMstatus(hart: HartContext): bigint {
    return withSd(hart.get(SLOT.mstatus));
  }
  function writeMstatus(hart: HartContext, value: bigint): void {
    const mask = mstatusWritable(hart);
    let next = (hart.get(SLOT.mstatus) & ~mask) | (value & mask);
    // MPP = 2 is reserved: WARL maps it to U.
    if ((next & STATUS.MPP) === 2n << 11n) next &= ~STATUS.MPP;
    hart.put(SLOT.mstatus, next);
  }
  file.define(CSR.mstatus, new FunctionCsr({ read: readMstatus, write: writeMstatus }));

  const SSTATUS_VIEW = STATUS.SIE | STATUS.SPIE | STATUS.UBE | STATUS.SPP | STATUS.VS | STATUS.FS |
    STATUS.XS | STATUS.SUM | STATUS.MXR | STATUS.UXL | STATUS.SD;
  file.define(
    CSR.sstatus,
    new FunctionCsr({
      read: (hart) => readMstatus(hart) & SSTATUS_VIEW,
      write: (hart, value) => {
        const stored = hart.get(SLOT.mstatus);
        writeMstatus(hart, (stored & ~SSTATUS_VIEW) | (value & SSTATUS_VIEW));
      },
    }),
  );

  function vsstatusWritable(hart: HartContext): bigint {
    let mask = STATUS.SIE | STATUS.SPIE | STATUS.SPP | STATUS.SUM | STATUS.MXR;
    if (hart.features.f) mask |= STATUS.FS;
    if (hart.features.v) mask |= STATUS.VS;
    return mask;
  }
  file.define(
    CSR.vsstatus,
    new FunctionCsr({
      read: (hart) => withSd(hart.get(SLOT.vsstatus)),
      write: (hart, value) => {
        const mask = vsstatusWritable(hart);
        hart.put(SLOT.vsstatus, (hart.get(SLOT.vsstatus) & ~mask) | (value & mask));
      },
    }),
    NEEDS_H,
  );

  const HSTATUS_WRITABLE = HSTATUS.GVA | HSTATUS.SPV | HSTATUS.SPVP | HSTATUS.HU | HSTATUS.VTVM |
    HSTATUS.VTW | HSTATUS.VTSR;
  file.define(
    CSR.hstatus,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.hstatus),
      write: (hart, value) => {
        const old = hart.get(SLOT.hstatus);
        let next = (old & ~HSTATUS_WRITABLE) | (value & HSTATUS_WRITABLE);
        // VGEIN is WLRL 0..GEILEN: an out-of-range value keeps the old one.
        const vgein = (value & HSTATUS.VGEIN) >> 12n;
        next = (next & ~HSTATUS.VGEIN) |
          (vgein <= BigInt(geilen) ? vgein << 12n : old & HSTATUS.VGEIN);
        hart.put(SLOT.hstatus, next);
      },
    }),
    NEEDS_H,
  );

  // ---- delegation --------------------------------------------------------
  file.define(
    CSR.medeleg,
    new MaskedCsr(
      SLOT.medeleg,
      extensionMask((hart) => hart.hasH ? MEDELEG_WRITABLE | H_EXCEPTIONS : MEDELEG_WRITABLE),
    ),
  );
  file.define(CSR.hedeleg, new MaskedCsr(SLOT.hedeleg, HEDELEG_WRITABLE), NEEDS_H);

  /** What H delegates to VS for good: the VS interrupts (and SGEI). */
  const hsDelegated = VS_INTERRUPTS | sgei;
  const hsDelegatedWords = wordsOf(hsDelegated);
  /** mideleg: S bits (and LCOFI) writable; with H the VS bits (and SGEI) are read-only one. */
  function midelegLane(hart: HartContext, lane: Lane): number {
    return hart.word(SLOT.mideleg, lane) | (hart.hasH ? hsDelegatedWords[lane] : 0);
  }
  const readMideleg = (hart: HartContext) => bigintOfLanes(midelegLane, hart);
  file.define(
    CSR.mideleg,
    new FunctionCsr({
      read: readMideleg,
      write: (hart, value) => hart.put(SLOT.mideleg, value & (S_INTERRUPTS | lcof(hart))),
    }),
  );
  const vsWords = wordsOf(VS_INTERRUPTS);
  file.define(
    CSR.hideleg,
    new MaskedCsr(
      SLOT.hideleg,
      slotMask(SLOT.mideleg, (hart, lane) => vsWords[lane] & midelegLane(hart, lane)),
    ),
    NEEDS_H,
  );

  // ---- interrupt enables -------------------------------------------------
  file.define(
    CSR.mie,
    new MaskedCsr(
      SLOT.mie,
      extensionMask((hart) =>
        S_INTERRUPTS | M_INTERRUPTS | lcof(hart) | (hart.hasH ? hsDelegated : 0n)
      ),
    ),
  );
  const sieBits = extensionMask((hart) => S_INTERRUPTS | lcof(hart));
  const sieMask = slotMask(
    SLOT.mideleg,
    (hart, lane) => midelegLane(hart, lane) & sieBits.lane(hart, lane),
  );
  file.define(CSR.sie, new ViewCsr(SLOT.mie, { readMask: sieMask, writeMask: sieMask }));
  file.define(
    CSR.hie,
    new ViewCsr(SLOT.mie, { readMask: hsDelegated, writeMask: hsDelegated }),
    NEEDS_H,
  );
  const vsieMask = slotMask(
    SLOT.hideleg,
    (hart, lane) => hart.word(SLOT.hideleg, lane) & vsWords[lane],
  );
  file.define(
    CSR.vsie,
    new ViewCsr(SLOT.mie, { readMask: vsieMask, writeMask: vsieMask, shift: 1 }),
    NEEDS_H,
  );

  // ---- interrupt pending: one store (mip slot) of which hvip is a view ---
  function stcEnabled(hart: HartContext): boolean {
    return hart.features.sstc && (hart.get(SLOT.menvcfg) & ENVCFG.STCE) !== 0n;
  }
  /** With henvcfg.STCE, hip.VSTIP follows vstimecmp ≤ time + htimedelta (time is 0). */
  function vsTimerFires(hart: HartContext): boolean {
    const stce = hart.get(SLOT.henvcfg) & hart.get(SLOT.menvcfg) & ENVCFG.STCE;
    return hart.features.sstc && stce !== 0n &&
      hart.get(SLOT.vstimecmp) <= hart.get(SLOT.htimedelta);
  }
  /** mip as read: software-written bits, MTIP, hvip, and the timer signals. */
  function readMip(hart: HartContext): bigint {
    let mip = hart.get(SLOT.mip);
    if (stcEnabled(hart)) {
      // With Sstc enabled, STIP reflects stimecmp against time (time is 0).
      mip = hart.get(SLOT.stimecmp) <= 0n ? mip | IP.STIP : mip & ~IP.STIP;
    }
    if (vsTimerFires(hart)) mip |= IP.VSTIP;
    return mip;
  }
  function mipWritable(hart: HartContext): bigint {
    let mask = IP.SSIP | IP.SEIP | lcof(hart);
    if (!stcEnabled(hart)) mask |= IP.STIP;
    if (hart.hasH) mask |= IP.VSSIP;
    return mask;
  }
  file.define(
    CSR.mip,
    new FunctionCsr({
      read: readMip,
      write: (hart, value) => {
        const mask = mipWritable(hart);
        hart.put(SLOT.mip, (hart.get(SLOT.mip) & ~mask) | (value & mask));
      },
    }),
  );
  file.define(
    CSR.sip,
    new FunctionCsr({
      read: (hart) => readMip(hart) & readMideleg(hart) & (S_INTERRUPTS | lcof(hart)),
      write: (hart, value) => {
        const mask = readMideleg(hart) & (IP.SSIP | lcof(hart));
        hart.put(SLOT.mip, (hart.get(SLOT.mip) & ~mask) | (value & mask));
      },
    }),
  );
  file.define(
    CSR.hvip,
    new ViewCsr(SLOT.mip, { readMask: VS_INTERRUPTS, writeMask: VS_INTERRUPTS }),
    NEEDS_H,
  );
  file.define(
    CSR.hip,
    new FunctionCsr({
      read: (hart) => readMip(hart) & (VS_INTERRUPTS | sgei),
      write: (hart, value) => {
        hart.put(SLOT.mip, (hart.get(SLOT.mip) & ~IP.VSSIP) | (value & IP.VSSIP));
      },
    }),
    NEEDS_H,
  );
  file.define(
    CSR.vsip,
    new FunctionCsr({
      read: (hart) => (readMip(hart) & hart.get(SLOT.hideleg) & VS_INTERRUPTS) >> 1n,
      write: (hart, value) => {
        const mask = hart.get(SLOT.hideleg) & IP.VSSIP;
        hart.put(SLOT.mip, (hart.get(SLOT.mip) & ~mask) | ((value << 1n) & mask));
      },
    }),
    NEEDS_H,
  );
  file.define(CSR.hgeie, new MaskedCsr(SLOT.hgeie, hgeieWritable), NEEDS_H);
  // No guest external interrupt sources are modelled: hgeip is always zero.
  file.define(CSR.hgeip, new ConstCsr(0n), NEEDS_H);

  // ---- counters, envcfg ---------------------------------------------------
  file.define(CSR.mcounteren, new MaskedCsr(SLOT.mcounteren, COUNTEREN_WRITABLE));
  file.define(CSR.scounteren, new MaskedCsr(SLOT.scounteren, COUNTEREN_WRITABLE));
  file.define(CSR.hcounteren, new MaskedCsr(SLOT.hcounteren, COUNTEREN_WRITABLE), NEEDS_H);
  file.define(CSR.mcountinhibit, new MaskedCsr(SLOT.mcountinhibit, MCOUNTINHIBIT_WRITABLE));

  function cacheBlockFields(hart: HartContext): bigint {
    return (hart.features.zicbom ? ENVCFG.CBIE | ENVCFG.CBCFE : 0n) |
      (hart.features.zicboz ? ENVCFG.CBZE : 0n);
  }
  function menvcfgWritable(hart: HartContext): bigint {
    return ENVCFG.FIOM | cacheBlockFields(hart) | (hart.features.svpbmt ? ENVCFG.PBMTE : 0n) |
      (hart.features.sstc ? ENVCFG.STCE : 0n);
  }
  file.define(CSR.menvcfg, new MaskedCsr(SLOT.menvcfg, extensionMask(menvcfgWritable)));
  file.define(
    CSR.senvcfg,
    new MaskedCsr(SLOT.senvcfg, extensionMask((hart) => ENVCFG.FIOM | cacheBlockFields(hart))),
  );
  /** henvcfg.PBMTE/STCE are read-only zero while the menvcfg bit is zero. */
  function henvcfgVisible(hart: HartContext): bigint {
    const menvcfg = hart.get(SLOT.menvcfg);
    return ENVCFG.FIOM | cacheBlockFields(hart) | (menvcfg & (ENVCFG.PBMTE | ENVCFG.STCE));
  }
  file.define(
    CSR.henvcfg,
    new FunctionCsr({
      read: (hart) => hart.get(SLOT.henvcfg) & henvcfgVisible(hart),
      write: (hart, value) => {
        const mask = henvcfgVisible(hart) & menvcfgWritable(hart);
        hart.put(SLOT.henvcfg, (hart.get(SLOT.henvcfg) & ~mask) | (value & mask));
      },
    }),
    NEEDS_H,
  );

  // ---- trap vectors, epc, tval, tinst --------------------------------------
  const tvec = (slot: number) =>
    new FunctionCsr({
      read: (hart) => hart.get(slot),
      write: (hart, value) => hart.put(slot, legalTvec(value)),
    });
  file.define(CSR.mtvec, tvec(SLOT.mtvec));
  file.define(CSR.stvec, tvec(SLOT.stvec));
  file.define(CSR.vstvec, tvec(SLOT.vstvec), NEEDS_H);
  const epcMask = extensionMask((hart) => hart.features.c ? ~1n & ALL_ONES : ~3n & ALL_ONES);
  file.define(CSR.mepc, new MaskedCsr(SLOT.mepc, epcMask));
  file.define(CSR.sepc, new MaskedCsr(SLOT.sepc, epcMask));
  file.define(CSR.vsepc, new MaskedCsr(SLOT.vsepc, epcMask), NEEDS_H);
  file.define(CSR.htval, new MaskedCsr(SLOT.htval, guestAddressMask), NEEDS_H);
  file.define(
    CSR.mtval2,
    new MaskedCsr(SLOT.mtval2, extensionMask((h) => h.hasH ? guestAddressMask : 0n)),
  );
  file.define(CSR.htinst, new ConstCsr(0n), NEEDS_H);
  file.define(CSR.mtinst, new ConstCsr(0n));

  // ---- address translation ------------------------------------------------
  const satpModes = hgatpModes;
  const atp = (slot: number) =>
    new StoredCsr(slot, (hart, value) => {
      // An unsupported MODE makes the whole satp/vsatp write have no effect.
      if (satpModes.has(Number(value >> 60n))) hart.put(slot, value);
    });
  file.define(CSR.satp, atp(SLOT.satp));
  file.define(CSR.vsatp, atp(SLOT.vsatp), NEEDS_H);
  file.define(
    CSR.hgatp,
    new StoredCsr(SLOT.hgatp, (hart, value) => {
      const mode = Number(value >> 60n);
      const keptMode = hgatpModes.has(mode) ? BigInt(mode) << 60n : hart.get(SLOT.hgatp) & ATP.MODE;
      hart.put(SLOT.hgatp, keptMode | (value & hgatpFieldMask));
    }),
    NEEDS_H,
  );

  // ---- Sstc timers ------------------------------------------------------
  // The timers are compared on every read of mip (time is 0 in the emulator),
  // so the compare registers are plain storage.
  file.define(CSR.stimecmp, new MaskedCsr(SLOT.stimecmp, ALL_ONES), NEEDS_SSTC);
  file.define(CSR.vstimecmp, new MaskedCsr(SLOT.vstimecmp, ALL_ONES), NEEDS_SSTC_AND_H);
  file.define(CSR.htimedelta, new MaskedCsr(SLOT.htimedelta, ALL_ONES), NEEDS_H);

  definePlainStorage(file);
  defineIdentity(file);
  for (const csr of [CSR.mvendorid, CSR.marchid, CSR.mimpid]) file.define(csr, new ConstCsr(0n));

  return {
    name: "spec",
    describe: "RISC-V privileged spec 1.12 with the H extension, WARL choices documented",
    opensbi: "opensbi-1.1",
    file,
    notModelled: unmodelledCsrs(),
    knownExtensions: SPEC_KNOWN_EXTENSIONS,
    params: {
      geilen,
      vmidlen,
      hgatpModes: ["bare", ...params.hgatpModes],
      hcounterenBits: 32,
    },
    extensionsOf(isa: IsaSpec): Set<string> {
      return new Set([...isa.extensions, "s", "u"]);
    },
    reset(hart: HartContext): void {
      hart.put(SLOT.mstatus, SXL_64 | UXL_64);
      hart.put(SLOT.vsstatus, hart.hasH ? UXL_64 : 0n);
      hart.put(SLOT.hstatus, hart.hasH ? VSXL_64 : 0n);
      // mtimecmp resets to 0, so the machine timer is pending until firmware moves it.
      hart.put(SLOT.mip, IP.MTIP);
      hart.put(SLOT.mtimecmp, 0n);
    },
  };
}

/**
 * What a QEMU version is, for the shared QEMU CSR model: its name, OpenSBI,
 * default extensions, and the named behaviours in which versions differ
 * (each documented, each read in exactly one place of `qemu_profile.ts`);
 * and the CSRs the profiles are proven on against the real binaries.
 *
 * @module
 */

import type { CsrName } from "../../hal/csr_numbers.ts";
import type { OpensbiPreset, ProfileName } from "./profile.ts";

/**
 * The CSRs whose read-backs the QEMU profiles are proven on, bit for bit,
 * against the real QEMU of each version (the differential test's list).
 */
export const QEMU_CHECKED_CSRS: readonly CsrName[] = Object.freeze([
  "hedeleg",
  "hideleg",
  "hie",
  "hvip",
  "hip",
  "hcounteren",
  "hgeie",
  "henvcfg",
  "htval",
  "htinst",
  "hgatp",
  "hstatus",
  "vsie",
  "vsip",
  "vstvec",
  "vsscratch",
  "vsepc",
  "vscause",
  "vstval",
  "vsatp",
  "sie",
  "sip",
  "scounteren",
  "sscratch",
  "sepc",
  "stval",
  "medeleg",
  "mideleg",
  "mie",
  "mcounteren",
  "menvcfg",
  "mscratch",
  "mtval2",
  "mtinst",
]);

/** More CSRs the QEMU profiles model, checked against QEMU the same way. */
export const QEMU_CHECKED_EXTRA_CSRS: readonly CsrName[] = Object.freeze([
  "mstatus",
  "sstatus",
  "vsstatus",
  "misa",
  "mip",
  "satp",
  "stvec",
  "mtvec",
  "mepc",
  "mcause",
  "mtval",
  "scause",
  "senvcfg",
  "mcountinhibit",
  "htimedelta",
  "stimecmp",
  "vstimecmp",
  "hgeip",
  "mhartid",
  "mconfigptr",
]);

/**
 * What one QEMU version does where the versions differ. Each field is one
 * behaviour, named after what changed; {@linkcode QEMU_BEHAVIOURS} says what
 * each means and what it means for a hypervisor.
 *
 * @example Usage
 * ```ts
 * import { QEMU_10_0_BEHAVIOURS } from "./qemu_10_0_profile.ts";
 * import { QEMU_7_2_BEHAVIOURS } from "./qemu_7_2_profile.ts";
 * import { type QemuBehaviours } from "./qemu_model.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const old: QemuBehaviours = QEMU_7_2_BEHAVIOURS;
 * strictEqual(old.hvipReadsMip, false);
 * strictEqual(QEMU_10_0_BEHAVIOURS.hvipReadsMip, true);
 * ```
 */
export interface QemuBehaviours {
  /** mideleg's first access after reset reads the stale stored 0 (the HS bits are forced only afterwards). */
  readonly midelegStaleFirstRead: boolean;
  /** medeleg bit 11 (ecall from M) is writable. */
  readonly medelegMEcall: boolean;
  /** Cause 18 (software check) is delegable in medeleg and hedeleg. */
  readonly hedelegSoftwareCheck: boolean;
  /** The local interrupt bits (16–63) mie, hideleg and vsie keep; 0 when there are none. */
  readonly localInterrupts: bigint;
  /** LCOFI (bit 13) is part of the supervisor interrupts: mie, sie and sip keep and show it. */
  readonly lcofiInSupervisorViews: boolean;
  /** Without H, mie drops every HS-level enable (the VS bits and SGEIE), not only SGEIE. */
  readonly mieDropsVsWithoutH: boolean;
  /** An hvip read returns all of mip (hvien is 0, so every bit aliases mip), not only the VS bits. */
  readonly hvipReadsMip: boolean;
  /** vsip shows every VS interrupt hideleg delegates (VSSIP, VSTIP, VSEIP), not only VSSIP. */
  readonly vsipShowsDelegated: boolean;
  /** With Sstc and menvcfg.STCE=1, an M-mode read of sip does not show STIP. */
  readonly sipHidesStipUnderStce: boolean;
  /** The bits mcounteren, scounteren and hcounteren keep. */
  readonly counterenMask: bigint;
  /** The bits mcountinhibit keeps. */
  readonly mcountinhibitMask: bigint;
  /** menvcfg's PBMTE, STCE and ADUE are writable only with Svpbmt, Sstc and Svadu, CDE always; PBMTE and ADUE reset to 1 with their extension. */
  readonly menvcfgFollowsExtensions: boolean;
  /** henvcfg's PBMTE, STCE and ADUE are read-only 0 while the same menvcfg bit is 0. */
  readonly henvcfgGatedByMenvcfg: boolean;
  /** hgatp and vsatp drop a write whose MODE is not Bare, Sv39, Sv48 or Sv57 (as satp does). */
  readonly atpDropsInvalidMode: boolean;
  /** vstvec drops a write whose mode is 2 or 3 (as stvec does). */
  readonly vstvecDropsInvalidMode: boolean;
  /** A UXL or SXL of 3 (RV128) written to mstatus, sstatus or vsstatus becomes 2 (RV64). */
  readonly statusXlRv128To64: boolean;
  /** mstatus.SXL is writable (1 or 2; a write with SXL=0 leaves it), not read-only 2. */
  readonly mstatusSxlWritable: boolean;
  /** A write of the reserved MPP value 2 leaves mstatus.MPP as it was. */
  readonly mstatusMppLegalized: boolean;
  /** sstatus shows SD where S-mode's XLEN puts it: bit 31 while mstatus.SXL is 1 (RV32). */
  readonly sstatusSdFollowsSxl: boolean;
  /** mstatus.VS (and sstatus.VS) is writable only with the V extension. */
  readonly statusVsNeedsVector: boolean;
  /** mstatus.MPV and mstatus.GVA are writable. */
  readonly mstatusVirtBitsWritable: boolean;
  /** hstatus bits that read 0 whatever is written (every other bit is stored). */
  readonly hstatusReadOnlyZero: bigint;
  /** vsstatus bits that read 0 whatever is written (every other bit is stored). */
  readonly vsstatusReadOnlyZero: bigint;
  /** An htimedelta write re-arms the VS timer against vstimecmp (the VS timer follows the new delta). */
  readonly htimedeltaRearmsVsTimer: boolean;
  /** vstimecmp needs H as well as Sstc (otherwise Sstc alone). */
  readonly vstimecmpNeedsH: boolean;
  /** A vstimecmp write in the future also clears a VSTIP stored through hvip or mip. */
  readonly vstimecmpClearsStoredVstip: boolean;
}

/**
 * The name of one behaviour.
 *
 * @example Usage
 * ```ts
 * import { QEMU_10_0_BEHAVIOURS } from "./qemu_10_0_profile.ts";
 * import { QEMU_7_2_BEHAVIOURS } from "./qemu_7_2_profile.ts";
 * import { type QemuBehaviourName } from "./qemu_model.ts";
 * import { ok } from "node:assert/strict";
 *
 * // Every behaviour in which the two QEMU versions differ.
 * const differ = (Object.keys(QEMU_7_2_BEHAVIOURS) as QemuBehaviourName[])
 *   .filter((name) => QEMU_7_2_BEHAVIOURS[name] !== QEMU_10_0_BEHAVIOURS[name]);
 * ok(differ.includes("hvipReadsMip"));
 * ```
 */
export type QemuBehaviourName = keyof QemuBehaviours;

/**
 * What a behaviour is: a summary, and what it means to a hypervisor author.
 *
 * @example Usage
 * ```ts
 * import { QEMU_BEHAVIOURS, type QemuBehaviourDoc } from "./qemu_model.ts";
 * import { ok } from "node:assert/strict";
 *
 * const doc: QemuBehaviourDoc = QEMU_BEHAVIOURS.hvipReadsMip;
 * ok(doc.csrs.includes("hvip"));
 * ok(doc.summary.length > 0 && doc.matters.length > 0);
 * ```
 */
export interface QemuBehaviourDoc {
  /** The CSRs whose read-back it changes. */
  readonly csrs: readonly string[];
  /** What the behaviour is, in one sentence. */
  readonly summary: string;
  /** What it means for a hypervisor's per-CPU set-up. */
  readonly matters: string;
}

/**
 * Every behaviour that differs between QEMU versions, documented once: the
 * version table (`docs/qemu-versions.md`) is generated from this and from
 * the profiles themselves.
 *
 * @example Usage
 * ```ts
 * import { QEMU_BEHAVIOURS } from "./qemu_model.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(QEMU_BEHAVIOURS.hvipReadsMip.csrs.includes("hvip"));
 * ```
 */
export const QEMU_BEHAVIOURS: Readonly<Record<QemuBehaviourName, QemuBehaviourDoc>> = Object
  .freeze({
    midelegStaleFirstRead: {
      csrs: ["mideleg", "sie"],
      summary: "the first mideleg access after reset reads 0; the HS bits (0x1444) are forced " +
        "only by that access",
      matters: "a firmware model that reads mideleg before writing it sees 0 once",
    },
    medelegMEcall: {
      csrs: ["medeleg"],
      summary: "medeleg bit 11 (ecall from M) is writable, unlike the spec",
      matters: "none for the set-up; a probe of medeleg with all ones sees bit 11",
    },
    hedelegSoftwareCheck: {
      csrs: ["medeleg", "hedeleg"],
      summary: "cause 18 (software check, Zicfilp/Zicfiss) is delegable in medeleg and hedeleg",
      matters: "hedeleg written with all ones keeps bit 18; OpenSBI 1.6 delegates it in medeleg",
    },
    localInterrupts: {
      csrs: ["mie", "hideleg", "vsie"],
      summary: "the local interrupt bits 16–63 are writable in mie, hideleg and vsie",
      matters: "hideleg written with all ones reads 0xffffffffffff0444, not 0x444: write the " +
        "exact bits (0x444) rather than all ones",
    },
    lcofiInSupervisorViews: {
      csrs: ["mie", "sie", "sip"],
      summary: "LCOFI (bit 13) is a supervisor interrupt: mie, sie and sip keep and show it",
      matters: "sie written with all ones under full delegation keeps 0x2222 rather than 0x222",
    },
    mieDropsVsWithoutH: {
      csrs: ["mie"],
      summary: "without H, mie drops the VS enables and SGEIE, not only SGEIE",
      matters: "none with H",
    },
    hvipReadsMip: {
      csrs: ["hvip"],
      summary: "an hvip read returns all of mip while hvien is 0: MTIP (pending until a " +
        "firmware programs mtimecmp), SSIP set through sip and every other pending bit show",
      matters: "compare hvip & 0x444 (the VS bits), not the whole value; a hart without " +
        "firmware reads hvip 0x80",
    },
    vsipShowsDelegated: {
      csrs: ["vsip"],
      summary: "vsip shows VSSIP, VSTIP and VSEIP as hideleg delegates them; before, only VSSIP",
      matters: "a VS timer or external interrupt injected through hvip is visible in vsip",
    },
    sipHidesStipUnderStce: {
      csrs: ["sip"],
      summary: "with Sstc and menvcfg.STCE=1, an M-mode read of sip does not show STIP",
      matters: "read stimecmp-driven STIP through mip, not sip, from M-mode",
    },
    counterenMask: {
      csrs: ["mcounteren", "scounteren", "hcounteren"],
      summary: "mcounteren, scounteren and hcounteren keep only the implemented counters " +
        "(CY, TM, IR, hpmcounter3–18: 0x7ffff)",
      matters: "hcounteren written with all ones reads 0x7ffff, not all ones: compare the " +
        "counters you need",
    },
    mcountinhibitMask: {
      csrs: ["mcountinhibit"],
      summary: "mcountinhibit keeps only the implemented counters, TM hard-wired to 0 (0x7fffd)",
      matters: "none for the set-up",
    },
    menvcfgFollowsExtensions: {
      csrs: ["menvcfg", "henvcfg"],
      summary: "menvcfg's PBMTE, STCE and ADUE are writable only with Svpbmt, Sstc and Svadu, " +
        "and PBMTE and ADUE reset to 1 with their extension (Svadu is on by default); CDE " +
        "(bit 60) is writable",
      matters: "menvcfg reads 0x2000000000000000 at reset; PBMTE stays 0 unless svpbmt=true",
    },
    henvcfgGatedByMenvcfg: {
      csrs: ["henvcfg"],
      summary: "henvcfg's PBMTE, STCE and ADUE are read-only 0 while the same menvcfg bit is " +
        "0, and clearing the menvcfg bit clears the henvcfg bit",
      matters: "set menvcfg.STCE before henvcfg.STCE (e.g. for vstimecmp), or it does not stick",
    },
    atpDropsInvalidMode: {
      csrs: ["hgatp", "vsatp"],
      summary: "hgatp and vsatp drop a whole write whose MODE is not Bare, Sv39(x4), Sv48(x4) " +
        "or Sv57(x4), as satp does",
      matters: "probing hgatp with all ones reads 0 (the write is dropped), not all ones",
    },
    vstvecDropsInvalidMode: {
      csrs: ["vstvec"],
      summary: "vstvec drops a whole write whose mode (bits 1:0) is 2 or 3, as stvec does",
      matters: "probing vstvec with all ones reads 0",
    },
    statusXlRv128To64: {
      csrs: ["mstatus", "sstatus", "vsstatus"],
      summary: "a UXL or SXL of 3 (RV128) written to mstatus, sstatus or vsstatus becomes 2 " +
        "(RV64); a write with UXL=0 still leaves UXL as it was",
      matters: "status registers written with all ones read UXL=2, not 3",
    },
    mstatusSxlWritable: {
      csrs: ["mstatus"],
      summary: "mstatus.SXL is writable over the debugger (1 or 2; 0 leaves it), not read-only 2",
      matters: "a debugger write of mstatus can switch S-mode to RV32: write SXL=2 or keep it",
    },
    sstatusSdFollowsSxl: {
      csrs: ["sstatus"],
      summary: "sstatus shows SD where S-mode's XLEN puts it: bit 31, not 63, while mstatus.SXL " +
        "is 1 (RV32); mstatus keeps it at 63",
      matters: "only after a debugger write of SXL=1 (see mstatusSxlWritable)",
    },
    mstatusMppLegalized: {
      csrs: ["mstatus"],
      summary: "a write of the reserved MPP value 2 leaves mstatus.MPP as it was",
      matters: "none for the set-up",
    },
    statusVsNeedsVector: {
      csrs: ["mstatus", "sstatus"],
      summary: "mstatus.VS (and sstatus.VS) is read-only 0 without the V extension",
      matters: "none for the set-up",
    },
    mstatusVirtBitsWritable: {
      csrs: ["mstatus"],
      summary: "mstatus.MPV and mstatus.GVA are writable from M-mode",
      matters: "an M-mode model cannot fake a trap from V=1 by writing MPV",
    },
    hstatusReadOnlyZero: {
      csrs: ["hstatus"],
      summary: "hstatus bits that read 0 whatever is written (the others are stored unchecked)",
      matters: "none for the set-up (ArceOS does not write hstatus)",
    },
    vsstatusReadOnlyZero: {
      csrs: ["vsstatus"],
      summary: "vsstatus bits that read 0 whatever is written (the others are stored unchecked)",
      matters: "none for the set-up",
    },
    vstimecmpClearsStoredVstip: {
      csrs: ["vstimecmp", "hvip", "mip", "hip"],
      summary: "a vstimecmp write in the future clears not only the VS timer but also a VSTIP " +
        "injected through hvip or mip",
      matters: "a hypervisor that injects VSTIP through hvip loses it when it reprograms " +
        "vstimecmp (7.2 only)",
    },
    htimedeltaRearmsVsTimer: {
      csrs: ["htimedelta", "mip", "hip", "vsip"],
      summary: "an htimedelta write re-evaluates the VS timer: VSTIP from vstimecmp follows " +
        "the new delta at once",
      matters: "program htimedelta before vstimecmp on 7.2, where the delta only counts " +
        "from the next vstimecmp write",
    },
    vstimecmpNeedsH: {
      csrs: ["vstimecmp"],
      summary: "vstimecmp traps on a hart without H (before, Sstc alone was enough)",
      matters: "none with H",
    },
  });

/**
 * One QEMU version as the emulator models it.
 *
 * @example Usage
 * ```ts
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { QEMU_10_0_MODEL } from "./qemu_10_0_profile.ts";
 * import { type QemuModel } from "./qemu_model.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const model: QemuModel = QEMU_10_0_MODEL;
 * strictEqual(model.opensbi, "opensbi-1.6");
 * const hal = await createEmulatorHal({ profile: model.name });
 * strictEqual(hal.info().firmware, "opensbi-1.6");
 * await hal.close();
 * ```
 */
export interface QemuModel {
  /** The profile's name. */
  readonly name: ProfileName;
  /** The version, `major.minor`. */
  readonly version: string;
  /** The OpenSBI that ships with it. */
  readonly opensbi: OpensbiPreset;
  /** Multi-letter extensions `-cpu rv64` turns on by default. */
  readonly defaultOn: readonly string[];
  /** Multi-letter extensions the profile models (or that have no CSR effect). */
  readonly knownExtensions: ReadonlySet<string>;
  /** Where the version differs from the others. */
  readonly behaviours: QemuBehaviours;
}

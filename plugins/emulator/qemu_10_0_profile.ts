/**
 * The `qemu-10.0` profile: exactly what `qemu-system-riscv64 -M virt -cpu
 * rv64` of QEMU 10.0 (Debian 13's package) reads back when its CSRs are
 * accessed from M-mode (the debugger's view of a hart held at `-S`), quirks
 * included.
 *
 * The CSR model is the one all QEMU profiles share (`qemu_profile.ts`);
 * this file is where QEMU 10.0 differs from 7.2: cause 18 is delegable and
 * ecall from M is not; mie, hideleg and vsie keep the local interrupts
 * 16–63 and LCOFI is gone from the supervisor views; hvip reads all of mip;
 * vsip shows every delegated VS bit; sip hides STIP from M-mode while
 * menvcfg.STCE is set; the counteren registers keep only the implemented
 * counters; menvcfg follows the extensions (Svadu on: ADUE resets to 1) and
 * gates henvcfg; hgatp, vsatp and vstvec drop writes with an invalid mode; a
 * UXL/SXL of 3 becomes 2, SXL is writable and sstatus then puts SD by SXL;
 * MPP=2 is ignored; mstatus.VS needs V and MPV/GVA are read-only 0; hstatus
 * bits 24 and 49:48 and vsstatus bit 24 read 0; mideleg reads 0x1444 from
 * reset; vstimecmp needs H.
 *
 * Source: read-backs measured on QEMU 10.0.13 over the gdbstub (every
 * difference from 7.2 is in docs/qemu-versions.md) and
 * `tests/differential/qemu_test.ts`, which checks this profile against a
 * real QEMU 10.0 bit for bit.
 *
 * @module
 */

import { HSTATUS, STATUS } from "../../hal/csr_fields.ts";
import type { EmulatorProfile } from "./profile.ts";
import { createQemuProfile } from "./qemu_profile.ts";
import type { QemuBehaviours, QemuModel } from "./qemu_model.ts";

/**
 * Multi-letter extensions QEMU 10.0 turns on by default for `-cpu rv64`
 * (`query-cpu-model-expansion`).
 */
const DEFAULT_ON: readonly string[] = Object.freeze([
  "sstc",
  "svadu",
  "svvptc",
  "zawrs",
  "zba",
  "zbb",
  "zbc",
  "zbs",
  "zca",
  "zcd",
  "zfa",
  "zic64b",
  "zicbom",
  "zicbop",
  "zicboz",
  "ziccrse",
  "zicntr",
  "zicsr",
  "zifencei",
  "zihintntl",
  "zihintpause",
  "zihpm",
]);

/** Multi-letter extensions the qemu-10.0 profile models (or that have no CSR effect). */
export const QEMU_10_0_KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([...DEFAULT_ON, "svpbmt"]);

/** hstatus bit 24, read-only 0 on QEMU 10.0. */
const HSTATUS_BIT_24 = 1n << 24n;

/**
 * Where QEMU 10.0 differs from the other versions (see `QEMU_BEHAVIOURS`).
 *
 * @example Usage
 * ```ts
 * import { QEMU_10_0_BEHAVIOURS } from "./qemu_10_0_profile.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(QEMU_10_0_BEHAVIOURS.counterenMask, 0x7ffffn);
 * ```
 */
export const QEMU_10_0_BEHAVIOURS: QemuBehaviours = Object.freeze({
  midelegStaleFirstRead: false,
  medelegMEcall: false,
  hedelegSoftwareCheck: true,
  localInterrupts: ~0xffffn & ((1n << 64n) - 1n),
  lcofiInSupervisorViews: false,
  mieDropsVsWithoutH: true,
  hvipReadsMip: true,
  vsipShowsDelegated: true,
  sipHidesStipUnderStce: true,
  counterenMask: 0x7ffffn,
  mcountinhibitMask: 0x7fffdn,
  menvcfgFollowsExtensions: true,
  henvcfgGatedByMenvcfg: true,
  atpDropsInvalidMode: true,
  vstvecDropsInvalidMode: true,
  statusXlRv128To64: true,
  mstatusSxlWritable: true,
  sstatusSdFollowsSxl: true,
  mstatusMppLegalized: true,
  statusVsNeedsVector: true,
  mstatusVirtBitsWritable: false,
  hstatusReadOnlyZero: HSTATUS.HUPMM | HSTATUS_BIT_24,
  vsstatusReadOnlyZero: STATUS.SDT,
  vstimecmpClearsStoredVstip: false,
  htimedeltaRearmsVsTimer: true,
  vstimecmpNeedsH: true,
});

/**
 * QEMU 10.0 as the emulator models it.
 *
 * @example Usage
 * ```ts
 * import { QEMU_10_0_MODEL } from "./qemu_10_0_profile.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(QEMU_10_0_MODEL.opensbi, "opensbi-1.6");
 * ```
 */
export const QEMU_10_0_MODEL: QemuModel = Object.freeze({
  name: "qemu-10.0",
  version: "10.0",
  opensbi: "opensbi-1.6",
  defaultOn: DEFAULT_ON,
  knownExtensions: QEMU_10_0_KNOWN_EXTENSIONS,
  behaviours: QEMU_10_0_BEHAVIOURS,
});

/**
 * Builds the `qemu-10.0` profile.
 *
 * @returns The profile.
 */
export function createQemu100Profile(): EmulatorProfile {
  return createQemuProfile(QEMU_10_0_MODEL);
}

/**
 * The `qemu-7.2` profile: exactly what `qemu-system-riscv64 -M virt -cpu rv64`
 * of QEMU 7.2 reads back when its CSRs are accessed from M-mode (the
 * debugger's view of a hart held at `-S`), quirks included.
 *
 * The CSR model is the one all QEMU profiles share (`qemu_profile.ts`);
 * this file is where QEMU 7.2 differs: hcounteren, scounteren, mcounteren,
 * hgatp, vsatp and vstvec keep every bit; mideleg's first read after reset is
 * stale; sip and sie carry LCOFI; hvip reads only the VS bits and vsip only
 * VSSIP; mstatus/sstatus/vsstatus keep UXL when written with UXL=0, and
 * mstatus keeps MPV and GVA; henvcfg is not gated by menvcfg; without H,
 * vstimecmp still works (its only predicate is Sstc).
 *
 * Source: QEMU 7.2's `target/riscv/csr.c` and read-backs measured on 7.2.22
 * (over the gdbstub from M-mode, and in HS-mode under OpenSBI), and
 * `tests/differential/qemu_test.ts`, which checks this profile against a
 * real QEMU 7.2 bit for bit.
 *
 * @module
 */

import { ALL_ONES } from "../../hal/csr_fields.ts";
import type { EmulatorProfile } from "./profile.ts";
import { createQemuProfile } from "./qemu_profile.ts";
import type { QemuBehaviours, QemuModel } from "./qemu_model.ts";

/** Multi-letter extensions QEMU 7.2 turns on by default for `-cpu rv64`. */
const DEFAULT_ON: readonly string[] = Object.freeze(["sstc", "zicsr", "zifencei", "zicntr"]);

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

/**
 * Where QEMU 7.2 differs from the other versions (see `QEMU_BEHAVIOURS`).
 *
 * @example Usage
 * ```ts
 * import { QEMU_7_2_BEHAVIOURS } from "./qemu_7_2_profile.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(QEMU_7_2_BEHAVIOURS.counterenMask, (1n << 64n) - 1n);
 * ```
 */
export const QEMU_7_2_BEHAVIOURS: QemuBehaviours = Object.freeze({
  midelegStaleFirstRead: true,
  medelegMEcall: true,
  hedelegSoftwareCheck: false,
  localInterrupts: 0n,
  lcofiInSupervisorViews: true,
  mieDropsVsWithoutH: false,
  hvipReadsMip: false,
  vsipShowsDelegated: false,
  sipHidesStipUnderStce: false,
  counterenMask: ALL_ONES,
  mcountinhibitMask: ALL_ONES,
  menvcfgFollowsExtensions: false,
  henvcfgGatedByMenvcfg: false,
  atpDropsInvalidMode: false,
  vstvecDropsInvalidMode: false,
  statusXlRv128To64: false,
  mstatusSxlWritable: false,
  sstatusSdFollowsSxl: false,
  mstatusMppLegalized: false,
  statusVsNeedsVector: false,
  mstatusVirtBitsWritable: true,
  hstatusReadOnlyZero: 0n,
  vsstatusReadOnlyZero: 0n,
  vstimecmpClearsStoredVstip: true,
  htimedeltaRearmsVsTimer: false,
  vstimecmpNeedsH: false,
});

/**
 * QEMU 7.2 as the emulator models it.
 *
 * @example Usage
 * ```ts
 * import { QEMU_7_2_MODEL } from "./qemu_7_2_profile.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(QEMU_7_2_MODEL.opensbi, "opensbi-1.1");
 * ```
 */
export const QEMU_7_2_MODEL: QemuModel = Object.freeze({
  name: "qemu-7.2",
  version: "7.2",
  opensbi: "opensbi-1.1",
  defaultOn: DEFAULT_ON,
  knownExtensions: QEMU_7_2_KNOWN_EXTENSIONS,
  behaviours: QEMU_7_2_BEHAVIOURS,
});

/**
 * Builds the `qemu-7.2` profile.
 *
 * @returns The profile.
 */
export function createQemu72Profile(): EmulatorProfile {
  return createQemuProfile(QEMU_7_2_MODEL);
}

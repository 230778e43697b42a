/**
 * What the QEMU backend's `info()` says: the QEMU (version, pid or the
 * sockets attached to, its log file), its harts and ISA, the emulator profile that models
 * it, the firmware, and what the access strategy adds.
 *
 * Needs no permissions.
 *
 * @module
 */

import type { FirmwarePreset } from "../../hal/firmware.ts";
import { hex } from "../../hal/hex.ts";
import type { HalInfo } from "../../hal/types.ts";
import { misaBit } from "../../hal/isa.ts";
import type { QemuSession } from "./_session.ts";
import type { ResolvedQemuOptions } from "./options.ts";

/** The ISA string misa describes (`rv64` + its single-letter extensions). */
function isaOfMisa(misa: bigint): string {
  let letters = "";
  for (const letter of "imafdqcbvh") {
    if ((misa & misaBit(letter)) !== 0n) letters += letter;
  }
  return `rv64${letters}`;
}

/** The emulator profile that models a QEMU version (`major.minor` must match), when there is one. */
function profileOf(version: string): string | undefined {
  const majorMinor = version.split(".").slice(0, 2).join(".");
  return majorMinor === "7.2" || majorMinor === "10.0" ? `qemu-${majorMinor}` : undefined;
}

/** What the backend is prepared with, besides its session. */
export interface PreparedInfo {
  /** The firmware preset written (debugger access). */
  readonly firmware?: FirmwarePreset | undefined;
  /** What became of mtimecmp under a preset. */
  readonly mtimecmp?: string | undefined;
  /** The access strategy: what it adds (native access: the real firmware, the agent, boot times). */
  readonly strategy?: { describe?(): Record<string, unknown> };
}

/**
 * Describes a QEMU backend.
 *
 * @example Usage
 * ```ts ignore
 * import { describeQemu } from "./_info.ts";
 *
 * console.log(describeQemu(options, session, { firmware }).version); // 7.2.22
 * ```
 *
 * @param options The backend's options.
 * @param session The QEMU session.
 * @param prepared The firmware, mtimecmp and the access strategy.
 * @returns The frozen description.
 */
export function describeQemu(
  options: ResolvedQemuOptions,
  session: QemuSession,
  prepared: PreparedInfo,
): HalInfo {
  const attached = options.attach !== undefined;
  const profile = profileOf(session.version);
  return Object.freeze({
    backend: "qemu",
    isa: attached && !options.isaGiven ? isaOfMisa(session.misa) : options.isa.text,
    ...(profile === undefined ? {} : { profile }),
    version: session.version,
    package: session.package,
    ...(prepared.firmware === undefined ? {} : { firmware: prepared.firmware.name }),
    ...(session.process === undefined ? {} : { pid: session.process.pid }),
    // QEMU's own log (--qemu-arg -d/-D/-trace), kept in its session folder.
    ...(session.process?.logPath === undefined ? {} : { log: session.process.logPath }),
    harts: session.harts.length,
    h: session.hasH.every(Boolean),
    misa: hex(session.misa),
    access: options.access,
    ...(attached
      ? { attached: true, sockets: { qmp: options.attach!.qmp, gdb: options.attach!.gdb } }
      : { attached: false, cpu: options.cpu, binary: options.qemu }),
    csrRegnumBase: session.gdb.codec.csrBase,
    // A started QEMU gets the preset's mtimecmp from loader devices; an
    // attached one through gdb memory writes, which reach the CLINT on QEMU
    // 10.0 but not on 7.2.
    ...(prepared.mtimecmp === undefined ? {} : { mtimecmp: prepared.mtimecmp }),
    ...prepared.strategy?.describe?.(),
  });
}

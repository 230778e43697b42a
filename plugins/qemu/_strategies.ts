/**
 * Which access strategy a QEMU session gets, and what it takes: how QEMU is
 * started for it, and what makes a fresh session ready (the firmware preset
 * for the debugger, the booted agent for native access).
 *
 * Needs what the QEMU backend needs (`--allow-net` etc. for its sockets).
 *
 * @module
 */

import type { CsrAccess } from "./_csr_access.ts";
import { DebuggerAccess } from "./_debugger_access.ts";
import { applyFirmware, firmwareFor, spawnMtimecmp } from "./_firmware.ts";
import type { PreparedInfo } from "./_info.ts";
import type { QemuSession, SessionSpawn } from "./_session.ts";
import { agentFor, nativeSpawnOptions } from "./native/_boot.ts";
import { NativeAccess } from "./native/_native_access.ts";
import type { ResolvedQemuOptions } from "./options.ts";

/** A session made ready for CSR access: its strategy, and what `info()` says of it. */
export interface ReadySession extends PreparedInfo {
  readonly strategy: CsrAccess;
}

/**
 * What QEMU is started with for an access strategy: the agent under native
 * access, else the firmware preset's mtimecmp.
 *
 * @param options The backend's options.
 * @returns What the session adds to the command line.
 */
export function accessSpawn(options: ResolvedQemuOptions): SessionSpawn {
  return options.access === "native"
    ? nativeSpawnOptions(options.harts)
    : { mtimecmp: spawnMtimecmp(options) };
}

/**
 * Makes a session ready for CSR access: boots the agent (native access),
 * or writes the firmware preset (debugger access).
 *
 * @param options The backend's options.
 * @param session A session opened with {@linkcode accessSpawn}'s additions.
 * @returns The strategy, and the firmware and mtimecmp `info()` shows.
 */
export async function prepareAccess(
  options: ResolvedQemuOptions,
  session: QemuSession,
): Promise<ReadySession> {
  const debuggerAccess = new DebuggerAccess(session);
  if (options.access === "native") {
    const strategy = await NativeAccess.boot(session, {
      layout: agentFor(options.harts).layout,
      timeoutMs: options.timeoutMs,
      bootTimeoutMs: options.bootTimeoutMs,
      spawnedAt: session.openedAt,
      // Machine-level CSRs: HS-mode code cannot reach them.
      debugger: (hart, ops) => debuggerAccess.execute(hart, ops),
    });
    return { strategy };
  }
  const firmware = firmwareFor(options, session.version);
  const mtimecmp = await applyFirmware(session, firmware, options);
  return { strategy: debuggerAccess, firmware, mtimecmp };
}

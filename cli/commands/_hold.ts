/**
 * What `up --hold` offers while it holds a system: on the QEMU backend, the
 * gdbstub released for the user's own debugger (QEMU serves one gdb client
 * at a time; the backend takes it back on its next access), and where to
 * reach it and QEMU's QMP.
 *
 * @module
 */

import type { AxVCpuHal } from "../../hal/types.ts";
import { RecordingHal } from "../../trace/recorder.ts";
import type { CliIo } from "../io.ts";

/** The backend under any recording wrapper. */
function innermost(hal: AxVCpuHal): AxVCpuHal {
  return hal instanceof RecordingHal ? innermost(hal.inner) : hal;
}

/** A word for a POSIX shell: single-quoted unless it needs no quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The gdb command line that connects to a gdbstub's unix socket.
 *
 * @param socket The socket.
 * @returns `gdb-multiarch -q -ex 'target remote <socket>'`.
 */
function gdbCommand(socket: string): string {
  return `gdb-multiarch -q -ex ${shellWord(`target remote ${socket}`)}`;
}

/**
 * Shares a held system's QEMU: releases the gdbstub and says, on stderr,
 * how to reach it (and QEMU's QMP monitor for the user, when this program
 * started QEMU). Other backends have nothing to share.
 *
 * @param hal The held system's backend.
 * @param io Where to say it.
 */
export async function shareHeld(hal: AxVCpuHal, io: CliIo): Promise<void> {
  const backend = innermost(hal);
  if (backend.info().backend !== "qemu") return;
  // Loaded already: the backend is the qemu plugin's.
  const { QemuHal } = await import("../../plugins/qemu/mod.ts");
  if (!(backend instanceof QemuHal)) return;
  const { gdb, qmp } = await backend.lendGdbstub();
  const pid = backend.info().pid;
  io.err(
    `rvhv: QEMU${pid === undefined ? "" : ` (pid ${pid})`} is yours to inspect meanwhile:\n` +
      (qmp === undefined ? "" : `  QMP:     ${qmp}  (a monitor of your own)\n`) +
      `  gdbstub: ${gdb}  (released by rvhv: it serves one client at a time)\n` +
      `  ${gdbCommand(gdb)}\n` +
      `  leave gdb with "disconnect" before ending the hold ("quit" or "detach" resume the VM,\n` +
      `  "kill" ends QEMU); on SIGINT or SIGTERM rvhv takes the gdbstub back, then restores\n`,
  );
}

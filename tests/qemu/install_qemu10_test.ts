/**
 * scripts/install-qemu10.sh as CI uses it: idempotent (a prefix that holds a
 * working launcher is left alone and its path printed), and the launcher it
 * writes execs QEMU in place, so the PID a caller spawns is QEMU's own (the
 * QEMU backend stops QEMU by that PID).
 */

import { match, ok, strictEqual } from "node:assert/strict";
import { dirname } from "node:path";
import { QemuProcess } from "../../plugins/qemu/qemu_process.ts";
import { QEMU_10_0, qemuTest } from "../_helpers/qemu.ts";
import { scaled } from "../_helpers/time_scale.ts";

const SCRIPT = new URL("../../scripts/install-qemu10.sh", import.meta.url).pathname;

/** Whether the 10.0 binary under test is a launcher the script wrote. */
function installedByScript(): boolean {
  try {
    return Deno.statSync(`${dirname(QEMU_10_0.binary)}/.qemu10-ld`).isDirectory;
  } catch {
    return false;
  }
}

/** A file of /proc/<pid> (through cat: Deno asks for --allow-all to read /proc itself). */
async function proc(pid: number, file: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/${file}`] }).output();
  return new TextDecoder().decode(out.stdout);
}

qemuTest(
  "install-qemu10.sh leaves a working prefix alone and prints the launcher's path",
  async () => {
    if (!installedByScript()) {
      console.error(`not checked: ${QEMU_10_0.binary} was not installed by install-qemu10.sh`);
      return;
    }
    const started = performance.now();
    const out = await new Deno.Command("sh", {
      args: [SCRIPT, dirname(QEMU_10_0.binary)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
    strictEqual(new TextDecoder().decode(out.stdout), `${QEMU_10_0.binary}\n`);
    match(new TextDecoder().decode(out.stderr), /already installed: QEMU emulator version 10\.0/);
    ok(performance.now() - started < scaled(5000), "no download when already installed");
  },
  QEMU_10_0,
);

qemuTest(
  "the QEMU 10.0 launcher keeps the PID: the spawned process is QEMU itself",
  async () => {
    const qemu = await QemuProcess.spawn({ binary: QEMU_10_0.binary, harts: 1, cpu: "rv64" });
    try {
      // The launcher execs trixie's loader through a symlink named like QEMU.
      // Until the launcher's shell has run its exec, the PID still names the
      // shell: wait for the exec (a loaded machine can take a while), no longer.
      const deadline = performance.now() + scaled(5000);
      let comm = (await proc(qemu.pid, "comm")).trim();
      while (comm !== "qemu-system-ris" && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        comm = (await proc(qemu.pid, "comm")).trim();
      }
      strictEqual(comm, "qemu-system-ris");
      const argv = (await proc(qemu.pid, "cmdline")).split("\0");
      ok(argv.some((arg) => arg.endsWith("/usr/bin/qemu-system-riscv64")), argv.join(" "));
    } finally {
      await qemu.stop(0);
    }
  },
  QEMU_10_0,
);

/**
 * `rvhv up --hold` shares the QEMU it holds: it prints the user's QMP
 * socket and the gdbstub's, with a gdb command line, and releases the
 * gdbstub (QEMU serves one gdb client at a time) until the hold ends, when
 * it takes it back and restores the harts: after a user's gdb that
 * disconnected, after one that detached (the VM then runs), and, with a
 * clear error, while one is still connected.
 *
 * The user's own `gdb-multiarch` runs docs/qemu.md's command as written
 * (its socket path replaced by the printed one); that step is skipped, with
 * the reason, where gdb-multiarch is not installed.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { type InProcessRun, startRvhvInProcess } from "../_helpers/cli.ts";
import { qemuTest } from "../_helpers/qemu.ts";
import { connectUserQmp } from "../_helpers/qmp_user.ts";
import { codeBlocks, readDoc } from "../docs/_markdown.ts";

const GDB = "gdb-multiarch";

/** Why gdb-multiarch cannot run here, or `undefined` when it can. */
function gdbMissing(): string | undefined {
  try {
    const out = new Deno.Command(GDB, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return out.success ? undefined : `"${GDB} --version" failed`;
  } catch {
    return `"${GDB}" is not installed (apt-get install gdb-multiarch)`;
  }
}

function alive(pid: number): boolean {
  return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync()
    .success;
}

/** What the held session printed: the QEMU's pid and the sockets it offers. */
interface Shared {
  pid: number;
  qmp: string;
  gdb: string;
  command: string;
}

/** Starts `up --hold --json examples/qemu.yaml` and waits until it shares the QEMU. */
async function holdQemu(): Promise<{ run: InProcessRun; shared: Shared }> {
  const run = startRvhvInProcess(["up", "--hold", "--json", "examples/qemu.yaml"]);
  try {
    await run.until("the held QEMU's sockets", () => run.stderr().includes("leave gdb with"));
    const stderr = run.stderr();
    const shared = {
      pid: JSON.parse(run.stdout()).backend.pid,
      qmp: /^ {2}QMP: +(\S+) {2}\(a monitor of your own\)$/m.exec(stderr)?.[1]!,
      gdb: /^ {2}gdbstub: (\S+) {2}\(released by rvhv/m.exec(stderr)?.[1]!,
      command: /^ {2}(gdb-multiarch .*)$/m.exec(stderr)?.[1]!,
    };
    ok(shared.qmp !== undefined && shared.gdb !== undefined, stderr);
    return { run, shared };
  } catch (error) {
    await run.stop("SIGTERM");
    throw error;
  }
}

/** docs/qemu.md's gdb-multiarch command, and the output it shows. */
async function documentedGdb(): Promise<{ command: string; output: string[] }> {
  const blocks = codeBlocks("docs/qemu.md", await readDoc("docs/qemu.md"));
  const at = blocks.findIndex((block) => block.lang === "sh" && block.code.includes(GDB));
  ok(at >= 0, "docs/qemu.md shows a gdb-multiarch command");
  const output = blocks[at + 1]!.code.split("\n").filter((line) => line !== "");
  return { command: blocks[at]!.code, output };
}

/** Says `D;1` to a gdbstub as a detaching gdb does (multiprocess, as rvhv left it): the VM resumes. */
async function detachOnce(socket: string): Promise<void> {
  using conn = await Deno.connect({ transport: "unix", path: socket });
  await conn.write(new TextEncoder().encode("$D;1#b0"));
  const reply = new Uint8Array(64);
  let text = "";
  while (!text.includes("#")) {
    const n = await conn.read(reply);
    if (n === null) break;
    text += new TextDecoder().decode(reply.subarray(0, n));
  }
  match(text, /\$OK#9a/);
  await conn.write(new TextEncoder().encode("+"));
}

qemuTest(
  "rvhv up --hold shares QEMU: the user's own QMP and gdb, then takes the gdbstub back and restores",
  async (t) => {
    const { run, shared } = await holdQemu();
    try {
      strictEqual(shared.command, `${GDB} -q -ex 'target remote ${shared.gdb}'`);
      const folder = shared.gdb.slice(0, shared.gdb.lastIndexOf("/"));
      match(folder, /\/rvhv-qemu-[^/]+$/);
      strictEqual(shared.qmp, `${folder}/qmp-user.sock`);

      await t.step("the user's QMP monitor answers while rvhv keeps its own", async () => {
        const qmp = await connectUserQmp(shared.qmp);
        try {
          deepStrictEqual(
            await qmp.execute("query-status"),
            { status: "prelaunch", singlestep: false, running: false },
          );
          const registers = await qmp.execute("human-monitor-command", {
            "command-line": "info registers",
            "cpu-index": 1,
          });
          match(String(registers), /hedeleg +000000000000b10d/);
        } finally {
          qmp.close();
        }
      });

      const missing = gdbMissing();
      if (missing !== undefined) console.error(`gdb-multiarch step skipped: ${missing}`);
      await t.step({
        name: `docs/qemu.md's gdb-multiarch command reads hart 1 of the held QEMU` +
          (missing === undefined ? "" : ` (skipped: ${missing})`),
        ignore: missing !== undefined,
        fn: async () => {
          const { command, output } = await documentedGdb();
          const asRun = command.replace(/\/tmp\/rvhv-qemu-[^/\s']+\/gdb\.sock/, shared.gdb);
          ok(asRun !== command, "the documented command names a held session's socket");
          const out = await new Deno.Command("sh", {
            args: ["-c", asRun],
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output();
          const stdout = new TextDecoder().decode(out.stdout);
          strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
          const lines = stdout.split("\n");
          for (const line of output) ok(lines.includes(line), `"${line}" in:\n${stdout}`);
        },
      });

      ok(alive(shared.pid), "the user's gdb left QEMU running");
      const { code, stderr } = await run.stop("SIGINT");
      strictEqual(code, 130, stderr);
      // Restoring wrote every hart again: over a gdb connection taken back.
      match(
        stderr,
        /SIGINT: closing\nrvhv: closed \(enabled harts disabled, prior values restored\)/,
      );
      ok(!alive(shared.pid), "QEMU must have ended");
    } finally {
      await run.stop("SIGINT");
    }
  },
);

qemuTest(
  "rvhv up --hold: a user's gdb that detached left the VM running; rvhv stops it and restores",
  async () => {
    const { run, shared } = await holdQemu();
    try {
      await detachOnce(shared.gdb);
      const qmp = await connectUserQmp(shared.qmp);
      try {
        strictEqual((await qmp.execute("query-status") as { status: string }).status, "running");
      } finally {
        qmp.close();
      }
      const { code, stderr } = await run.stop("SIGTERM");
      strictEqual(code, 143, stderr);
      match(stderr, /closed \(enabled harts disabled, prior values restored\)/);
      ok(!alive(shared.pid), "QEMU must have ended");
    } finally {
      await run.stop("SIGTERM");
    }
  },
);

qemuTest(
  "rvhv up --hold: a debugger still connected when the hold ends is named, and QEMU still ends",
  async () => {
    const { run, shared } = await holdQemu();
    const other = await Deno.connect({ transport: "unix", path: shared.gdb });
    try {
      const { code, stdout, stderr } = await run.stop("SIGINT");
      strictEqual(code, 3, stderr);
      // Under --json the error is the last line of stdout.
      const { error } = JSON.parse(stdout.trimEnd().split("\n").at(-1)!);
      strictEqual(error.kind, "Timeout");
      match(
        error.message,
        /^Cannot take the gdbstub back: .*no reply within \d+ ms \(it serves one client: end the other debugger's session, with "disconnect" in gdb\)$/,
      );
      ok(!alive(shared.pid), "QEMU must have ended");
    } finally {
      other.close();
      await run.stop("SIGINT");
    }
  },
);

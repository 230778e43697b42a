/**
 * The CLI on the QEMU backend: the demo manifest, a missing binary, `up
 * --hold` ended by SIGINT/SIGTERM, and `diff` against QEMU 7.2 and 10.0, run
 * in-process through `main(args, io)`. Two subprocess tests, for what needs
 * a process: a real SIGTERM while QEMU is still starting (exit 143), and
 * `RVHV_DEBUG`, which is read from the environment and logs to the process's
 * stderr.
 *
 * In-process the QEMU binary is this process's `RVHV_QEMU`, else
 * `qemu-system-riscv64` (`QEMU_BINARY`); the environment is shared by every
 * test, so another binary is named in a copy of the manifest (the `qemu`
 * option) instead.
 */

import { CLI_MAIN, ROOT } from "../_helpers/deno_run.ts";
import { scaled } from "../_helpers/time_scale.ts";
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { QEMU_10_0, QEMU_BINARY, QEMU_TARGETS, qemuTest } from "../_helpers/qemu.ts";
import { rvhvInProcess, startRvhvInProcess } from "../_helpers/cli.ts";

const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-run",
  "--allow-env=LOG_TOKENS,LOG_STREAM,RVHV_QEMU,RVHV_DEBUG",
];
const decoder = new TextDecoder();

function command(args: string[], env: Record<string, string> = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, CLI_MAIN, ...args],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RVHV_QEMU: QEMU_BINARY, ...env },
  });
}

function alive(pid: number): boolean {
  return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync()
    .success;
}

/** The children of `pid`. */
function children(pid: number): number[] {
  const out = new Deno.Command("pgrep", { args: ["-P", String(pid)], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").map(Number);
}

/** Kills the CLI if a failed assertion leaves it running (its QEMU then dies with it). */
function killOnExit(child: Deno.ChildProcess): Disposable {
  return {
    [Symbol.dispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
    },
  };
}

/** Reads a child's stream into a string, exposing what arrived so far. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const done = (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return { text: () => text, done };
}

async function until(what: string, check: () => boolean, ms = scaled(10_000)): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A temporary directory for the duration of `fn`. */
async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv-cli-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * `examples/qemu.yaml` on `binary`: the file itself when `binary` is the
 * QEMU this process picks anyway, else a copy in `dir` that names `binary`
 * in the `qemu` option.
 */
async function qemuManifest(dir: string, binary: string): Promise<string> {
  if (binary === QEMU_BINARY) return "examples/qemu.yaml";
  const text = await Deno.readTextFile("examples/qemu.yaml");
  const copy = text.replace(/^( +)firmware: opensbi\n/m, `$&$1qemu: ${JSON.stringify(binary)}\n`);
  ok(copy !== text, "examples/qemu.yaml sets firmware: opensbi");
  const path = `${dir}/qemu.yaml`;
  await Deno.writeTextFile(path, copy);
  return path;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

qemuTest("rvhv up examples/qemu.yaml sets up 4 QEMU harts and ends QEMU", async () => {
  const { code, stdout, stderr } = await rvhvInProcess(["up", "--json", "examples/qemu.yaml"]);
  strictEqual(code, 0, stderr);
  const report = JSON.parse(stdout);
  strictEqual(report.backend.backend, "qemu");
  strictEqual(report.backend.firmware, "opensbi-1.1");
  strictEqual(report.harts.length, 4);
  for (const hart of report.harts) {
    deepStrictEqual(
      [hart.state, hart.h, hart.csrs.hedeleg.value, hart.csrs.hideleg.value, hart.csrs.sie.value],
      ["enabled", true, "0xb10d", "0x444", "0x222"],
    );
  }
  ok(!alive(report.backend.pid), "QEMU must have ended");
  match(stderr, /closed \(enabled harts disabled, prior values restored\)/);
});

Deno.test({
  name: "rvhv up with a missing QEMU binary says how to install it",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await withTempDir(async (dir) => {
      const manifest = await qemuManifest(dir, "/nonexistent/qemu-system-riscv64");
      const { code, stdout, stderr } = await rvhvInProcess(["up", manifest]);
      strictEqual(code, 2);
      strictEqual(stdout, "");
      match(
        stderr,
        /rvhv: Cannot start QEMU: "\/nonexistent\/qemu-system-riscv64" was not found; install it with "apt-get install --no-install-recommends qemu-system-misc"/,
      );
    });
  },
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  qemuTest(
    `rvhv up --hold: ${signal} restores the harts, ends QEMU and exits 128 + signal`,
    async () => {
      // In-process the signal is handed to the waiting command as the CLI's handler does.
      const run = startRvhvInProcess(["up", "--hold", "--json", "examples/qemu.yaml"]);
      try {
        let report: { backend: { pid: number } } | undefined;
        await run.until("the report and the hold message", () => {
          try {
            report = JSON.parse(run.stdout());
          } catch {
            return false;
          }
          return run.stderr().includes("holding the system up");
        });
        const pid = report!.backend.pid;
        ok(alive(pid));
        const { code, stderr } = await run.stop(signal);
        strictEqual(code, signal === "SIGINT" ? 130 : 143, stderr);
        match(stderr, new RegExp(`${signal}: closing\\n.*closed \\(enabled harts disabled`, "s"));
        ok(!alive(pid), "QEMU must have ended");
      } finally {
        // Ends the command (QEMU with it) if an assertion failed first.
        await run.stop(signal);
      }
    },
  );
}

qemuTest(
  "rvhv: SIGTERM while QEMU is still starting ends it and removes its sockets (exit 143)",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "rvhv-cli-" });
    try {
      // A QEMU that takes its time to start: the signal lands before it listens.
      const slow = `${dir}/slow-qemu`;
      // Busy-waits in the shell itself, so killing it leaves no grandchild.
      await Deno.writeTextFile(
        slow,
        `#!/bin/sh\ni=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); done\nexec ${QEMU_BINARY} "$@"\n`,
      );
      await Deno.chmod(slow, 0o755);
      const child = command(["up", "examples/qemu.yaml"], { RVHV_QEMU: slow }).spawn();
      const stdout = collect(child.stdout);
      const stderr = collect(child.stderr);
      using _ = killOnExit(child);
      let qemu: number[] = [];
      await until("QEMU to be spawned", () => (qemu = children(child.pid)).length > 0);
      const args = new TextDecoder().decode(
        new Deno.Command("ps", { args: ["-o", "args=", "-p", String(qemu[0])], stdout: "piped" })
          .outputSync().stdout,
      );
      const socketDir = /unix:(\S*)\/qmp\.sock,/.exec(args)![1]!;
      child.kill("SIGTERM");
      const status = await child.status;
      await Promise.all([stdout.done, stderr.done]);
      strictEqual(status.code, 143, stderr.text());
      match(stderr.text(), /SIGTERM: closing the backend/);
      for (const pid of qemu) ok(!alive(pid), `QEMU ${pid} must have ended`);
      await Deno.stat(socketDir).then(
        () => {
          throw new Error(`${socketDir} should have been removed`);
        },
        (error) => ok(error instanceof Deno.errors.NotFound),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

qemuTest("RVHV_DEBUG=qmp,rsp logs every QMP line and gdb packet to stderr", async () => {
  const output = await command(["detect", "examples/qemu.yaml"], { RVHV_DEBUG: "qmp,rsp" })
    .output();
  const stderr = decoder.decode(output.stderr);
  strictEqual(output.code, 0, stderr);
  match(stderr, /^\[rvhv qmp\] < \{"QMP": \{"version"/m);
  match(stderr, /^\[rvhv qmp\] > \{"execute":"qmp_capabilities","id":"__rvhv#00001"\}$/m);
  match(stderr, /^\[rvhv qmp\] > \{"execute":"query-cpus-fast"/m);
  match(stderr, /^\[rvhv rsp\] > \$qSupported:multiprocess\+;xmlRegisters=riscv#[0-9a-f]{2}$/m);
  match(stderr, /^\[rvhv rsp\] < PacketSize=1000;qXfer:features:read\+/m);
  match(stderr, /^\[rvhv rsp\] > \$qXfer:features:read:target\.xml:0,ffb#[0-9a-f]{2}$/m);
  match(stderr, /^\[rvhv rsp\] > \$Hgp1\.4#[0-9a-f]{2}$/m);
  match(stderr, /^\[rvhv rsp\] > \$p6c2#[0-9a-f]{2}$/m); // the hgatp probe: 66 + 0x680
  match(stderr, /^\[rvhv qmp\] > \{"execute":"quit"/m);
  ok(!/\[rvhv rsp\] > \$D/.test(stderr), "never detach");
  // Without the variable nothing is logged.
  const quiet = await command(["detect", "examples/qemu.yaml"]).output();
  ok(!decoder.decode(quiet.stderr).includes("[rvhv"));
});

for (const target of QEMU_TARGETS) {
  qemuTest(
    `rvhv diff: an emulator with profile auto equals QEMU ${target.version}'s live CSRs`,
    async () => {
      await withTempDir(async (dir) => {
        const { code, stdout, stderr } = await rvhvInProcess([
          "diff",
          "tests/fixtures/manifests/emulator_auto.yaml",
          await qemuManifest(dir, target.binary),
        ]);
        strictEqual(code, 0, stderr + stdout);
        match(
          stdout,
          new RegExp(
            `^a: tests/fixtures/manifests/emulator_auto\\.yaml  emulator ${target.profile} `,
          ),
        );
        match(stdout, /the live CSRs are equal \(40 values on 4 harts\)\n$/);
        ok(!stderr.includes("warning"), stderr);
      });
    },
    target,
  );
}

qemuTest(
  "rvhv diff warns when the emulator names another version's profile than the QEMU it is compared with",
  async () => {
    await withTempDir(async (dir) => {
      const qemu = await qemuManifest(dir, QEMU_10_0.binary);
      const { code, stdout, stderr } = await rvhvInProcess(
        ["diff", "--json", "tests/fixtures/manifests/emulator_qemu72.yaml", qemu],
      );
      strictEqual(code, 1, stderr);
      match(
        stderr,
        new RegExp(
          String
            .raw`rvhv: warning: tests/fixtures/manifests/emulator_qemu72\.yaml names profile qemu-7\.2, but ` +
            escapeRegExp(qemu) + String.raw` runs QEMU 10\.0\.\d+, which qemu-10\.0 models`,
        ),
      );
      const report = JSON.parse(stdout);
      strictEqual(report.warnings.length, 1);
      // The versions' own differences: OpenSBI 1.6's medeleg and 10.0's hcounteren mask.
      deepStrictEqual(report.harts[0].csrs.medeleg, {
        a: "0xf0b509",
        b: "0xf4b509",
        equal: false,
      });
      deepStrictEqual(report.harts[0].csrs.hcounteren, {
        a: "0xffffffffffffffff",
        b: "0x7ffff",
        equal: false,
      });
    });
  },
  QEMU_10_0,
);

qemuTest("rvhv diff refuses profile auto without a QEMU manifest to take it from", async () => {
  const { code, stderr } = await rvhvInProcess(
    ["diff", "tests/fixtures/manifests/emulator_auto.yaml", "examples/emulator.yaml"],
  );
  strictEqual(code, 2);
  match(
    stderr,
    /emulator_auto\.yaml:6:\d+ \(backend\.options\.profile\): plugin "emulator" rejected its options: Invalid option "profile": "auto" takes the profile of the QEMU this manifest is compared with/,
  );
});

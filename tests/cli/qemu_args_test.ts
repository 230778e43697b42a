/**
 * `--qemu-arg`: extra QEMU arguments from the command line, only `-d`,
 * `-D` (a file in the session's own folder) and `-trace`. Everything else,
 * and any of them for a manifest on another backend, is a usage error
 * before anything starts (in-process, no QEMU needed); with QEMU, the
 * arguments reach its command line and the log is where the CLI says,
 * kept after QEMU ends.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { rvhvInProcess, startRvhvInProcess } from "../_helpers/cli.ts";
import { qemuTest } from "../_helpers/qemu.ts";

const ALLOWED = /--qemu-arg takes only -d <items>, -D <file> and -trace <pattern>/;

Deno.test("--qemu-arg outside the allow-list is a usage error naming the allowed ones", async () => {
  for (
    const args of [
      ["--qemu-arg", "-monitor", "--qemu-arg", "stdio"],
      ["--qemu-arg=-device", "--qemu-arg=loader,file=/etc/passwd"],
      ["--qemu-arg", "-S"],
    ]
  ) {
    const { code, stdout, stderr } = await rvhvInProcess(["up", "examples/qemu.yaml", ...args]);
    strictEqual(code, 2, stderr);
    strictEqual(stdout, "");
    match(stderr, ALLOWED);
    match(stderr, /Run with --help for usage\./);
  }
  const json = await rvhvInProcess(["verify", "--json", "examples/qemu.yaml", "--qemu-arg", "-s"]);
  strictEqual(json.code, 2);
  const { error } = JSON.parse(json.stdout);
  strictEqual(error.kind, "Usage");
  match(error.message, ALLOWED);
});

Deno.test("--qemu-arg refuses a -D outside the session's folder and a missing value", async () => {
  const cases: [string[], RegExp][] = [
    [["--qemu-arg", "-D ../run.log"], /expected a plain file name .* in the session's own folder/],
    [["--qemu-arg", "-D", "--qemu-arg", "/tmp/run.log"], /expected a plain file name/],
    [["--qemu-arg", "-d"], /-d without its value: write -d <items>/],
    [["--qemu-arg"], /--qemu-arg needs a value/],
    [["--qemu-arg", "-trace file=/tmp/x"], /expected an event pattern/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await rvhvInProcess(["record", "examples/qemu.yaml", ...args]);
    strictEqual(code, 2, stderr);
    match(stderr, message);
  }
});

Deno.test("--qemu-arg for a manifest on another backend is refused before it boots", async () => {
  const single = await rvhvInProcess(["up", "examples/emulator.yaml", "--qemu-arg", "-d int"]);
  strictEqual(single.code, 2);
  match(
    single.stderr,
    /Cannot pass QEMU arguments \(--qemu-arg\) to the backend of examples\/emulator\.yaml: it uses plugin "emulator"/,
  );
  ok(!single.stderr.includes("rvhv: emulator"), "nothing booted");
  const diffs: [string, string, RegExp][] = [
    [
      "examples/emulator.yaml",
      "tests/fixtures/manifests/emulator_qemu72.yaml",
      /--qemu-arg is for the qemu backend, and none of .* uses it/,
    ],
    [
      "tests/fixtures/traces/qemu72_no_h.jsonl",
      "tests/fixtures/traces/qemu10_no_h.jsonl",
      /diff of two traces boots none/,
    ],
  ];
  for (const [a, b, why] of diffs) {
    const refused = await rvhvInProcess(["diff", a, b, "--qemu-arg=-d int"]);
    strictEqual(refused.code, 2);
    match(refused.stderr, why);
  }
});

Deno.test("--qemu-arg for an attached QEMU is refused: it was started elsewhere", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rvhv-cli-" });
  try {
    const manifest = `${dir}/attach.yaml`;
    await Deno.writeTextFile(
      manifest,
      "version: 1\nbackend:\n  plugin: qemu\n  options: { attach: { qmp: /q.sock, gdb: /g.sock } }\n",
    );
    const { code, stderr } = await rvhvInProcess(["detect", manifest, "--qemu-arg", "-d int"]);
    strictEqual(code, 2);
    match(stderr, /Cannot pass arguments to an attached QEMU: it was started elsewhere/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every command that boots a manifest documents --qemu-arg in its help", async () => {
  for (const command of ["up", "detect", "verify", "record", "route", "serve", "diff", "replay"]) {
    const { code, stdout } = await rvhvInProcess(["help", command]);
    strictEqual(code, 0);
    match(stdout, /--qemu-arg <arg> +pass -d <items>, -D <file> or -trace <pattern>/, command);
  }
});

/** The command line of a running process, as its words (none of these has a space). */
function commandLine(pid: number): string[] {
  const out = new Deno.Command("ps", { args: ["-ww", "-o", "args=", "-p", String(pid)] })
    .outputSync();
  return new TextDecoder().decode(out.stdout).trim().split(/\s+/);
}

qemuTest(
  "--qemu-arg -d, -D and -trace reach QEMU; its log is in the session folder, and kept",
  async () => {
    const run = startRvhvInProcess([
      "up",
      "--hold",
      "--json",
      "examples/qemu.yaml",
      "--qemu-arg",
      "-d",
      "--qemu-arg",
      "guest_errors",
      "--qemu-arg=-trace monitor_qmp_cmd_in_band",
      "--qemu-arg",
      "-D run.log",
    ]);
    let folder: string | undefined;
    try {
      await run.until("the hold", () => run.stderr().includes("holding the system up"));
      const report = JSON.parse(run.stdout());
      const log: string = report.backend.log;
      folder = log.slice(0, log.lastIndexOf("/"));
      match(folder, /\/rvhv-qemu-[^/]+$/);
      strictEqual(log, `${folder}/run.log`);
      match(run.stderr(), new RegExp(`^rvhv: QEMU's log: ${log} \\(kept after QEMU ends\\)$`, "m"));
      const args = commandLine(report.backend.pid);
      const after = (flag: string) => args.flatMap((arg, i) => args[i - 1] === flag ? [arg] : []);
      deepStrictEqual(
        [after("-d"), after("-D"), after("-trace")],
        [["guest_errors"], [log], ["enable=monitor_qmp_cmd_in_band"]],
      );
      const { code, stderr } = await run.stop("SIGINT");
      strictEqual(code, 130, stderr);
      // The trace events of rvhv's own QMP commands, in the log that outlived QEMU.
      match(await Deno.readTextFile(log), /^monitor_qmp_cmd_in_band "__rvhv#00001"$/m);
      const left = [];
      for await (const entry of Deno.readDir(folder)) left.push(entry.name);
      deepStrictEqual(left, ["run.log"]);
    } finally {
      await run.stop("SIGINT");
      if (folder !== undefined) await Deno.remove(folder, { recursive: true });
    }
  },
);

qemuTest("--qemu-arg -d without -D logs to qemu.log, on detect as on up", async () => {
  const { code, stderr } = await rvhvInProcess([
    "detect",
    "examples/qemu.yaml",
    "--qemu-arg=-d int",
  ]);
  strictEqual(code, 0, stderr);
  const log = /^rvhv: QEMU's log: (\S+\/rvhv-qemu-[^/]+\/qemu\.log) \(kept/m.exec(stderr)?.[1];
  ok(log !== undefined, stderr);
  try {
    ok((await Deno.stat(log)).isFile, `${log} was created`);
  } finally {
    await Deno.remove(log.slice(0, log.lastIndexOf("/")), { recursive: true });
  }
});

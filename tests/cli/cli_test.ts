/**
 * The CLI's commands, output and exit codes, run in-process through
 * `main(args, io)`; one subprocess shows the entry point wires them to the
 * process.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { runCli, type RunResult } from "../_helpers/deno_run.ts";

const ROOT = new URL("../../", import.meta.url);

function rvhv(...args: string[]): Promise<RunResult> {
  return rvhvInProcess(args);
}

Deno.test("rvhv as a process: --version, and up of the demo manifest as main() gives it", async () => {
  const version = await runCli([], ["--version"]);
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  deepStrictEqual(version, { code: 0, stdout: `rvhv ${denoJson.version}\n`, stderr: "" });
  // The process prints exactly what main() gives io.out and io.err, and exits with its result.
  const process = await runCli([], ["up", "examples/emulator.yaml"]);
  strictEqual(process.code, 0, process.stderr);
  deepStrictEqual(process, await rvhv("up", "examples/emulator.yaml"));
  match(process.stdout, /\n3\s+enabled\s+yes\s+0xb10d\s+0x444\s/);
  match(process.stderr, /prior values restored/);
});

Deno.test("rvhv up prints hedeleg 0xb10d on all 4 harts of the demo manifest", async () => {
  const { code, stdout, stderr } = await rvhv("up", "examples/emulator.yaml");
  strictEqual(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  match(lines[0]!, /^hart\s+state\s+H\s+hedeleg\s+hideleg\s+hvip\s+hcounteren\s+sie\s+refused$/);
  strictEqual(lines.length, 5);
  for (let hart = 0; hart < 4; hart++) {
    match(
      lines[hart + 1]!,
      new RegExp(
        `^${hart}\\s+enabled\\s+yes\\s+0xb10d\\s+0x444\\s+0x0\\s+0xffffffff\\s+0x222\\s+hcounteren 0xffffffff00000000$`,
      ),
    );
  }
  match(stderr, /booting examples\/emulator\.yaml/);
  match(stderr, /prior values restored/);
});

Deno.test("rvhv up --json gives the CSRs as hex strings with named bits", async () => {
  const { code, stdout } = await rvhv("up", "--json", "tests/fixtures/manifests/qemu72_kvm.yaml");
  strictEqual(code, 0);
  const report = JSON.parse(stdout);
  strictEqual(report.policy, "kvm-6.12");
  strictEqual(report.backend.profile, "qemu-7.2");
  strictEqual(report.harts.length, 2);
  const hart = report.harts[1];
  deepStrictEqual(
    [hart.id, hart.state, hart.h, hart.csrs.hedeleg.value, hart.csrs.hcounteren.value],
    [1, "enabled", true, "0xb109", "0x2"],
  );
  deepStrictEqual(hart.csrs.hcounteren.bits, ["TM"]);
  ok(hart.csrs.hedeleg.bits.includes("BREAKPOINT"));
  ok(!("asked" in hart.csrs.sie), "kvm asks nothing of sie");
});

Deno.test("rvhv up on a mixed system exits 1 naming the hart without H", async () => {
  const { code, stdout, stderr } = await rvhv("up", "tests/fixtures/manifests/mixed.yaml");
  strictEqual(code, 1);
  strictEqual(stdout, "");
  match(stderr, /Cannot set up hart 2: the H extension is absent/);
});

Deno.test("rvhv detect reports each hart and exits 1 when one lacks H", async () => {
  const { code, stdout } = await rvhv("detect", "tests/fixtures/manifests/mixed.yaml");
  strictEqual(code, 1);
  const rows = stdout.trim().split("\n").map((line) => line.split(/\s+/));
  deepStrictEqual(rows, [
    ["hart", "H", "probe", "misa.H", "agree"],
    ["0", "yes", "hgatp", "read", "yes", "yes"],
    ["1", "yes", "hgatp", "read", "yes", "yes"],
    ["2", "no", "trap", "2", "no", "yes"],
    ["3", "yes", "hgatp", "read", "yes", "yes"],
  ]);
  const all = await rvhv("detect", "--json", "examples/emulator.yaml");
  strictEqual(all.code, 0);
  strictEqual(JSON.parse(all.stdout).harts.every((h: { present: boolean }) => h.present), true);
  const one = await rvhv("detect", "--hart", "2", "tests/fixtures/manifests/mixed.yaml");
  strictEqual(one.code, 1);
  strictEqual(one.stdout.trim().split("\n").length, 2);
});

Deno.test("rvhv exits 2 for a manifest error, naming file:line", async () => {
  const { code, stderr } = await rvhv("up", "tests/fixtures/manifests/bad_option.yaml");
  strictEqual(code, 2);
  match(stderr, /tests\/fixtures\/manifests\/bad_option\.yaml:6:14 \(backend\.options\.profile\)/);
  match(stderr, /expected one of "spec", "qemu-7\.2", "qemu-10\.0", got "qemu-9\.9"/);
  const missing = await rvhv("detect", "no/such.yaml");
  strictEqual(missing.code, 2);
  match(missing.stderr, /no\/such\.yaml: cannot read the file/);
});

Deno.test("rvhv --help, --version and usage errors", async () => {
  const help = await rvhv("--help");
  strictEqual(help.code, 0);
  match(help.stdout, /Commands:\n\s+up\s.*\n\s+detect\s/);
  match(
    help.stdout,
    /Exit codes: 0 ok, 1 difference\/drift\/failed check, 2 usage or manifest error,\s+3 backend failure/,
  );
  for (
    const command of [
      "up",
      "detect",
      "verify",
      "record",
      "route",
      "serve",
      "diff",
      "replay",
      "plugins",
    ]
  ) {
    const sub = await rvhv(command, "--help");
    strictEqual(sub.code, 0, `${command} --help`);
    match(sub.stdout, new RegExp(`^Usage: rvhv ${command}\\b`));
  }
  const version = await rvhv("--version");
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  strictEqual(version.stdout, `rvhv ${denoJson.version}\n`);
  const unknown = await rvhv("frobnicate");
  strictEqual(unknown.code, 2);
  match(
    unknown.stderr,
    /unknown command "frobnicate"; commands: up, detect, verify, record, replay, diff, route, serve, plugins/,
  );
  const badFlag = await rvhv("up", "--bogus", "examples/emulator.yaml");
  strictEqual(badFlag.code, 2);
  match(badFlag.stderr, /--bogus/);
  const noArgs = await rvhv();
  strictEqual(noArgs.code, 2);
  const twoManifests = await rvhv("up", "a.yaml", "b.yaml");
  strictEqual(twoManifests.code, 2);
  match(twoManifests.stderr, /exactly one manifest/);
});

Deno.test("<command> <manifest> --help names the chosen plugin and its permissions; plugins lists them", async () => {
  const qemu = await rvhv("up", "examples/qemu.yaml", "--help");
  strictEqual(qemu.code, 0);
  match(
    qemu.stdout,
    /Backend of examples\/qemu\.yaml: qemu: .*\n {2}permissions it needs: --allow-run=qemu-system-riscv64 /,
  );
  match(
    qemu.stdout,
    /and the CLI itself: --allow-read=<the manifest's folder> --allow-env=LOG_TOKENS,LOG_STREAM\n$/,
  );
  const emulator = await rvhv("detect", "--help", "examples/emulator.yaml");
  match(
    emulator.stdout,
    /Backend of examples\/emulator\.yaml: emulator: .*\n {2}permissions it needs: none\n/,
  );
  const missing = await rvhv("verify", "--help", "no/such.yaml");
  strictEqual(missing.code, 0);
  match(missing.stdout, /Backend of no\/such\.yaml: cannot tell \(.*cannot read the file/);
  const list = await rvhv("plugins", "--json");
  strictEqual(list.code, 0);
  const { plugins } = JSON.parse(list.stdout);
  const names = plugins.map((p: { name: string }) => p.name).sort();
  ok(["emulator", "qemu", "replay"].every((name) => names.includes(name)), names.join(", "));
  const emulatorEntry = plugins.find((p: { name: string }) => p.name === "emulator");
  strictEqual(emulatorEntry.permissions.length, 0);
});

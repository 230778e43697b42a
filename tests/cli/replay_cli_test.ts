/**
 * The record, replay, diff and verify commands, run in-process through
 * `main(args, io)`; a subprocess for what needs one: `record` without
 * `--allow-write`.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { withTempDir } from "../_helpers/traces.ts";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { runCli, type RunResult } from "../_helpers/deno_run.ts";

const FIXTURES = "tests/fixtures/traces";

function rvhv(...args: string[]): Promise<RunResult> {
  return rvhvInProcess(args);
}

Deno.test("rvhv record writes a trace that rvhv replay re-runs, exit 0", async () => {
  await withTempDir(async (dir) => {
    const trace = `${dir}/demo.jsonl`;
    const recorded = await rvhv("record", "examples/emulator.yaml", "-o", trace);
    strictEqual(recorded.code, 0, recorded.stderr);
    match(recorded.stdout, /^hart\s+state\s+H\s+hedeleg/);
    match(recorded.stdout, /\n3\s+enabled\s+yes\s+0xb10d\s+0x444/);
    match(recorded.stderr, new RegExp(`recorded 108 events \\(set-up and restore\\) to ${trace}`));
    const header = JSON.parse((await Deno.readTextFile(trace)).split("\n", 1)[0]!);
    strictEqual(header.manifest.file, "examples/emulator.yaml");

    const replayed = await rvhv("replay", trace);
    strictEqual(replayed.code, 0, replayed.stderr);
    strictEqual(replayed.stdout, recorded.stdout, "the same table: the same per-CPU state");
    match(replayed.stderr, new RegExp(`replayed 108 events: the run matches ${trace}`));

    const json = await rvhv("replay", "--json", trace);
    strictEqual(json.code, 0);
    const report = JSON.parse(json.stdout);
    deepStrictEqual([report.events, report.backend.backend, report.backend.recorded], [
      108,
      "replay",
      "emulator",
    ]);
    strictEqual(report.harts[2].csrs.hedeleg.value, "0xb10d");
  });
});

Deno.test("rvhv replay exits 1 at the first divergence, naming event, hart, CSR and the fix", async () => {
  await withTempDir(async (dir) => {
    // The opensbi fixture's header, told the run used the kvm policy.
    const text = await Deno.readTextFile(`${FIXTURES}/qemu72_4harts_opensbi.jsonl`);
    const [headerLine, ...events] = text.split("\n");
    const header = JSON.parse(headerLine!);
    header.manifest.percpu.policy = "kvm";
    const trace = `${dir}/kvm.jsonl`;
    await Deno.writeTextFile(trace, [JSON.stringify(header), ...events].join("\n"));
    const { code, stdout, stderr } = await rvhv("replay", trace);
    strictEqual(code, 1);
    strictEqual(stdout, "");
    match(
      stderr,
      new RegExp(
        `rvhv: Cannot replay CSR "hedeleg" on hart 0: the run departs from ${trace} at event 28: ` +
          `expected write hedeleg 0xb10d, got write hedeleg 0x0; ` +
          `re-record the trace with "rvhv record <manifest> -o ${trace}" if the change is intended`,
      ),
    );
  });
});

Deno.test("rvhv replay of the H-less fixture fails as the recording did, and says so", async () => {
  const { code, stderr } = await rvhv("replay", `${FIXTURES}/qemu72_no_h.jsonl`);
  strictEqual(code, 1);
  match(stderr, /Cannot set up hart 0: the H extension is absent/);
  match(
    stderr,
    /the run matches .*qemu72_no_h\.jsonl up to this failure: the recorded run failed the same way/,
  );
});

Deno.test("rvhv replay exits 2 naming the line of a truncated trace, and for a trace without manifest", async () => {
  await withTempDir(async (dir) => {
    const text = await Deno.readTextFile(`${FIXTURES}/qemu72_4harts_none.jsonl`);
    const truncated = `${dir}/truncated.jsonl`;
    await Deno.writeTextFile(truncated, text.slice(0, text.indexOf('{"i":30,') + 25));
    const cut = await rvhv("replay", truncated);
    strictEqual(cut.code, 2);
    match(cut.stderr, new RegExp(`Cannot read trace ${truncated}:32: the event is truncated`));
    const [headerLine, ...events] = text.split("\n");
    const header = JSON.parse(headerLine!);
    delete header.manifest;
    const bare = `${dir}/bare.jsonl`;
    await Deno.writeTextFile(bare, [JSON.stringify(header), ...events].join("\n"));
    const noManifest = await rvhv("replay", bare);
    strictEqual(noManifest.code, 2);
    match(noManifest.stderr, /its header records no manifest/);
    const missing = await rvhv("replay", `${dir}/none.jsonl`);
    strictEqual(missing.code, 2);
    match(missing.stderr, /Cannot open trace .*none\.jsonl/);
  });
});

Deno.test("rvhv diff compares traces: 0 when equal, 1 with the first difference and per-CSR counts", async () => {
  await withTempDir(async (dir) => {
    const same = await rvhv(
      "diff",
      `${FIXTURES}/qemu72_4harts_opensbi.jsonl`,
      `${FIXTURES}/qemu72_4harts_opensbi.jsonl`,
    );
    strictEqual(same.code, 0, same.stderr);
    match(same.stdout, /the traces are equal\n$/);
    // The same machine as the fixture (4 harts, qemu-7.2, OpenSBI), under the kvm policy.
    const manifest = `${dir}/kvm.yaml`;
    await Deno.writeTextFile(
      manifest,
      "version: 1\nbackend:\n  plugin: emulator\n" +
        "  options: { harts: 4, profile: qemu-7.2, firmware: opensbi }\npercpu: { policy: kvm }\n",
    );
    const kvm = `${dir}/kvm.jsonl`;
    const recorded = await rvhv("record", manifest, "-o", kvm);
    strictEqual(recorded.code, 0, recorded.stderr);
    const differ = await rvhv("diff", `${FIXTURES}/qemu72_4harts_opensbi.jsonl`, kvm);
    strictEqual(differ.code, 1);
    // The fixture was recorded on QEMU, this trace on the emulator's qemu-7.2 profile.
    match(differ.stdout, /headers differ in: backend\n/);
    ok(
      differ.stdout.includes(
        "first difference, hart 0:\n" +
          "  a event 28 (line 30): write hedeleg 0xb10d → 0x0\n" +
          "  b event 28 (line 30): write hedeleg 0x0 → 0x0\n",
      ),
      differ.stdout,
    );
    // Per hart: read (same), written with another value, read back, restored after a
    // different old value; kvm writes hcounteren 0x2 instead of all ones.
    match(differ.stdout, /\nhcounteren\s+16\s+16\s+4\s+12\s+0\s+0\n/);
    match(differ.stdout, /the traces differ\n$/);
    const json = await rvhv("diff", "--json", `${FIXTURES}/qemu72_4harts_opensbi.jsonl`, kvm);
    const report = JSON.parse(json.stdout);
    deepStrictEqual([report.kind, report.equal, report.first.a.arg, report.first.b.arg], [
      "traces",
      false,
      "0xb10d",
      "0x0",
    ]);
  });
});

Deno.test("rvhv diff compares two manifests' live CSRs, and refuses a trace against a manifest", async () => {
  const { code, stdout } = await rvhv(
    "diff",
    "examples/emulator.yaml",
    "tests/fixtures/manifests/qemu72_kvm.yaml",
  );
  strictEqual(code, 1);
  match(stdout, /\n0–1\s+hedeleg\s+0xb10d\s+0xb109\s+0x4\n/);
  match(stdout, /harts only in a: 2–3\n/);
  match(stdout, /8 of 20 CSR values differ\n$/);
  const same = await rvhv("diff", "examples/emulator.yaml", "examples/emulator.yaml");
  strictEqual(same.code, 0);
  match(same.stdout, /the live CSRs are equal \(40 values on 4 harts\)/);
  const mixed = await rvhv("diff", `${FIXTURES}/qemu72_no_h.jsonl`, "examples/emulator.yaml");
  strictEqual(mixed.code, 2);
  match(mixed.stderr, /cannot compare a trace with a manifest/);
});

Deno.test("rvhv verify: 0 with refused bits, 1 on drift, 1 without the set-up", async () => {
  const ok0 = await rvhv("verify", "examples/emulator.yaml");
  strictEqual(ok0.code, 0, ok0.stderr);
  match(
    ok0.stdout,
    /\n0–3\s+hcounteren\s+0xffffffffffffffff\s+0xffffffff\s+refused 0xffffffff00000000\n/,
  );
  match(ok0.stdout, /no drift on 4 harts\n$/);
  const drift = await rvhv(
    "verify",
    "--allow-plugin=../plugins/drifting_plugin.ts",
    "tests/fixtures/manifests/drifting.yaml",
  );
  strictEqual(drift.code, 1);
  match(drift.stdout, /\n0–1\s+hedeleg\s+0xb10d\s+0xb105\s+DRIFT 0x8\n/);
  match(drift.stdout, /drift on harts 0–1 \(hedeleg\)\n$/);
  const noSetup = await rvhv(
    "verify",
    "--no-setup",
    "--json",
    "tests/fixtures/manifests/qemu72_kvm.yaml",
  );
  strictEqual(noSetup.code, 1);
  const report = JSON.parse(noSetup.stdout);
  strictEqual(report.drift, true);
  deepStrictEqual(
    report.harts[0].csrs.map((c: { csr: string; status: string }) => `${c.csr} ${c.status}`),
    ["hedeleg drift", "hideleg drift", "hvip ok", "hcounteren drift", "sie ok"],
  );
});

Deno.test("rvhv verify groups identical harts: 64 agreeing harts fit in 25 lines", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/h64.yaml`,
      "version: 1\nbackend: { plugin: emulator, options: { harts: 64 } }\n",
    );
    const { code, stdout } = await rvhv("verify", `${dir}/h64.yaml`);
    strictEqual(code, 0);
    const lines = stdout.trimEnd().split("\n");
    strictEqual(lines.length <= 25, true, `${lines.length} lines`);
    match(stdout, /\n0–63\s+hedeleg\s+0xb10d\s+0xb10d\s+ok\n/);
    const json = await rvhv("verify", "--json", `${dir}/h64.yaml`);
    strictEqual(JSON.parse(json.stdout).harts.length, 64, "--json keeps every hart");
  });
});

Deno.test("rvhv record: usage errors and an unwritable record: path", async () => {
  const noOutput = await rvhv("record", "examples/emulator.yaml");
  strictEqual(noOutput.code, 2);
  match(noOutput.stderr, /record needs a trace path: give "-o <trace>" or add "record: <trace>"/);
  const badPath = await rvhv(
    "record",
    "tests/fixtures/manifests/record_to_missing_dir.yaml",
  );
  strictEqual(badPath.code, 2);
  match(
    badPath.stderr,
    /record_to_missing_dir\.yaml:4:9 \(record\): cannot record to "\/nonexistent\/rvhv\/run\.jsonl"/,
  );
});

Deno.test("rvhv record without --allow-write says how to grant it (a process: permissions are per process)", async () => {
  const noWrite = await runCli(
    [],
    ["record", "examples/emulator.yaml", "-o", "/tmp/rvhv_never.jsonl"],
  );
  strictEqual(noWrite.code, 2);
  match(noWrite.stderr, /may not write there: run with --allow-write=\/tmp/);
});

Deno.test("rvhv record, replay, diff and verify have --help; the command list names them", async () => {
  for (
    const [command, usage] of [
      ["record", "record <manifest> -o <trace>"],
      ["replay", "replay <trace>"],
      ["diff", "diff <a> <b>"],
      ["verify", "verify <manifest>"],
    ]
  ) {
    const help = await rvhv(command!, "--help");
    strictEqual(help.code, 0);
    ok(help.stdout.startsWith(`Usage: rvhv ${usage}`), help.stdout);
    match(help.stdout, /Exit codes: 0 /);
  }
  const main = await rvhv("--help");
  for (const command of ["verify", "record", "replay", "diff"]) {
    match(main.stdout, new RegExp(`\\n  ${command}\\s`));
  }
});

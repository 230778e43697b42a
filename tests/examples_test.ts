/** The examples are run as a user runs them, so they stay true. */

import { match, strictEqual } from "node:assert/strict";
import { qemuStatus, qemuTest } from "./_helpers/qemu.ts";
import { denoRun, type RunResult } from "./_helpers/deno_run.ts";

const QEMU_PERMISSIONS = ["--allow-write", "--allow-net", "--allow-run"];

function run(script: string, extra: string[] = []): Promise<RunResult> {
  return denoRun(["run", "--allow-read", "--allow-env", ...extra, script]);
}

Deno.test("examples/emulator.ts rolls back the mixed machine and sets up the rest", async () => {
  const { code, stdout, stderr } = await run("examples/emulator.ts");
  strictEqual(code, 0, stderr);
  match(stdout, /all harts: Unsupported on hart 2/);
  match(stdout, /hart 0 hedeleg after the rollback: 0x0/);
  match(stdout, /hart 3 enabled: hedeleg=0xb10d hideleg=0x444 hvip=0x0/);
  match(stdout, /hart 3 hedeleg after disable: 0x0/);
});

Deno.test("examples/replay.ts records, replays strictly and names the kvm divergence", async () => {
  const { code, stdout, stderr } = await run("examples/replay.ts", ["--allow-write"]);
  strictEqual(code, 0, stderr);
  match(stdout, /recorded 54 CSR accesses/);
  match(stdout, /strict replay: identical/);
  match(stdout, /kvm policy: event 14, hart 0: write hedeleg 0xb10d → write hedeleg 0x0/);
});

Deno.test("examples/swap_backends.ts runs the same code on every backend", async () => {
  const { code, stdout, stderr } = await run("examples/swap_backends.ts", QEMU_PERMISSIONS);
  strictEqual(code, 0, stderr);
  match(
    stdout,
    /emulator \(spec\)\s+hedeleg=0xb10d hideleg=0x444 hvip=0x0 hcounteren=0xffffffff sie=0x222/,
  );
  match(stdout, /replay of qemu-7\.2\s+hedeleg=0xb10d .*hcounteren=0xffffffffffffffff/);
  if (qemuStatus().available) match(stdout, /real QEMU\s+hedeleg=0xb10d/);
  else match(stdout, /real QEMU\s+unavailable/);
});

qemuTest("examples/qemu.ts shows QEMU and the qemu-7.2 profile agreeing", async () => {
  const { code, stdout, stderr } = await run("examples/qemu.ts", QEMU_PERMISSIONS);
  strictEqual(code, 0, stderr);
  match(stdout, /^QEMU \d+\.\d+\.\d+ \(pid \d+\) beside the qemu-7\.2 profile/);
  for (const line of stdout.trim().split("\n").slice(1)) {
    const [, onQemu, onEmulator] = /qemu (\S+)\s+emulator (\S+)/.exec(line) ?? [];
    strictEqual(onQemu, onEmulator, line);
  }
});

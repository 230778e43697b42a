/**
 * The CLI on native access, run in-process through `main(args, io)`: `up`
 * says which values came from native execution, and `diff --compare` shows
 * native, debugger and emulator side by side. The QEMU binary is this
 * process's `RVHV_QEMU`, else `qemu-system-riscv64`: `QEMU_BINARY`.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { qemuTest } from "../_helpers/qemu.ts";
import { rvhvInProcess } from "../_helpers/cli.ts";
import type { RunResult } from "../_helpers/deno_run.ts";

const NATIVE = "examples/qemu_native.yaml";
const DEBUGGER = "examples/qemu.yaml";
const EMULATOR = "tests/fixtures/manifests/emulator72_opensbi.yaml";
const SPEC = "tests/fixtures/manifests/emulator_spec4.yaml";

function rvhv(...args: string[]): Promise<RunResult> {
  return rvhvInProcess(args);
}

qemuTest(
  "rvhv up on native access says every hart's values came from native execution",
  async () => {
    const table = await rvhv("up", NATIVE);
    strictEqual(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split("\n");
    match(
      lines[0]!,
      /^hart\s+state\s+H\s+hedeleg\s+hideleg\s+hvip\s+hcounteren\s+sie\s+via\s+refused$/,
    );
    strictEqual(lines.length, 5);
    for (const line of lines.slice(1)) {
      match(
        line,
        /^\d\s+enabled\s+yes\s+0xb10d\s+0x444\s+0x0\s+\S+\s+0x222\s+native\s+-$/,
      );
    }
    match(table.stderr, /qemu \S+ OpenSBI v1\.\d+ \(native access\), 4 hart\(s\)/);

    const json = await rvhv("up", "--json", NATIVE);
    strictEqual(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    strictEqual(report.backend.access, "native");
    match(report.backend.firmware, /^OpenSBI v1\.\d+$/);
    deepStrictEqual(report.harts.map((h: { via: string }) => h.via), Array(4).fill("native"));
  },
);

qemuTest("rvhv diff --compare shows native, debugger and emulator side by side", async () => {
  const { code, stdout, stderr } = await rvhv("diff", NATIVE, DEBUGGER, EMULATOR);
  strictEqual(code, 0, stderr);
  match(stdout, /^a: examples\/qemu_native\.yaml {2}qemu qemu-7\.2 OpenSBI v1\.1, 4 hart\(s\)/m);
  match(stdout, /^b: examples\/qemu\.yaml {2}qemu qemu-7\.2 opensbi-1\.1, 4 hart\(s\)/m);
  match(stdout, /^c: tests\/fixtures\/manifests\/emulator72_opensbi\.yaml {2}emulator qemu-7\.2/m);
  match(
    stdout,
    /^3\s+hedeleg\s+0xb10d \(native\)\s+0xb10d \(debugger\)\s+0xb10d \(emulator\)\s+same$/m,
  );
  match(
    stdout,
    /^0\s+medeleg\s+0xf0b509 \(debugger\)\s+0xf0b509 \(debugger\)\s+0xf0b509 \(emulator\)\s+same$/m,
  );
  match(stdout, /^environment \(firmware-owned state; reported, not a difference\):$/m);
  match(
    stdout,
    /^0\s+mtvec\s+0x80000408 \(debugger\)\s+0x0 \(debugger\)\s+0x0 \(emulator\)\s+environment$/m,
  );
  match(stdout, /the set-up and delegation agree \(28 values on 4 harts\)\n$/);
});

qemuTest("rvhv diff --compare --json exits 1 when a set-up value differs", async () => {
  const { code, stdout, stderr } = await rvhv("diff", "--compare", "--json", NATIVE, SPEC);
  strictEqual(code, 1, stderr);
  const report = JSON.parse(stdout);
  strictEqual(report.kind, "compare");
  strictEqual(report.equal, false);
  const row = report.rows.find((r: { hart: number; csr: string }) =>
    r.hart === 2 && r.csr === "hcounteren"
  );
  deepStrictEqual(row, {
    hart: 2,
    csr: "hcounteren",
    kind: "setup",
    equal: false,
    values: [
      { value: "0xffffffffffffffff", via: "native" },
      { value: "0xffffffff", via: "emulator" },
    ],
  });
  ok(
    report.rows.some((r: { kind: string; equal: boolean }) => r.kind === "environment" && !r.equal),
  );
});

Deno.test("rvhv diff --compare needs two manifests, and no trace", async () => {
  const one = await rvhv("diff", "--compare", SPEC);
  strictEqual(one.code, 2);
  match(one.stderr, /diff --compare takes two or more manifests/);
  const trace = await rvhv(
    "diff",
    "--compare",
    SPEC,
    "tests/fixtures/traces/qemu72_no_h.jsonl",
  );
  strictEqual(trace.code, 2);
  match(
    trace.stderr,
    /takes manifests, and tests\/fixtures\/traces\/qemu72_no_h\.jsonl is a trace/,
  );
});

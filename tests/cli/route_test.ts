/** `rvhv route` run in-process through `main(args, io)`: output and exit codes asserted. */

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { rvhvInProcess } from "../_helpers/cli.ts";
import type { RunResult } from "../_helpers/deno_run.ts";

function rvhv(...args: string[]): Promise<RunResult> {
  return rvhvInProcess(args);
}

/** The grid as rows of cells, keyed by "exc 2" / "int 6". */
function grid(stdout: string): Map<string, string[]> {
  const lines = stdout.trim().split("\n");
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(2)) {
    const [kind, cause, , ...cells] = line.split(/\s+/);
    rows.set(`${kind} ${cause}`, cells);
  }
  return rows;
}

Deno.test("rvhv route prints one grid for harts with equal CSRs", async () => {
  const { code, stdout, stderr } = await rvhv("route", "examples/emulator.yaml");
  strictEqual(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  strictEqual(
    lines[0],
    "harts 0, 1, 2, 3: medeleg 0xf0b509  mideleg 0x666  hedeleg 0xb10d  hideleg 0x444  firmware opensbi",
  );
  match(lines[1]!, /^kind\s+cause\s+name\s+U\s+HS\s+VU\s+VS$/);
  const rows = grid(stdout);
  strictEqual(rows.size, 35);
  deepStrictEqual(rows.get("exc 3"), ["HS", "HS", "VS", "VS"]);
  deepStrictEqual(rows.get("exc 2"), ["M>HS", "M>HS", "M>VS", "M>VS"]);
  deepStrictEqual(rows.get("exc 8"), ["HS", "-", "VS", "-"]);
  deepStrictEqual(rows.get("exc 22"), ["-", "-", "HS", "HS"]);
  deepStrictEqual(rows.get("exc 23"), ["HS", "HS", "HS", "HS"]);
  deepStrictEqual(rows.get("int 6"), ["(VS:5)", "(VS:5)", "VS:5", "VS:5"]);
  deepStrictEqual(rows.get("int 7"), ["M", "M", "M", "M"]);
  match(stderr, /A>B: delivered to A, redirected by the firmware to B/);
});

Deno.test("rvhv route --cause --from explains each route; --json gives the API's shape", async () => {
  const detail = await rvhv("route", "examples/emulator.yaml", "--cause", "2", "--from", "vs");
  strictEqual(detail.code, 0, detail.stderr);
  match(
    detail.stdout,
    /exception 2 \(ILLEGAL_INSTRUCTION\) from VS:\n {2}hardware: {2}M sees cause 2: medeleg\[2\] = 0/,
  );
  match(detail.stdout, /effective: VS sees cause 2: OpenSBI redirects it to VS-mode/);
  match(
    detail.stdout,
    /interrupt 2 \(VIRTUAL_SUPERVISOR_SOFTWARE\) from VS:\n {2}hardware: {2}VS sees cause 1/,
  );
  const named = await rvhv(
    "route",
    "tests/fixtures/manifests/qemu72_kvm.yaml",
    "--cause",
    "illegal_instruction",
    "--from",
    "VU",
    "--hart",
    "1",
  );
  strictEqual(named.code, 0, named.stderr);
  match(named.stdout, /^hart 1: medeleg 0xf0b509 {2}mideleg 0x1666 {2}hedeleg 0xb109/);
  match(named.stdout, /effective: HS sees cause 2: OpenSBI redirects it to HS-mode/);
  strictEqual(named.stdout.includes("interrupt"), false);
  const json = await rvhv(
    "route",
    "--json",
    "examples/emulator.yaml",
    "--from",
    "M",
    "--interrupt",
  );
  strictEqual(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  strictEqual(report.harts.length, 4);
  deepStrictEqual(report.harts[0].origins, ["M"]);
  deepStrictEqual(report.harts[0].rows.map((r: { cause: number }) => r.cause), [
    1,
    2,
    3,
    5,
    6,
    7,
    9,
    10,
    11,
    12,
    13,
  ]);
  const sei = report.harts[0].rows.find((r: { cause: number }) => r.cause === 9);
  deepStrictEqual([sei.routes.M.destination, sei.routes.M.taken], ["HS", false]);
});

Deno.test("rvhv route rejects bad options with exit 2", async () => {
  for (
    const [args, pattern] of [
      [["--from", "S"], /--from needs one of U, HS, VU, VS, M, got "S"/],
      [["--cause", "64"], /--cause needs a cause from 0 to 63/],
      [["--cause", "frobnicate"], /--cause needs a number or a cause name/],
      [["--hart", "x"], /--hart needs a hart id/],
      [["--hart", "7"], /--hart 7: the system has harts 0, 1, 2, 3/],
      [["--interrupt", "--exception"], /exclude each other/],
    ] as const
  ) {
    const { code, stderr } = await rvhv("route", "examples/emulator.yaml", ...args);
    strictEqual(code, 2, `${args.join(" ")}: ${stderr}`);
    match(stderr, pattern);
  }
  const help = await rvhv("route", "--help");
  strictEqual(help.code, 0);
  match(help.stdout, /^Usage: rvhv route <manifest>/);
  const noH = await rvhv("route", "tests/fixtures/manifests/mixed.yaml");
  strictEqual(noH.code, 1);
  match(noH.stderr, /the H extension is absent/);
});

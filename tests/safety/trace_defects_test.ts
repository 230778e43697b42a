/**
 * A damaged trace is named as damaged, at its line: a truncated last line is
 * a format error (exit 2), not a divergence; a byte that is not UTF-8 is
 * reported at the line it is on, not at the start of the chunk read.
 */

import { match, strictEqual } from "node:assert/strict";
import { TraceFormatError } from "../../hal/errors.ts";
import { TraceReader } from "../../trace/reader.ts";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { withTempDir } from "../_helpers/traces.ts";

/** Records the demo's set-up (108 events on 4 harts) and returns the trace's bytes. */
async function demoTrace(dir: string): Promise<Uint8Array> {
  const { code, stderr } = await rvhvInProcess([
    "record",
    "examples/emulator.yaml",
    "-o",
    `${dir}/full.jsonl`,
  ]);
  strictEqual(code, 0, stderr);
  return await Deno.readFile(`${dir}/full.jsonl`);
}

Deno.test("a trace whose last line is cut off is a TraceFormatError at that line, exit 2", async () => {
  await withTempDir(async (dir) => {
    const bytes = await demoTrace(dir);
    await Deno.writeFile(`${dir}/cut.jsonl`, bytes.subarray(0, bytes.length - 20));
    const { code, stderr } = await rvhvInProcess(["replay", `${dir}/cut.jsonl`]);
    strictEqual(code, 2, stderr);
    match(stderr, /cut\.jsonl:109: the event is truncated: the file ends in the middle of it/);
    match(stderr, /^(?!.*departs)/s, "not reported as a divergence");
  });
});

Deno.test("a byte that is not UTF-8 is reported at its own line", async () => {
  await withTempDir(async (dir) => {
    const bytes = await demoTrace(dir);
    const lines: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 10) {
        lines.push(bytes.subarray(start, i + 1));
        start = i + 1;
      }
    }
    // Line 51 (the header is line 1) gets two bytes no UTF-8 text has.
    const bad = new Uint8Array([
      ...lines[50]!.subarray(0, 20),
      0xff,
      0xfe,
      ...lines[50]!.subarray(20),
    ]);
    const parts = [...lines.slice(0, 50), bad, ...lines.slice(51)];
    await Deno.writeFile(`${dir}/bad.jsonl`, new Uint8Array(parts.flatMap((p) => [...p])));
    let error: unknown;
    try {
      using reader = TraceReader.open(`${dir}/bad.jsonl`);
      for (const _ of reader);
    } catch (e) {
      error = e;
    }
    strictEqual(error instanceof TraceFormatError, true, String(error));
    strictEqual((error as TraceFormatError).line, 51);
  });
});

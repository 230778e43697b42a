/**
 * What a recording leaves behind when the run does not end with close():
 * an exception mid-run, an uncaught exception that kills the process, and
 * Ctrl-C (SIGINT) in a script that installed no handler (the library
 * installs none: the CLI's own handler closes the system).
 */

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError } from "../../hal/errors.ts";
import type { AxVCpuHal, CsrOp, CsrResult, HartId } from "../../hal/types.ts";
import { PerCpuSet } from "../../percpu/percpu_set.ts";
import { createEmulatorHal } from "../../plugins/emulator/mod.ts";
import { recordHal, TraceReader } from "../../plugins/replay/mod.ts";
import { withTempDir } from "../_helpers/traces.ts";
import { forwardingHal, forwardingPort } from "../_helpers/forwarding_hal.ts";

const REPLAY_MOD = new URL("../../plugins/replay/mod.ts", import.meta.url).href;
const EMULATOR_MOD = new URL("../../plugins/emulator/mod.ts", import.meta.url).href;
const PERCPU_MOD = new URL("../../percpu/mod.ts", import.meta.url).href;

/** Every event of a trace file, as "hart op csr". */
function readEvents(path: string): string[] {
  using reader = TraceReader.open(path);
  return [...reader].map((e) => `${e.hart} ${e.op} ${e.csr.toString(16)}`);
}

/** A backend whose `failAt`th batch fails with an I/O error. */
function failingAfter(inner: AxVCpuHal, failAt: number): AxVCpuHal {
  let batches = 0;
  const batch = (hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> =>
    ++batches === failAt
      ? Promise.reject(new AxError("Io", "Cannot reach the hart: the connection dropped"))
      : inner.csr.batch(hart, ops);
  return forwardingHal(inner, { csr: forwardingPort(inner.csr, { batch }) });
}

Deno.test("an exception mid-recording leaves a valid partial trace up to its last event", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/broken.jsonl`;
    const inner = await createEmulatorHal({ harts: 2 });
    const hal = await recordHal(failingAfter(inner, 4), { path });
    // Both harts are probed (phase 1), hart 0 is set up (phase 2), hart 1's set-up batch
    // fails, and both are rolled back (hart 1's writes may have reached it).
    await rejects(
      PerCpuSet.init(hal, { concurrency: 1 }),
      (e) => e instanceof AxError && e.kind === "Io",
    );
    // No close(). Once the event loop has turned, the partial file holds everything.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await rejects(Deno.stat(path), Deno.errors.NotFound);
    const events = readEvents(`${path}.partial`);
    strictEqual(
      events.length,
      2 * 7 + 14 + 2 * 6,
      "two probes and priors, hart 0's set-up and read-back, both harts' restores",
    );
    deepStrictEqual(events.slice(0, 2), ["0 read 680", "0 read 602"]);
    deepStrictEqual(events.slice(7, 9), ["1 read 680", "1 read 602"]);
    ok(
      events.slice(14, 28).every((e) => e.startsWith("0 ")),
      "hart 1's failed set-up batch is not recorded (the backend gave no results)",
    );
    deepStrictEqual(
      events.slice(28).map((e) => e.split(" ")[0]).sort(),
      ["0", "0", "0", "0", "0", "0", "1", "1", "1", "1", "1", "1"],
      "the rollback restores both harts",
    );
    strictEqual(events.at(-1)!.split(" ").slice(1).join(" "), "write 104", "sie is restored last");
    await hal.close();
    strictEqual(readEvents(path).length, events.length);
  });
});

/** Runs a script in a child Deno with read and write access to `dir`. */
function child(dir: string, script: string): Deno.ChildProcess {
  const file = `${dir}/child.ts`;
  Deno.writeTextFileSync(file, script);
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", `--allow-read`, `--allow-write=${dir}`, file],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

const RECORD_FIVE_THOUSAND = (path: string) => `
import { recordHal } from "${REPLAY_MOD}";
import { createEmulatorHal } from "${EMULATOR_MOD}";
const hal = await recordHal(await createEmulatorHal({ harts: 2 }), { path: ${
  JSON.stringify(path)
} });
// Fewer events than one flush batch: only the process hooks can save them.
for (let k = 0; k < 5000; k++) await hal.csr.write(k % 2, ${CSR.sscratch}, BigInt(k));
`;

Deno.test("a process killed by an uncaught exception leaves every recorded event in <path>.partial", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/crash.jsonl`;
    const process = child(
      dir,
      RECORD_FIVE_THOUSAND(path) + `throw new Error("the run crashed");\n`,
    );
    const { code, stderr } = await process.output();
    strictEqual(code, 1);
    ok(new TextDecoder().decode(stderr).includes("the run crashed"));
    await rejects(Deno.stat(path), Deno.errors.NotFound, "not renamed: the run did not finish");
    const events = readEvents(`${path}.partial`);
    strictEqual(events.length, 5000);
    strictEqual(events.at(-1), "1 write 140");
  });
});

Deno.test({
  name: "SIGINT in a script without a handler leaves every recorded event in <path>.partial",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir(async (dir) => {
      const path = `${dir}/interrupted.jsonl`;
      const process = child(
        dir,
        RECORD_FIVE_THOUSAND(path) +
          `import { PerCpuSet } from "${PERCPU_MOD}";\n` +
          `await PerCpuSet.init(hal);\n` +
          // Let the writer's idle flush run before saying so.
          `await new Promise((resolve) => setTimeout(resolve, 0));\n` +
          `console.log("ready");\n` +
          `await new Promise((resolve) => setTimeout(resolve, 60_000));\n`,
      );
      const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      ok(seen.includes("ready"), "the child got ready");
      process.kill("SIGINT");
      const status = await process.status;
      await reader.cancel();
      await process.stderr.cancel();
      strictEqual(status.success, false, "the library did not catch the signal");
      await rejects(Deno.stat(path), Deno.errors.NotFound, "not renamed: nothing closed it");
      const events = readEvents(`${path}.partial`);
      strictEqual(events.length, 5000 + 2 * 21, "the writes, then two harts' set-up");
    });
  },
});

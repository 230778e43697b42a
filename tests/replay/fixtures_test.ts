/**
 * The committed reference traces (tests/fixtures/traces/, recorded by
 * scripts/record_fixtures.ts) replayed with no emulator or QEMU behind them.
 */

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError, TraceDivergence } from "../../hal/errors.ts";
import { hex } from "../../hal/hex.ts";
import { boot } from "../../manifest/boot.ts";
import { parseManifest } from "../../manifest/parse.ts";
import { PerCpuSet } from "../../percpu/percpu_set.ts";
import { createReplayHal, diffTraces, readTraceHeader } from "../../plugins/replay/mod.ts";

const TRACES = new URL("../fixtures/traces/", import.meta.url).pathname;

/** The manifest a fixture recorded, with the fixture itself as the backend. */
function replayManifest(name: string, policy?: string) {
  const path = `${TRACES}${name}.jsonl`;
  const recorded = readTraceHeader(path).manifest as { percpu: Record<string, unknown> };
  return parseManifest(JSON.stringify({
    version: 1,
    backend: { plugin: "replay", options: { path, strict: true } },
    percpu: { ...recorded.percpu, ...(policy === undefined ? {} : { policy }) },
  }));
}

for (
  const [name, sieKept] of [["qemu72_4harts_none", 0x0n], [
    "qemu72_4harts_opensbi",
    0x222n,
  ]] as const
) {
  Deno.test(`fixture ${name} replays strictly: set-up, enable and restore on 4 harts`, async () => {
    const header = readTraceHeader(`${TRACES}${name}.jsonl`);
    deepStrictEqual(header.harts, [0, 1, 2, 3]);
    strictEqual(header.profile, "qemu-7.2");
    const system = await boot(replayManifest(name));
    deepStrictEqual([...system.percpus.states().values()], [
      "enabled",
      "enabled",
      "enabled",
      "enabled",
    ]);
    for (const percpu of system.percpus) {
      const kept = Object.fromEntries(percpu.csrReport().map((e) => [e.name, hex(e.kept)]));
      deepStrictEqual(kept, {
        hedeleg: "0xb10d",
        hideleg: "0x444",
        hvip: "0x0",
        hcounteren: "0xffffffffffffffff", // QEMU 7.2 keeps all 64 bits
        sie: hex(sieKept), // mideleg masks sie: OpenSBI delegates the S interrupts, reset does not
      });
    }
    await system.close(); // strict: every recorded event was consumed, the restore included
  });
}

Deno.test("fixture qemu72_no_h replays the H-less CPU: hart 0's probe traps, nothing is written", async () => {
  await rejects(
    boot(replayManifest("qemu72_no_h")),
    (e) =>
      e instanceof AxError && !(e instanceof TraceDivergence) && e.kind === "Unsupported" &&
      e.hart === 0 && /the H extension is absent/.test(e.message) &&
      (e as { rollbackErrors?: unknown[] }).rollbackErrors === undefined,
  );
});

Deno.test("the kvm policy diverges from an arceos recording at the hedeleg write", async () => {
  const path = `${TRACES}qemu72_4harts_opensbi.jsonl`;
  await rejects(boot(replayManifest("qemu72_4harts_opensbi", "kvm")), (e) => {
    ok(e instanceof TraceDivergence, `expected TraceDivergence, got ${e}`);
    // Phase 1 reads all 4 harts (7 events each) before hart 0's first write.
    strictEqual(e.index, 28);
    strictEqual(e.hart, 0);
    strictEqual(e.csr, CSR.hedeleg);
    strictEqual(e.expected, "write hedeleg 0xb10d");
    strictEqual(e.actual, "write hedeleg 0xb109");
    strictEqual(
      e.message,
      `Cannot replay CSR "hedeleg" on hart 0: the run departs from ${path} at event 28: ` +
        `expected write hedeleg 0xb10d, got write hedeleg 0xb109; ` +
        `re-record the trace with "rvhv record <manifest> -o ${path}" if the change is intended`,
    );
    strictEqual(
      (e as { rollbackErrors?: unknown[] }).rollbackErrors,
      undefined,
      "close added nothing",
    );
    return true;
  });
});

Deno.test("a fixture replayed with harts in reverse order still matches (per-hart queues)", async () => {
  const hal = await createReplayHal({ path: `${TRACES}qemu72_4harts_opensbi.jsonl` });
  const set = await PerCpuSet.init(hal, { harts: [3, 2, 1, 0] });
  await set.enableAll();
  await set.disableAll();
  await hal.close();
});

for (const name of ["qemu72_4harts_none", "qemu72_4harts_opensbi", "qemu72_no_h"]) {
  Deno.test(`fixture ${name}, recorded on QEMU 7.2, equals the emulator's qemu-7.2 run event for event`, async () => {
    const fixture = `${TRACES}${name}.jsonl`;
    const header = readTraceHeader(fixture);
    strictEqual(header.backend, "qemu", "the fixtures are recordings of real QEMU");
    const recorded = header.manifest as {
      backend: { options: Record<string, unknown> };
      percpu: Record<string, unknown>;
    };
    const dir = await Deno.makeTempDir();
    try {
      const trace = `${dir}/emulator.jsonl`;
      const manifest = parseManifest(JSON.stringify({
        version: 1,
        backend: {
          plugin: "emulator",
          options: { ...recorded.backend.options, profile: "qemu-7.2" },
        },
        percpu: recorded.percpu,
        record: trace,
      }));
      try {
        const system = await boot(manifest);
        await system.close();
      } catch (error) {
        // The H-less fixture records a set-up that fails; the emulator's must fail the same way.
        ok(name === "qemu72_no_h" && error instanceof AxError && error.kind === "Unsupported");
      }
      const diff = await diffTraces(fixture, trace);
      strictEqual(diff.first, undefined, `first difference: ${JSON.stringify(diff.first)}`);
      deepStrictEqual(diff.header.filter((field) => field !== "backend" && field !== "info"), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

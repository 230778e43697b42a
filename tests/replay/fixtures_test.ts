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
import {
  createReplayHal,
  diffTraces,
  readTraceHeader,
  type TraceDiff,
} from "../../plugins/replay/mod.ts";

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

/** What the set-up kept on every hart, per QEMU version and firmware. */
const KEPT: readonly { name: string; profile: string; kept: Record<string, string> }[] = [
  {
    name: "qemu72_4harts_none",
    profile: "qemu-7.2",
    // QEMU 7.2 keeps all 64 bits of hcounteren; mideleg masks sie and reset delegates nothing.
    kept: { hvip: "0x0", hcounteren: "0xffffffffffffffff", sie: "0x0" },
  },
  {
    name: "qemu72_4harts_opensbi",
    profile: "qemu-7.2",
    kept: { hvip: "0x0", hcounteren: "0xffffffffffffffff", sie: "0x222" },
  },
  {
    name: "qemu10_4harts_none",
    profile: "qemu-10.0",
    // QEMU 10.0: hcounteren keeps the implemented counters; hvip reads all of mip, and
    // without firmware mtimecmp is 0, so MTIP is pending.
    kept: { hvip: "0x80", hcounteren: "0x7ffff", sie: "0x0" },
  },
  {
    name: "qemu10_4harts_opensbi",
    profile: "qemu-10.0",
    // OpenSBI 1.6 programs mtimecmp to all ones: no MTIP, hvip reads 0.
    kept: { hvip: "0x0", hcounteren: "0x7ffff", sie: "0x222" },
  },
];

for (const { name, profile, kept } of KEPT) {
  Deno.test(`fixture ${name} replays strictly: set-up, enable and restore on 4 harts`, async () => {
    const header = readTraceHeader(`${TRACES}${name}.jsonl`);
    deepStrictEqual(header.harts, [0, 1, 2, 3]);
    strictEqual(header.profile, profile);
    const system = await boot(replayManifest(name));
    deepStrictEqual([...system.percpus.states().values()], [
      "enabled",
      "enabled",
      "enabled",
      "enabled",
    ]);
    for (const percpu of system.percpus) {
      const found = Object.fromEntries(percpu.csrReport().map((e) => [e.name, hex(e.kept)]));
      deepStrictEqual(found, { hedeleg: "0xb10d", hideleg: "0x444", ...kept });
    }
    await system.close(); // strict: every recorded event was consumed, the restore included
  });
}

for (const name of ["qemu72_no_h", "qemu10_no_h"]) {
  Deno.test(`fixture ${name} replays the H-less CPU: hart 0's probe traps, nothing is written`, async () => {
    await rejects(
      boot(replayManifest(name)),
      (e) =>
        e instanceof AxError && !(e instanceof TraceDivergence) && e.kind === "Unsupported" &&
        e.hart === 0 && /the H extension is absent/.test(e.message) &&
        (e as AxError).rollbackErrors === undefined,
    );
  });
}

Deno.test("the kvm policy diverges from an arceos recording at the hedeleg write", async () => {
  const path = `${TRACES}qemu72_4harts_opensbi.jsonl`;
  await rejects(boot(replayManifest("qemu72_4harts_opensbi", "kvm")), (e) => {
    ok(e instanceof TraceDivergence, `expected TraceDivergence, got ${e}`);
    // Phase 1 reads all 4 harts (7 events each) before hart 0's first write.
    strictEqual(e.index, 28);
    strictEqual(e.hart, 0);
    strictEqual(e.csr, CSR.hedeleg);
    strictEqual(e.expected, "write hedeleg 0xb10d");
    strictEqual(e.actual, "write hedeleg 0x0");
    strictEqual(
      e.message,
      `Cannot replay CSR "hedeleg" on hart 0: the run departs from ${path} at event 28: ` +
        `expected write hedeleg 0xb10d, got write hedeleg 0x0; ` +
        `re-record the trace with "rvhv record <manifest> -o ${path}" if the change is intended`,
    );
    strictEqual(
      (e as AxError).rollbackErrors,
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

/**
 * Runs a fixture's manifest on the emulator with a profile, recording, and
 * diffs that recording against the fixture.
 */
async function diffWithEmulator(name: string, profile: string): Promise<TraceDiff> {
  const fixture = `${TRACES}${name}.jsonl`;
  const recorded = readTraceHeader(fixture).manifest as {
    backend: { options: Record<string, unknown> };
    percpu: Record<string, unknown>;
  };
  const dir = await Deno.makeTempDir();
  try {
    const trace = `${dir}/emulator.jsonl`;
    const manifest = parseManifest(JSON.stringify({
      version: 1,
      backend: { plugin: "emulator", options: { ...recorded.backend.options, profile } },
      percpu: recorded.percpu,
      record: trace,
    }));
    try {
      const system = await boot(manifest);
      await system.close();
    } catch (error) {
      // The H-less fixture records a set-up that fails; the emulator's must fail the same way.
      ok(name.endsWith("_no_h") && error instanceof AxError && error.kind === "Unsupported");
    }
    return await diffTraces(fixture, trace);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const [name, profile] of [
    ["qemu72_4harts_none", "qemu-7.2"],
    ["qemu72_4harts_opensbi", "qemu-7.2"],
    ["qemu72_no_h", "qemu-7.2"],
    ["qemu10_4harts_none", "qemu-10.0"],
    ["qemu10_4harts_opensbi", "qemu-10.0"],
    ["qemu10_no_h", "qemu-10.0"],
  ] as const
) {
  Deno.test(`fixture ${name}, recorded on real QEMU, equals the emulator's ${profile} run event for event`, async () => {
    const fixture = `${TRACES}${name}.jsonl`;
    const header = readTraceHeader(fixture);
    strictEqual(header.backend, "qemu", "the fixtures are recordings of real QEMU");
    strictEqual(header.profile, profile, "recorded on the QEMU version the profile models");
    const diff = await diffWithEmulator(name, profile);
    strictEqual(diff.first, undefined, `first difference: ${JSON.stringify(diff.first)}`);
    deepStrictEqual(diff.header.filter((field) => field !== "backend" && field !== "info"), []);
  });
}

Deno.test("the QEMU 10.0 fixtures tell the versions apart: the qemu-7.2 profile departs from them", async () => {
  // Under OpenSBI the priors agree; the set-up's hcounteren read-back is where
  // 10.0's 0x7ffff meets 7.2's all ones.
  const opensbi = await diffWithEmulator("qemu10_4harts_opensbi", "qemu-7.2");
  strictEqual(opensbi.first?.a?.csr, CSR.hcounteren);
  strictEqual(opensbi.first?.a?.ret, 0x7ffffn);
  strictEqual(opensbi.first?.b?.ret, (1n << 64n) - 1n);
  // Without firmware the first prior read differs: hvip shows MTIP on 10.0.
  const none = await diffWithEmulator("qemu10_4harts_none", "qemu-7.2");
  strictEqual(none.first?.a?.csr, CSR.hvip);
  strictEqual(none.first?.a?.ret, 0x80n);
  strictEqual(none.first?.b?.ret, 0n);
});

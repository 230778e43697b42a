/**
 * Polly's "respect request order" test for every backend available here:
 * run the per-CPU set-up (create, enable, disable) while recording, replay
 * the trace strictly with the same code, and require the identical per-CPU
 * state and nothing left unconsumed. The replay is itself recorded, and
 * that recording must equal the first.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { AxVCpuHal } from "../../hal/types.ts";
import { BUILTIN_PLUGINS } from "../../manifest/registry.ts";
import { loadPlugin } from "../../manifest/registry.ts";
import { PerCpuSet } from "../../percpu/percpu_set.ts";
import type { PolicySpec } from "../../percpu/policy.ts";
import { describeHart, type HartDescription } from "../../percpu/report.ts";
import { createEmulatorHal } from "../../plugins/emulator/mod.ts";
import { createReplayHal, diffTraces, recordHal } from "../../plugins/replay/mod.ts";
import { SpyHal } from "../_helpers/spy_hal.ts";
import { withTempDir } from "../_helpers/traces.ts";

/** Runs create → enable → disable; returns what each hart looked like while enabled. */
async function run(hal: AxVCpuHal, policy: PolicySpec): Promise<HartDescription[]> {
  const set = await PerCpuSet.init(hal, { policy });
  await set.enableAll();
  const enabled = [...set].map((percpu) => describeHart(percpu));
  await set.disableAll();
  deepStrictEqual([...set.states().values()], hal.harts.map(() => "disabled"));
  return enabled;
}

async function hasQemu(): Promise<boolean> {
  if (!BUILTIN_PLUGINS.has("qemu")) return false;
  try {
    const { success } = await new Deno.Command("qemu-system-riscv64", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const BACKENDS: { name: string; ignore?: boolean; create(): Promise<AxVCpuHal> }[] = [
  { name: "emulator (spec)", create: () => createEmulatorHal({ harts: 4, profile: "spec" }) },
  {
    name: "emulator (qemu-7.2, firmware none)",
    create: () => createEmulatorHal({ harts: 4, profile: "qemu-7.2", firmware: "none" }),
  },
  {
    // No batchSync: the harts are set up concurrently and interleave in the trace.
    name: "asynchronous backend (emulator behind a promise per access)",
    create: async () => new SpyHal(await createEmulatorHal({ harts: 8 })),
  },
  {
    name: "replay (the committed qemu72_4harts_opensbi fixture)",
    create: () =>
      createReplayHal({
        path: new URL("../fixtures/traces/qemu72_4harts_opensbi.jsonl", import.meta.url).pathname,
      }),
  },
  {
    name: "qemu (when the backend and qemu-system-riscv64 are present)",
    ignore: !(await hasQemu()),
    create: async () => {
      const plugin = await loadPlugin("qemu");
      return await plugin.create(plugin.parseOptions({ harts: 4 }));
    },
  },
];

for (const backend of BACKENDS) {
  Deno.test({
    name: `round trip on ${backend.name}: record → strict replay → identical state`,
    ignore: backend.ignore ?? false,
    async fn() {
      await withTempDir(async (dir) => {
        const first = `${dir}/first.jsonl`;
        const recording = await recordHal(await backend.create(), {
          path: first,
        });
        const recorded = await run(recording, "arceos");
        await recording.close();

        const replay = await createReplayHal({ path: first, strict: true });
        const second = `${dir}/second.jsonl`;
        const rerecording = await recordHal(replay, { path: second });
        const replayed = await run(rerecording, "arceos");
        deepStrictEqual(replayed, recorded);
        strictEqual(replay.consumed, recording.recording.events);
        await rerecording.close(); // strict: rejects if anything was left unconsumed

        const diff = await diffTraces(first, second);
        strictEqual(diff.equal, true, JSON.stringify(diff.first));
        strictEqual(diff.b.events, diff.a.events);
      });
    },
  });
}

#!/usr/bin/env -S deno run --allow-read --allow-write
/**
 * Record the set-up of an emulated machine to a trace, replay it strictly
 * with nothing behind it, then replay it under another policy and see where
 * the run departs from the recording.
 *
 * Run: deno run --allow-read --allow-write examples/replay.ts
 */

import { PerCpuSet, TraceDivergence } from "../mod.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { createReplayHal, recordHal } from "../plugins/replay/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "rvhv-example-" });
const trace = `${dir}/setup.jsonl`;
try {
  // Record: the recorder wraps any backend and behaves exactly like it.
  const hal = await recordHal(await createEmulatorHal({ harts: 2 }), { path: trace });
  const recorded = await PerCpuSet.init(hal);
  await recorded.enableAll();
  await recorded.disableAll();
  await hal.close(); // renames setup.jsonl.partial to setup.jsonl
  console.log(`recorded ${hal.recording.events} CSR accesses to ${trace}`);

  // Replay: the same code, answered from the trace alone.
  const replay = await createReplayHal({ path: trace, strict: true });
  const replayed = await PerCpuSet.init(replay);
  await replayed.enableAll();
  await replayed.disableAll();
  await replay.close(); // strict: every recorded event was asked for
  console.log("strict replay: identical");

  // Another policy asks for something else: the first difference is named.
  const other = await createReplayHal({ path: trace, strict: true });
  try {
    await PerCpuSet.init(other, { policy: "kvm" });
  } catch (error) {
    if (!(error instanceof TraceDivergence)) throw error;
    console.log(
      `kvm policy: event ${error.index}, hart ${error.hart}: ${error.expected} → ${error.actual}`,
    );
  } finally {
    await other.close().catch(() => {}); // unconsumed events are expected here
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

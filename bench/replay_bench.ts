/**
 * Record and replay, measured in the same run as their floors:
 *
 * - recording overhead: the per-CPU set-up, enable and restore of many
 *   emulated harts, recorded (trace finished and renamed included) against
 *   the same work un-recorded; and the same for single awaited accesses;
 * - replay: a 1-million-event trace (generated into a temporary folder by
 *   recording that workload, removed afterwards) replayed strictly through
 *   the same per-CPU code, against plain `JSON.parse` of the same lines, and
 *   the heap replay holds while it streams the trace.
 */

import { CSR } from "../hal/csr_numbers.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { ACCESSES_PER_HART } from "./_setup_steps.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { createReplayHal, recordHal } from "../plugins/replay/mod.ts";
import type { Figure } from "./figure.ts";
import { gc, median } from "./figure.ts";

/** Harts per round: 3704 × 27 events, about 100,000 a round. */
const HARTS = 3704;
/** The events of one hart's set-up, enable and disable. */
const EVENTS_PER_HART = ACCESSES_PER_HART;
/** Rounds of the trace: 10 × 100,008 = 1,000,080 events. */
const TRACE_ROUNDS = 10;
const OVERHEAD_ROUNDS = 15;
const WARMUP = 3;
const SINGLE_ACCESSES = 100_000;

/** The workload: set up every hart, enable, disable (restoring the priors). */
async function workload(hal: AxVCpuHal): Promise<void> {
  const set = await PerCpuSet.init(hal);
  await set.enableAll();
  await set.disableAll();
}

async function singleAccesses(hal: AxVCpuHal): Promise<void> {
  for (let k = 0; k < SINGLE_ACCESSES; k++) {
    await hal.csr.write(k & 3, CSR.sscratch, BigInt(k));
  }
}

/** Median time of `run` on a fresh emulator, plain and recorded (close included in both). */
async function overhead(
  dir: string,
  harts: number,
  run: (hal: AxVCpuHal) => Promise<void>,
): Promise<{ plain: number; recorded: number; events: number }> {
  const plain: number[] = [];
  const recorded: number[] = [];
  let events = 0;
  for (let round = 0; round < OVERHEAD_ROUNDS + WARMUP; round++) {
    const bare = await createEmulatorHal({ harts });
    gc();
    let start = performance.now();
    await run(bare);
    await bare.close();
    const plainMs = performance.now() - start;

    const inner = await createEmulatorHal({ harts });
    gc();
    start = performance.now();
    // A new file each round: renaming over an existing file makes ext4 write it back at once
    // (auto_da_alloc), a cost of the file system, not of recording.
    const path = `${dir}/overhead_${round}.jsonl`;
    const hal = await recordHal(inner, { path });
    await run(hal);
    await hal.close();
    const recordedMs = performance.now() - start;
    events = hal.recording.events;
    await Deno.remove(path);
    if (round >= WARMUP) {
      plain.push(plainMs);
      recorded.push(recordedMs);
    }
  }
  return { plain: median(plain), recorded: median(recorded), events };
}

function heapBytes(): number {
  return Deno.memoryUsage().heapUsed;
}

/** Runs the record/replay benchmark. */
export async function benchReplay(): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv_bench_" });
  try {
    // 1. Recording overhead on the set-up workload and on single awaited accesses.
    const setup = await overhead(dir, HARTS, workload);
    if (setup.events !== HARTS * EVENTS_PER_HART) {
      throw new Error(`expected ${HARTS * EVENTS_PER_HART} events, recorded ${setup.events}`);
    }
    const single = await overhead(dir, 4, singleAccesses);

    // 2. The 1-million-event trace.
    const path = `${dir}/million.jsonl`;
    const recording = await recordHal(await createEmulatorHal({ harts: HARTS }), {
      path,
    });
    for (let round = 0; round < TRACE_ROUNDS; round++) await workload(recording);
    await recording.close();
    const events = recording.recording.events;
    const bytes = (await Deno.stat(path)).size;

    // 3. Replay it strictly through the same code, sampling the heap after each round.
    const replayTimes: number[] = [];
    const heapGrowth: number[] = [];
    for (let run = 0; run < 3; run++) {
      gc();
      const before = heapBytes();
      const start = performance.now();
      const replay = await createReplayHal({ path, strict: true });
      for (let round = 0; round < TRACE_ROUNDS; round++) {
        await workload(replay);
        if (run === 0) {
          gc();
          heapGrowth.push(heapBytes() - before);
        }
      }
      await replay.close();
      if (replay.consumed !== events) throw new Error("replay did not consume the trace");
      // The first run sampled the heap (and paid for gc); time the others.
      if (run > 0) replayTimes.push(performance.now() - start);
    }
    const replayMs = median(replayTimes);

    // 4. The floor: JSON.parse of the same lines, already in memory.
    const lines = (await Deno.readTextFile(path)).split("\n");
    lines.pop();
    const parseTimes: number[] = [];
    for (let run = 0; run < 3; run++) {
      let check = 0;
      const start = performance.now();
      for (let k = 1; k < lines.length; k++) check += JSON.parse(lines[k]!).i;
      parseTimes.push(performance.now() - start);
      if (check !== (events * (events - 1)) / 2) throw new Error("JSON.parse lost events");
    }
    const parseMs = median(parseTimes);
    const rate = events / (replayMs / 1000);

    return [
      {
        name: `record.setup.plain.${HARTS}harts`,
        value: setup.plain,
        unit: "ms",
      },
      {
        name: `record.setup.recorded.${HARTS}harts`,
        value: setup.recorded,
        unit: "ms",
      },
      {
        name: "record.setup.overhead",
        value: setup.recorded / setup.plain,
        unit: "x",
        floor: `record.setup.plain.${HARTS}harts`,
        target: "<= 1.5",
        ok: setup.recorded / setup.plain <= 1.5,
      },
      {
        name: "record.setup.ns_per_event",
        value: ((setup.recorded - setup.plain) * 1e6) / setup.events,
        unit: "ns",
      },
      { name: "record.single_access.plain", value: single.plain, unit: "ms" },
      { name: "record.single_access.recorded", value: single.recorded, unit: "ms" },
      {
        name: `record.single_access.overhead`,
        value: single.recorded / single.plain,
        unit: "x",
        floor: "record.single_access.plain",
        target: "<= 2",
        ok: single.recorded / single.plain <= 2,
      },
      { name: "replay.trace_events", value: events, unit: "events" },
      { name: "replay.trace_bytes_per_event", value: bytes / events, unit: "B" },
      { name: "replay.strict.1m_events", value: replayMs, unit: "ms" },
      {
        name: "replay.events_per_second",
        value: rate / 1e6,
        unit: "M/s",
        target: ">= 1",
        ok: rate >= 1e6,
      },
      { name: "replay.json_parse_floor", value: parseMs, unit: "ms" },
      {
        name: "replay.vs_json_parse",
        value: replayMs / parseMs,
        unit: "x",
        floor: "replay.json_parse_floor",
      },
      // Constant memory: what replay holds after 100 thousand events and after a million.
      {
        name: "replay.heap_after_100k_events",
        value: heapGrowth[0]! / (1024 * 1024),
        unit: "MiB",
      },
      {
        name: "replay.heap_after_1m_events",
        value: heapGrowth.at(-1)! / (1024 * 1024),
        unit: "MiB",
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

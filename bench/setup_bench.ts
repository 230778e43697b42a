/**
 * Set-up of many emulated harts through the public API, against a raw
 * typed-array loop doing the same CSR work, measured in the same run.
 */

import { machineOf } from "../plugins/emulator/emulator_hal.ts";
import { CSR } from "../hal/csr_numbers.ts";
import { VS_INTERRUPTS } from "../hal/csr_fields.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { ARCEOS_POLICY, PRIOR_CSRS, SETUP_CSR_NAMES, setupOperations } from "../percpu/policy.ts";
import { encodeOps, wordResults } from "../hal/_word_batch.ts";
import type { CsrOp } from "../hal/types.ts";
import { createEmulatorHal, type EmulatorHal } from "../plugins/emulator/mod.ts";
import { BYTES_PER_HART } from "../plugins/emulator/machine.ts";
import { SLOT, SLOT_COUNT } from "../plugins/emulator/slots.ts";
import type { Figure } from "./figure.ts";
import { gc, median } from "./figure.ts";

const HARTS = 4096;
/** Timed rounds after the warm-up; each on a fresh emulator. */
const ROUNDS = 21;
const WARMUP = 10;

/**
 * The same accesses as the set-up (probe, priors, the nine operations,
 * read-back) executed directly by the emulator's CSR model, hart after hart,
 * in the form the set-up runs them: one batch of words per hart, no runtime,
 * no per-CPU state.
 */
function setUpOnModel(hal: EmulatorHal): () => void {
  const reads = (names: readonly string[]) =>
    names.map((name): CsrOp => ({ op: "read", csr: CSR[name as keyof typeof CSR] }));
  const batch = encodeOps([
    { op: "read", csr: CSR.hgatp },
    ...reads(PRIOR_CSRS),
    ...setupOperations(ARCEOS_POLICY),
    ...reads(SETUP_CSR_NAMES),
  ]);
  const results = wordResults(batch.length);
  const machine = machineOf(hal);
  const file = machine.profile.file;
  return () => {
    for (let hart = 0; hart < HARTS; hart++) {
      if (file.runWords(machine.context(hart), batch, results) !== 0) throw new Error("a trap");
    }
  };
}

/**
 * The floor: the same accesses the set-up makes (probe, 6 prior reads, the
 * nine operations with the spec profile's masks, 5 read-backs, the stick
 * check) on a bare BigUint64Array, no dispatch, no promises.
 */
function rawSetup(slots: BigUint64Array, harts: number): bigint {
  const HEDELEG_MASK = 0xb1ffn;
  const VS = VS_INTERRUPTS;
  const HEDELEG = ARCEOS_POLICY.hedeleg;
  const HIDELEG = ARCEOS_POLICY.hideleg;
  const S = 0x222n;
  const COUNTEREN = 0xffff_ffffn;
  let checksum = 0n;
  for (let hart = 0; hart < harts; hart++) {
    const base = hart * SLOT_COUNT;
    const hasH = (slots[base + SLOT.misa]! & 0x80n) !== 0n;
    if (!hasH) continue;
    const probe = slots[base + SLOT.hgatp]!;
    const priors = [
      slots[base + SLOT.hedeleg]!,
      slots[base + SLOT.hideleg]!,
      slots[base + SLOT.mip]! & VS,
      slots[base + SLOT.hcounteren]!,
      slots[base + SLOT.mie]! & (slots[base + SLOT.mideleg]! & S),
      (slots[base + SLOT.mie]! & (slots[base + SLOT.hideleg]! & VS)) >> 1n,
    ];
    slots[base + SLOT.hedeleg] = HEDELEG & HEDELEG_MASK;
    slots[base + SLOT.hideleg] = HIDELEG & VS;
    for (const bit of [0x4n, 0x40n, 0x400n]) {
      slots[base + SLOT.mip] = slots[base + SLOT.mip]! & ~(bit & VS);
    }
    slots[base + SLOT.hcounteren] = (1n << 64n) - 1n & COUNTEREN;
    for (const bit of [0x200n, 0x2n, 0x20n]) {
      const mask = (slots[base + SLOT.mideleg]! | VS) & S;
      slots[base + SLOT.mie] = slots[base + SLOT.mie]! | (bit & mask);
    }
    const kept = [
      slots[base + SLOT.hedeleg]!,
      slots[base + SLOT.hideleg]!,
      slots[base + SLOT.mip]! & VS,
      slots[base + SLOT.hcounteren]!,
      slots[base + SLOT.mie]! & ((slots[base + SLOT.mideleg]! | VS) & S),
    ];
    if ((kept[0]! ^ HEDELEG) !== 0n || (kept[1]! ^ HIDELEG) !== 0n) {
      throw new Error("did not stick");
    }
    checksum += probe + priors[0]! + kept[4]!;
  }
  return checksum;
}

function heapBytes(): number {
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

/**
 * Runs the set-up benchmark. Every round measures what a user's run costs:
 * a fresh emulator (created untimed, as a user's is before the set-up),
 * `PerCpuSet.init` then `enableAll()`; the floor runs on a fresh copy of the
 * same reset state, so both start from memory just written and neither
 * reuses the other's allocations. The heap is collected before each timed
 * part, as a new process starts with an empty one.
 */
export async function benchSetup(): Promise<Figure[]> {
  const apiTimes: number[] = [];
  const rawTimes: number[] = [];
  const modelTimes: number[] = [];
  const createTimes: number[] = [];
  let last: { hal: EmulatorHal; set: PerCpuSet; raw: BigUint64Array } | undefined;
  for (let round = 0; round < ROUNDS + WARMUP; round++) {
    let start = performance.now();
    const hal = await createEmulatorHal({ harts: HARTS });
    const create = performance.now() - start;
    const raw = machineOf(hal).slots.slice();
    gc();
    start = performance.now();
    const set = await PerCpuSet.init(hal);
    await set.enableAll();
    const api = performance.now() - start;
    gc();
    start = performance.now();
    rawSetup(raw, HARTS);
    const floor = performance.now() - start;
    if (round >= WARMUP) {
      apiTimes.push(api);
      rawTimes.push(floor);
      createTimes.push(create);
    }
    // Checked once, after the last round: the check's own garbage, between rounds, would
    // change how the engine compiles the code the next round runs.
    if (last !== undefined) await last.hal.close();
    last = { hal, set, raw };
  }
  // Both did the same work: every hart's slots agree.
  const slots = machineOf(last!.hal).slots;
  for (let hart = 0; hart < HARTS; hart++) {
    for (const name of ["hedeleg", "hideleg", "hcounteren", "mie", "mip"] as const) {
      const slot = hart * SLOT_COUNT + SLOT[name];
      if (last!.raw[slot] !== slots[slot]) {
        throw new Error(`raw loop and API disagree on hart ${hart} ${name}`);
      }
    }
  }
  if (last!.set.get(HARTS - 1).state !== "enabled" || slots[SLOT.hedeleg] !== 0xb10dn) {
    throw new Error("set-up did not run");
  }
  await last!.hal.close();
  // The model alone, in rounds of its own: run between the API's rounds, its calls would
  // change how the engine compiles the code the API runs, which no user's run does.
  for (let round = 0; round < ROUNDS + WARMUP; round++) {
    const bare = await createEmulatorHal({ harts: HARTS });
    const model = setUpOnModel(bare);
    gc();
    const start = performance.now();
    model();
    const throughModel = performance.now() - start;
    await bare.close();
    if (round >= WARMUP) modelTimes.push(throughModel);
  }

  // Memory: one machine of HARTS harts, and the per-CPU states on top of it.
  gc();
  const before = heapBytes();
  const big = await createEmulatorHal({ harts: HARTS });
  gc();
  const withMachine = heapBytes();
  const set = await PerCpuSet.init(big);
  gc();
  const withPerCpu = heapBytes();
  const apiMs = median(apiTimes);
  const rawMs = median(rawTimes);
  const figures: Figure[] = [
    { name: `setup.api.${HARTS}harts`, value: apiMs, unit: "ms" },
    { name: `setup.create_emulator.${HARTS}harts`, value: median(createTimes), unit: "ms" },
    { name: `setup.raw.${HARTS}harts`, value: rawMs, unit: "ms" },
    {
      name: "setup.api_vs_raw",
      value: apiMs / rawMs,
      unit: "x",
      floor: "setup.raw",
      target: "<= 5",
      ok: apiMs / rawMs <= 5,
    },
    { name: "setup.per_hart", value: (apiMs * 1000) / HARTS, unit: "us" },
    // Where the time goes: the same 21 accesses per hart straight into the
    // emulator's CSR model (its profile's WARL logic in words, no runtime,
    // no per-CPU state, no promises).
    { name: `setup.model.${HARTS}harts`, value: median(modelTimes), unit: "ms" },
    {
      name: "setup.api_vs_model",
      value: apiMs / median(modelTimes),
      unit: "x",
      floor: "setup.model",
    },
    {
      name: "emulator.csr_state_bytes_per_hart",
      value: BYTES_PER_HART,
      unit: "B",
      target: "<= 1024",
      ok: BYTES_PER_HART <= 1024,
    },
    {
      name: "emulator.heap_bytes_per_hart",
      value: (withMachine - before) / HARTS,
      unit: "B",
      target: "<= 1024",
      ok: (withMachine - before) / HARTS <= 1024,
    },
    { name: "percpu.heap_bytes_per_hart", value: (withPerCpu - withMachine) / HARTS, unit: "B" },
  ];
  // Keep the measured objects alive until measured.
  if (set.harts.length !== HARTS) throw new Error("unexpected hart count");
  await big.close();
  return figures;
}

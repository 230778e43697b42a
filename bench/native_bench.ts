/**
 * Native access on real QEMU (the set-up executed by the harts themselves,
 * in HS-mode under QEMU's real OpenSBI):
 *
 * - boot to parked: from spawning QEMU until every hart has parked in the
 *   agent, 4 and 64 harts (one TCG thread for all harts: no hart of the
 *   agent spins, so that is the fastest at both sizes; 64 threads on a
 *   2-core host took 6–8× longer to park 64 harts when measured: 1.7–4.4 s
 *   against 0.35 s on QEMU 7.2.22);
 * - the round trip of one batch: one CSR read on one hart, and one on each
 *   of 64 harts in the same resume;
 * - the verified set-up of 64 harts through `PerCpuSet.init` on a booted VM,
 *   and the whole run (spawn → boot → set-up → quit).
 *
 * The same figures for QEMU 10.0 when it is installed (`RVHV_QEMU10`, or the
 * default prefix of `scripts/install-qemu10.sh`). Skipped, with the reason
 * printed, when QEMU is not installed.
 */

import { CSR } from "../hal/csr_numbers.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { createQemuHal, type QemuHal } from "../plugins/qemu/mod.ts";
import type { Figure } from "./figure.ts";
import { installed, median, qemuVersion } from "./figure.ts";

const RUNS = 5;
const ROUND_TRIPS = 50;

function qemu10(): string | undefined {
  const named = Deno.env.get("RVHV_QEMU10");
  if (named) return named;
  const home = Deno.env.get("HOME");
  const launcher = `${home}/.cache/rvhv/qemu-10.0/qemu-system-riscv64`;
  return home !== undefined && installed(launcher) ? launcher : undefined;
}

/** Spawn → every hart parked, in ms, as the backend measured it. */
async function bootToParked(qemu: string, harts: number): Promise<number> {
  const hal = await createQemuHal({ harts, qemu, access: "native" });
  try {
    return (hal.info().agent as { bootMs: number }).bootMs;
  } finally {
    await hal.close();
  }
}

async function roundTrips(hal: QemuHal, harts: readonly number[], n: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await Promise.all(harts.map((hart) => hal.csr.read(hart, CSR.sscratch)));
    samples.push(performance.now() - start);
  }
  return median(samples);
}

async function setups(hal: QemuHal): Promise<number> {
  const samples: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    const set = await PerCpuSet.init(hal);
    samples.push(performance.now() - start);
    for (const hart of hal.harts) {
      if ((await hal.csr.read(hart, CSR.hedeleg)) !== 0xb10dn) throw new Error("not set up");
    }
    await Promise.all([...set].map((percpu) => percpu.restorePriors()));
  }
  return median(samples);
}

async function wholeRun(qemu: string, harts: number): Promise<number> {
  const start = performance.now();
  const hal = await createQemuHal({ harts, qemu, access: "native" });
  try {
    await PerCpuSet.init(hal);
  } finally {
    await hal.close();
  }
  return performance.now() - start;
}

async function figuresFor(qemu: string, prefix: string): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const harts of [4, 64]) {
    const samples: number[] = [];
    for (let run = 0; run < RUNS; run++) samples.push(await bootToParked(qemu, harts));
    figures.push({
      name: `${prefix}.boot_to_parked.${harts}harts`,
      value: median(samples),
      unit: "ms",
    });
  }
  const hal = await createQemuHal({ harts: 64, qemu, access: "native" });
  try {
    await roundTrips(hal, hal.harts, 3); // warm-up: the programs are in the code cache
    figures.push(
      {
        name: `${prefix}.batch_round_trip.1hart`,
        value: await roundTrips(hal, [1], ROUND_TRIPS),
        unit: "ms",
      },
      {
        name: `${prefix}.batch_round_trip.64harts`,
        value: await roundTrips(hal, hal.harts, ROUND_TRIPS),
        unit: "ms",
      },
      { name: `${prefix}.setup.64harts`, value: await setups(hal), unit: "ms" },
    );
  } finally {
    await hal.close();
  }
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) runs.push(await wholeRun(qemu, 64));
  figures.push({ name: `${prefix}.run.64harts`, value: median(runs), unit: "ms" });
  const on = qemuVersion(qemu);
  return figures.map((figure) => ({ ...figure, on }));
}

/** Runs the native-access benchmark; `[]` (with the reason on stderr) when QEMU is absent. */
export async function benchNative(): Promise<Figure[]> {
  const qemu = Deno.env.get("RVHV_QEMU") || "qemu-system-riscv64";
  if (!installed(qemu)) {
    console.error(
      `native benchmark skipped: "${qemu}" is not installed (apt-get install --no-install-recommends qemu-system-misc)`,
    );
    return [];
  }
  const figures = await figuresFor(qemu, "native");
  const ten = qemu10();
  if (ten === undefined || !installed(ten)) {
    console.error(
      "native benchmark on QEMU 10.0 skipped: not installed (RVHV_QEMU10, or scripts/install-qemu10.sh)",
    );
    return figures;
  }
  return [...figures, ...await figuresFor(ten, "native.qemu10")];
}

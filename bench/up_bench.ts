/**
 * The whole command at scale: `rvhv up --json` (and the text table) of
 * 65,536 emulated harts against the same command on one hart, each run as
 * a user runs it, in its own `deno run` process with the permissions the
 * README gives. Per run: wall time from spawn to exit and the process's
 * peak RSS (printed at exit by the preloaded `bench/_peak_rss.ts`). The
 * JSON output is parsed: it must be one document with every hart. Needs a
 * POSIX `sh`.
 */

import type { Figure } from "./figure.ts";
import { median } from "./figure.ts";

const BIG = 65536;
const RUNS = 3;
const CLI = new URL("../cli/main.ts", import.meta.url).pathname;
const PEAK_RSS = new URL("./_peak_rss.ts", import.meta.url).pathname;

interface Run {
  ms: number;
  peakKiB: number;
  stdout: Uint8Array;
}

async function up(manifest: string, json: boolean): Promise<Run> {
  const start = performance.now();
  // Through `sh`, which forks the run rather than exec'ing it: Linux carries a
  // process's peak RSS across fork and exec, so a run forked by this large
  // bench process would report the bench's peak, not its own.
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      '"$0" "$@"; exit $?',
      Deno.execPath(),
      "run",
      "--allow-read",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      `--preload=${PEAK_RSS}`,
      CLI,
      "up",
      ...(json ? ["--json"] : []),
      manifest,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - start;
  const stderr = new TextDecoder().decode(out.stderr);
  const peak = /\{"peakRssKiB":(\d+)\}/.exec(stderr)?.[1];
  if (!out.success || peak === undefined) {
    throw new Error(`rvhv up ${manifest} failed (exit ${out.code}): ${stderr}`);
  }
  return { ms, peakKiB: Number(peak), stdout: out.stdout };
}

function checkJson(run: Run, harts: number): void {
  const document = JSON.parse(new TextDecoder().decode(run.stdout));
  if (document.harts.length !== harts || document.harts.at(-1).id !== harts - 1) {
    throw new Error(`rvhv up --json printed ${document.harts.length} harts, expected ${harts}`);
  }
}

function checkTable(run: Run, harts: number): void {
  // A header line, then one line per hart.
  let lines = 0;
  for (const byte of run.stdout) if (byte === 0x0a) lines++;
  if (lines !== harts + 1) throw new Error(`rvhv up printed ${lines} lines for ${harts} harts`);
}

async function measure(
  manifests: Map<number, string>,
  json: boolean,
): Promise<{ small: Run[]; big: Run[] }> {
  const small: Run[] = [];
  const big: Run[] = [];
  // Warm Deno's module cache, so no run pays for compiling the CLI.
  await up(manifests.get(1)!, json);
  for (let run = 0; run < RUNS; run++) {
    const one = await up(manifests.get(1)!, json);
    const many = await up(manifests.get(BIG)!, json);
    if (json) {
      checkJson(one, 1);
      checkJson(many, BIG);
    } else {
      checkTable(one, 1);
      checkTable(many, BIG);
    }
    // Keep only the figures: the outputs are large.
    small.push({ ...one, stdout: new Uint8Array() });
    big.push({ ...many, stdout: new Uint8Array() });
  }
  return { small, big };
}

function figuresOf(kind: string, runs: { small: Run[]; big: Run[] }): Figure[] {
  const smallMs = median(runs.small.map((r) => r.ms));
  const bigMs = median(runs.big.map((r) => r.ms));
  const smallKiB = median(runs.small.map((r) => r.peakKiB));
  const bigKiB = median(runs.big.map((r) => r.peakKiB));
  const perHart = ((bigKiB - smallKiB) * 1024) / (BIG - 1);
  const extraMs = bigMs - smallMs;
  const targeted = kind === "json";
  return [
    { name: `up.${kind}.1hart.ms`, value: smallMs, unit: "ms" },
    { name: `up.${kind}.${BIG}harts.ms`, value: bigMs, unit: "ms" },
    {
      name: `up.${kind}.${BIG}harts.extra_ms`,
      value: extraMs,
      unit: "ms",
      floor: `up.${kind}.1hart.ms`,
      ...(targeted ? { target: "<= 2000", ok: extraMs <= 2000 } : {}),
    },
    { name: `up.${kind}.1hart.peak_rss`, value: smallKiB / 1024, unit: "MiB" },
    { name: `up.${kind}.${BIG}harts.peak_rss`, value: bigKiB / 1024, unit: "MiB" },
    {
      name: `up.${kind}.rss_bytes_per_hart`,
      value: perHart,
      unit: "B",
      floor: `up.${kind}.1hart.peak_rss`,
      ...(targeted ? { target: "<= 1024", ok: perHart <= 1024 } : {}),
    },
  ];
}

/** Runs the whole-command benchmark. */
export async function benchUp(): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv_bench_up_" });
  try {
    const manifests = new Map<number, string>();
    for (const harts of [1, BIG]) {
      const path = `${dir}/harts_${harts}.yaml`;
      await Deno.writeTextFile(
        path,
        `version: 1\nbackend:\n  plugin: emulator\n  options:\n    harts: ${harts}\n`,
      );
      manifests.set(harts, path);
    }
    return [
      ...figuresOf("json", await measure(manifests, true)),
      ...figuresOf("table", await measure(manifests, false)),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

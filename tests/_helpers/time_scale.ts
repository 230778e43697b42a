/**
 * How much slower than a quiet machine this one runs now, measured once per
 * test process, so time limits in tests hold on a loaded machine: a fixed
 * piece of CPU work is timed five times and its median set against what it
 * takes on a quiet 2-core machine (about 15 ms). `RVHV_TIME_SCALE` overrides
 * the measurement.
 *
 * @module
 */

/** The calibration's median on a quiet 2-core machine, in milliseconds. */
const QUIET_MS = 15;
/** The most a limit is stretched: beyond this a test should fail, not wait. */
const MAX_SCALE = 10;

function calibrate(): number {
  const samples: number[] = [];
  for (let run = 0; run < 5; run++) {
    const start = performance.now();
    let x = 0x1234_5678 | 0;
    for (let i = 0; i < 10_000_000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    // Keep the loop's result alive so it is not optimized away.
    if (x === 0) samples.push(0);
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}

function measure(): number {
  const given = Deno.env.get("RVHV_TIME_SCALE");
  if (given !== undefined && Number(given) >= 1) return Number(given);
  return Math.min(MAX_SCALE, Math.max(1, calibrate() / QUIET_MS));
}

/** The factor, at least 1, at most 10. */
export const TIME_SCALE: number = measure();

/**
 * A time limit stretched by {@linkcode TIME_SCALE}.
 *
 * @param ms The limit on a quiet machine.
 * @returns The limit here and now.
 */
export function scaled(ms: number): number {
  return Math.ceil(ms * TIME_SCALE);
}

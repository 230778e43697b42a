/**
 * Preloaded into the `rvhv up` runs `bench/up_bench.ts` measures: when the
 * process exits, prints its peak resident set size (getrusage's maxrss) to
 * stderr as one JSON line, `{"peakRssKiB":N}`. Needs no permission.
 */

import process from "node:process";

globalThis.addEventListener("unload", () => {
  const line = JSON.stringify({ peakRssKiB: process.resourceUsage().maxRSS }) + "\n";
  Deno.stderr.writeSync(new TextEncoder().encode(line));
});

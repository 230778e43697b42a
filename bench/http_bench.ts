/**
 * `GET /api/harts/:id` through the hono app, against a raw `Deno.serve`
 * answering the same JSON bytes from memory, measured in the same run with
 * wrk on loopback. Bounded: a warm-up and ROUNDS timed runs per server.
 *
 * Needs `wrk` on PATH (Debian: `apt-get install wrk`); without it the bench
 * says so and yields no figures.
 */

import { createApp } from "../http/app.ts";
import { boot } from "../manifest/boot.ts";
import { parseManifest } from "../manifest/parse.ts";
import type { Figure } from "./figure.ts";
import { median } from "./figure.ts";

const ROUNDS = 3;
const SECONDS = 2;
const CONNECTIONS = 32;
const HART = 1;
const SCRIPT = new URL("./wrk_report.lua", import.meta.url).pathname;

interface WrkReport {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  socket_errors: number;
  non_2xx: number;
}

async function wrk(url: string, seconds: number): Promise<WrkReport> {
  const output = await new Deno.Command("wrk", {
    args: ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "-s", SCRIPT, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const line = text.trim().split("\n").findLast((l) => l.startsWith("{"));
  if (!output.success || line === undefined) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(output.stderr)}${text}`);
  }
  const report: WrkReport = JSON.parse(line);
  if (report.socket_errors > 0 || report.non_2xx > 0) {
    throw new Error(`wrk saw errors against ${url}: ${line}`);
  }
  return report;
}

function hasWrk(): boolean {
  try {
    new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Runs the HTTP benchmark. */
export async function benchHttp(): Promise<Figure[]> {
  if (!hasWrk()) {
    console.error("http bench skipped: wrk not found on PATH (apt-get install wrk)");
    return [];
  }
  const system = await boot(
    parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 4 } }\n"),
  );
  const app = createApp(system);
  const path = `/api/harts/${HART}`;
  const body = await (await app.request(path)).text();
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const raw = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(body, { headers: { "content-type": "application/json" } }),
  );
  try {
    const apiUrl = `http://127.0.0.1:${api.addr.port}${path}`;
    const rawUrl = `http://127.0.0.1:${raw.addr.port}${path}`;
    // Both answer the same bytes.
    const [a, b] = await Promise.all([fetch(apiUrl), fetch(rawUrl)]);
    if ((await a.text()) !== body || (await b.text()) !== body) {
      throw new Error("the app and the raw server disagree");
    }
    await wrk(rawUrl, 1);
    await wrk(apiUrl, 1);
    const apiRuns: WrkReport[] = [];
    const rawRuns: WrkReport[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      rawRuns.push(await wrk(rawUrl, SECONDS));
      apiRuns.push(await wrk(apiUrl, SECONDS));
    }
    const rps = (r: WrkReport) => r.requests / (r.duration_us / 1e6);
    const apiRps = median(apiRuns.map(rps));
    const rawRps = median(rawRuns.map(rps));
    const apiP99 = median(apiRuns.map((r) => r.p99_us)) / 1000;
    const rawP99 = median(rawRuns.map((r) => r.p99_us)) / 1000;
    return [
      {
        name: "http.api_hart.rps",
        value: apiRps,
        unit: "req/s",
        target: ">= 20000",
        ok: apiRps >= 20000,
      },
      { name: "http.api_hart.p99", value: apiP99, unit: "ms" },
      { name: "http.raw.rps", value: rawRps, unit: "req/s" },
      { name: "http.raw.p99", value: rawP99, unit: "ms" },
      {
        name: "http.api_vs_raw",
        value: apiRps / rawRps,
        unit: "x",
        floor: "http.raw.rps",
        target: ">= 0.2",
        ok: apiRps / rawRps >= 0.2,
      },
    ];
  } finally {
    await Promise.all([api.shutdown(), raw.shutdown()]);
    await system.close();
  }
}

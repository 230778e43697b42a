/**
 * `GET /api/harts/:id` through the hono app, against a raw `Deno.serve`
 * answering the same JSON bytes from memory, measured in the same run by
 * the bench's own load generator (`bench/http_load.ts`, a separate Deno
 * process with keep-alive connections, one request in flight on each, as
 * wrk runs) on loopback. Bounded: a warm-up and ROUNDS timed runs per
 * server. Needs nothing but Deno.
 */

import { createApp } from "../http/app.ts";
import { boot } from "../manifest/boot.ts";
import { parseManifest } from "../manifest/parse.ts";
import type { Figure } from "./figure.ts";
import { median } from "./figure.ts";
import type { LoadReport } from "./http_load.ts";

const ROUNDS = 3;
const SECONDS = 2;
const CONNECTIONS = 32;
const HART = 1;
const LOAD = new URL("./http_load.ts", import.meta.url).pathname;

async function loadRun(url: string, seconds: number): Promise<LoadReport> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", LOAD, url, String(CONNECTIONS), String(seconds)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const line = text.trim().split("\n").findLast((l) => l.startsWith("{"));
  if (!output.success || line === undefined) {
    throw new Error(`the load generator failed: ${new TextDecoder().decode(output.stderr)}${text}`);
  }
  const report: LoadReport = JSON.parse(line);
  if (report.socket_errors > 0 || report.non_2xx > 0) {
    throw new Error(`the load generator saw errors against ${url}: ${line}`);
  }
  return report;
}

/** Runs the HTTP benchmark. */
export async function benchHttp(): Promise<Figure[]> {
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
    await loadRun(rawUrl, 1);
    await loadRun(apiUrl, 1);
    const apiRuns: LoadReport[] = [];
    const rawRuns: LoadReport[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      rawRuns.push(await loadRun(rawUrl, SECONDS));
      apiRuns.push(await loadRun(apiUrl, SECONDS));
    }
    const rps = (r: LoadReport) => r.requests / (r.duration_us / 1e6);
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

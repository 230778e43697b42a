/**
 * `rvhv serve` as a subprocess: it listens, answers, and on a real SIGINT or
 * SIGTERM stops, closes the system and exits 130 or 143 leaving no process behind
 * (the second also reads RVHV_TOKEN from its own environment). In-process
 * through `main(args, io)`: the refusals, and a recording served at
 * /api/trace, ended by the signal handed to it as the CLI's handler does.
 * Also the listen-address and token rules, as functions.
 */

import { CLI_MAIN, ROOT } from "../_helpers/deno_run.ts";
import { scaled } from "../_helpers/time_scale.ts";
import { deepStrictEqual, doesNotMatch, match, ok, strictEqual, throws } from "node:assert/strict";
import { checkExposure, parseListen, resolveToken } from "../../cli/commands/serve.ts";
import { UsageError } from "../../cli/io.ts";
import { deliverInterrupt, rvhvInProcess, startRvhvInProcess } from "../_helpers/cli.ts";

const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env=LOG_TOKENS,LOG_STREAM,RVHV_TOKEN",
  "--allow-net=127.0.0.1",
];

interface Served {
  child: Deno.ChildProcess;
  url: string;
  stderr: Promise<string>;
  stdout: Promise<string>;
}

/** Every process's parent, from `ps` (Deno cannot read /proc without --allow-all). */
async function processTable(): Promise<Map<number, number>> {
  const output = await new Deno.Command("ps", { args: ["-A", "-o", "pid=,ppid="] }).output();
  const parents = new Map<number, number>();
  for (const line of new TextDecoder().decode(output.stdout).trim().split("\n")) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    parents.set(pid!, ppid!);
  }
  return parents;
}

/** Every process below `pid`, to show none is left behind. */
async function descendants(pid: number): Promise<number[]> {
  const parents = await processTable();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

async function alive(pids: readonly number[]): Promise<number[]> {
  const table = await processTable();
  return pids.filter((pid) => table.has(pid));
}

/** Starts `serve` with `--json`, and resolves once it printed its URL. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, CLI_MAIN, "serve", ...args, "--json"],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`serve did not print its URL within ${scaled(20_000)} ms`)),
      scaled(20_000),
    );
  });
  try {
    while (!buffered.includes("\n")) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`serve exited early: ${await stderr}`);
      buffered += value;
    }
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const line = buffered.slice(0, buffered.indexOf("\n"));
  const stdout = (async () => {
    let rest = buffered.slice(line.length + 1);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return rest;
      rest += value;
    }
  })();
  return { child, url: JSON.parse(line).url, stderr, stdout };
}

async function stop(
  served: Served,
  signal: Deno.Signal,
): Promise<{ code: number; stderr: string }> {
  const below = await descendants(served.child.pid);
  served.child.kill(signal);
  const status = await served.child.status;
  const [stderr] = await Promise.all([served.stderr, served.stdout]);
  deepStrictEqual(await alive([served.child.pid, ...below]), [], "no process is left behind");
  return { code: status.code, stderr };
}

/** Sends a hand-written HTTP/1.1 request and returns the status line. */
async function rawStatus(url: string, head: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  try {
    await connection.write(new TextEncoder().encode(`${head}Connection: close\r\n\r\n`));
    const response = await new Response(connection.readable).text();
    return response.slice(0, response.indexOf("\r\n"));
  } finally {
    try {
      connection.close();
    } catch {
      // Already closed by reading to the end.
    }
  }
}

const POST = { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" };

Deno.test({
  name: "rvhv serve answers on loopback and stops cleanly on SIGINT",
  async fn() {
    const served = await serve(["examples/emulator.yaml", "--listen", "127.0.0.1:0"]);
    try {
      match(served.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      ok(!served.url.endsWith(":0/"), "the real port is printed");
      const health = await fetch(`${served.url}healthz`);
      deepStrictEqual(await health.json(), { status: "ok" });
      const harts = await (await fetch(`${served.url}api/harts`)).json();
      strictEqual(harts.harts.length, 4);
      const disabled = await fetch(`${served.url}api/harts/1/disable`, POST);
      strictEqual(disabled.status, 200);
      strictEqual((await disabled.json()).state, "disabled");
      const page = await fetch(served.url);
      match(
        await page.text(),
        /<tr><th scope="row"><a href="\?hart=1">1<\/a><\/th><td class="state-disabled">disabled<\/td>/,
      );
      // A loopback server answers only to loopback names (DNS rebinding).
      // (fetch sets Host itself, so this request is written by hand.)
      const status = await rawStatus(
        served.url,
        "GET /healthz HTTP/1.1\r\nHost: rebind.example\r\n",
      );
      strictEqual(status, "HTTP/1.1 403 Forbidden");
      // So does a request without a Host (Deno would take it for localhost), or with an empty one.
      for (
        const head of [
          "GET /healthz HTTP/1.1\r\n",
          "GET /api/harts HTTP/1.1\r\nHost: \r\n",
          "GET /api/harts HTTP/1.0\r\n",
        ]
      ) {
        strictEqual(
          (await rawStatus(served.url, head)).replace("HTTP/1.0", "HTTP/1.1"),
          "HTTP/1.1 403 Forbidden",
          head,
        );
      }
    } finally {
      const { code, stderr } = await stop(served, "SIGINT");
      strictEqual(code, 130, stderr);
      match(stderr, /rvhv: serving 4 hart\(s\) on http:\/\/127\.0\.0\.1:\d+\//);
      match(stderr, /SIGINT received; server stopped/);
      match(stderr, /closed \(enabled harts disabled, prior values restored, backend closed\)/);
    }
  },
});

Deno.test("rvhv serve reads the manifest's server.listen and RVHV_TOKEN, and stops on SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const manifest = `${dir}/served.yaml`;
    await Deno.writeTextFile(
      manifest,
      "version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n" +
        'server: { listen: "127.0.0.1:0" }\n',
    );
    const served = await serve([manifest], { RVHV_TOKEN: "from-env" });
    try {
      match(served.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const refused = await fetch(`${served.url}api/harts/0/disable`, POST);
      strictEqual(refused.status, 401);
      await refused.body?.cancel();
      // Reading needs the token too; the health check does not.
      for (const path of ["api/harts", "api/harts/0", ""]) {
        const read = await fetch(`${served.url}${path}`);
        strictEqual(read.status, 401, path);
        await read.body?.cancel();
      }
      const health = await fetch(`${served.url}healthz`);
      deepStrictEqual(await health.json(), { status: "ok" });
      const list = await fetch(`${served.url}api/harts`, {
        headers: { Authorization: "Bearer from-env" },
      });
      strictEqual((await list.json()).harts.length, 2);
      const allowed = await fetch(`${served.url}api/harts/0/disable`, {
        ...POST,
        headers: { ...POST.headers, Authorization: "Bearer from-env" },
      });
      strictEqual(allowed.status, 200);
      await allowed.body?.cancel();
    } finally {
      const { code, stderr } = await stop(served, "SIGTERM");
      strictEqual(code, 143, stderr);
      match(stderr, /token required: open the page once as \/\?token=<token>/);
      match(stderr, /SIGTERM received/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rvhv serve takes a chunked POST body without Deno's request.signal warning", async () => {
  const served = await serve(["examples/emulator.yaml", "--listen", "127.0.0.1:0"]);
  const encoder = new TextEncoder();
  try {
    // No Content-Length: the body arrives chunked, so it is read to find its size.
    const chunked = await fetch(`${served.url}api/harts/1/disable`, {
      ...POST,
      body: ReadableStream.from([encoder.encode("{"), encoder.encode("}")]),
    });
    strictEqual(chunked.status, 200);
    strictEqual((await chunked.json()).state, "disabled");
    const large = await fetch(`${served.url}api/harts/1/enable`, {
      ...POST,
      body: ReadableStream.from([
        encoder.encode(" ".repeat(10_000)),
        encoder.encode(" ".repeat(10_000)),
      ]),
    });
    strictEqual(large.status, 413);
    await large.body?.cancel();
    const sized = await fetch(`${served.url}api/harts/1/enable`, POST);
    strictEqual(sized.status, 200);
    await sized.body?.cancel();
  } finally {
    const { code, stderr } = await stop(served, "SIGINT");
    strictEqual(code, 130, stderr);
    doesNotMatch(stderr, /request\.signal|legacy/, stderr);
  }
});

Deno.test("rvhv serve refuses a non-loopback address without a token, and a busy port", async () => {
  // The token is read from this process's environment: it must have none.
  strictEqual(Deno.env.get("RVHV_TOKEN"), undefined, "run the tests without RVHV_TOKEN");
  const exposed = await rvhvInProcess(
    ["serve", "examples/emulator.yaml", "--listen", "0.0.0.0:0"],
  );
  strictEqual(exposed.code, 2);
  match(
    exposed.stderr,
    /Cannot listen on 0\.0\.0\.0:0 without a token: it is not a loopback address/,
  );
  ok(!exposed.stderr.includes("booting"), "nothing is booted");

  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const taken = await rvhvInProcess(
      ["serve", "examples/emulator.yaml", "--listen", `127.0.0.1:${busy.addr.port}`],
    );
    strictEqual(taken.code, 3);
    match(taken.stderr, /in use/i);
    match(taken.stderr, /closed \(enabled harts disabled/, "the booted system is closed");
  } finally {
    busy.close();
    // serve waits for a signal from before it listens, and the failed listen leaves that
    // wait behind (a process exits next); end it, so the next test's signal reaches only
    // its own serve.
    deliverInterrupt("SIGINT");
  }
});

Deno.test("parseListen(), resolveToken() and checkExposure() decide where serve may listen", () => {
  deepStrictEqual(parseListen("127.0.0.1:8787"), {
    hostname: "127.0.0.1",
    port: 8787,
    loopback: true,
  });
  deepStrictEqual(parseListen("127.1.2.3:0"), { hostname: "127.1.2.3", port: 0, loopback: true });
  deepStrictEqual(parseListen("[::1]:80"), { hostname: "::1", port: 80, loopback: true });
  deepStrictEqual(parseListen("LOCALHOST:1"), { hostname: "localhost", port: 1, loopback: true });
  deepStrictEqual(parseListen("0.0.0.0:8787").loopback, false);
  deepStrictEqual(parseListen("192.168.1.5:8787").loopback, false);
  deepStrictEqual(parseListen("127.0.0.1.example.com:80").loopback, false);
  deepStrictEqual(parseListen("[::]:8787").loopback, false);
  for (const bad of ["8787", "127.0.0.1", "127.0.0.1:65536", "host:port", ":80"]) {
    throws(() => parseListen(bad), UsageError, bad);
  }
  throws(() => checkExposure(parseListen("0.0.0.0:8787"), undefined, false), /pass --token/);
  throws(
    () => checkExposure(parseListen("0.0.0.0:8787"), undefined, true),
    /cannot be read without --allow-env=RVHV_TOKEN/,
  );
  checkExposure(parseListen("0.0.0.0:8787"), "t0ken", false);
  checkExposure(parseListen("127.0.0.1:8787"), undefined, false);
  deepStrictEqual(resolveToken("abc"), { token: "abc", unreadable: false });
  throws(() => resolveToken(" "), /--token needs a non-empty value/);
});

Deno.test("rvhv serve with record: serves the events recorded so far at /api/trace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const manifest = `${dir}/recorded.yaml`;
    await Deno.writeTextFile(
      manifest,
      "version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\nrecord: run.jsonl\n",
    );
    const run = startRvhvInProcess(["serve", manifest, "--listen", "127.0.0.1:0", "--json"]);
    try {
      await run.until("serve to print its URL", () => run.stdout().includes("\n"), scaled(20_000));
      const url: string = JSON.parse(run.stdout().split("\n", 1)[0]!).url;
      const first = await (await fetch(`${url}api/trace`)).json();
      // Per hart: the probe and 6 prior reads, 9 operations and 5 read-backs.
      strictEqual(first.events.length, 2 * 21);
      // Both harts are probed (7 reads each) before hart 0's first write.
      deepStrictEqual(first.events[14], {
        i: 14,
        hart: 0,
        op: "write",
        csr: "hedeleg",
        num: "0x602",
        arg: "0xb10d",
        ret: "0x0",
      });
      const disabled = await fetch(`${url}api/harts/1/disable`, POST);
      strictEqual(disabled.status, 200);
      await disabled.body?.cancel();
      const after = await (await fetch(`${url}api/trace`)).json();
      // Disable restores six CSRs in KVM's order (the response then reads the live values).
      const restored = after.events.slice(first.events.length)
        .filter((e: { op: string }) => e.op === "write")
        .map((e: { hart: number; csr: string }) => `${e.hart}:${e.csr}`);
      deepStrictEqual(
        restored,
        ["vsie", "hvip", "hedeleg", "hideleg", "hcounteren", "sie"].map((c) => `1:${c}`),
      );
    } finally {
      const { code, stderr } = await run.stop("SIGINT");
      strictEqual(code, 130, stderr);
    }
    const trace = (await Deno.readTextFile(`${dir}/run.jsonl`)).trim().split("\n");
    // The close disabled hart 0, and the trace (renamed from .partial) holds it.
    deepStrictEqual(
      trace.slice(-6).map((line) => JSON.parse(line)).map((e) => `${e.hart}:${e.op}:${e.csr}`),
      ["vsie", "hvip", "hedeleg", "hideleg", "hcounteren", "sie"].map((c) => `0:write:${c}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

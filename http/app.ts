/**
 * `createApp`: the hono app that shows a booted system's harts over HTTP (a
 * JSON API and a server-rendered page) and drives enable/disable.
 *
 * @module
 */

import type { System } from "../manifest/boot.ts";
import { type Context, type Handler, Hono } from "hono";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import type { CsrOp, HartId, PerCpuState } from "../hal/types.ts";
import { latestVcpuOf } from "../percpu/_bound.ts";
import type { HartDescription } from "../percpu/report.ts";
import type { RISCVPerCpu } from "../percpu/riscv_percpu.ts";
import type { RISCVVCpu } from "../percpu/riscv_vcpu.ts";
import { errorResponse, HttpRefusal } from "./errors.ts";
import { readObjectBody, readVmBody } from "./_body.ts";
import { type Markup, renderCard } from "./_card.ts";
import { type GridHart, gridHart, hartCells } from "./_grid.ts";
import { type AppEnv, guard, isPageRequest, RouteTable } from "./_guard.ts";
import { hartFrom, parseHartId, readLive, routesFrom, type ServedSystem } from "./_live.ts";
import { renderDetail, renderErrorPage, renderOverview, renderPage } from "./view.ts";
import { describeBackend, runRawBatch } from "./_raw_csr.ts";
import { bindVcpu, unbindVcpu } from "./_vcpu.ts";

export { MAX_BODY_BYTES } from "./_guard.ts";
export type { BackendDescription, WireCsrOp, WireCsrResult } from "./_raw_csr.ts";

/**
 * Options of {@linkcode createApp}.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { type AppOptions } from "./app.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n"));
 * const options: AppOptions = { token: "s3cret", hosts: ["127.0.0.1:8787"] };
 * const app = createApp(system, options);
 * // A server passes the client's Host header; app.request() needs it spelled out.
 * const url = "http://127.0.0.1:8787/api/harts/1/disable";
 * const headers = { Host: "127.0.0.1:8787", "Content-Type": "application/json" };
 *
 * strictEqual((await app.request(url, { method: "POST", headers, body: "{}" })).status, 401);
 * const authorized = { ...headers, Authorization: "Bearer s3cret" };
 * strictEqual((await app.request(url, { method: "POST", headers: authorized, body: "{}" })).status, 200);
 * strictEqual((await app.request(url, { headers: { ...authorized, Host: "rebound.example" } })).status, 403);
 * strictEqual((await app.request(url, { headers: { Authorization: "Bearer s3cret" } })).status, 403); // no Host
 * await system.close();
 * ```
 *
 * @example Serve a recording's events
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const system = await boot(
 *   parseManifest(`version: 1\nbackend: { plugin: emulator }\nrecord: ${dir}/run.jsonl\n`),
 * );
 * const recording = system.hal.recording!; // the manifest records
 * const app = createApp(system, { trace: () => recording.readEvents(10_000) });
 * const { events } = await (await app.request("/api/trace")).json();
 * strictEqual(events.length, recording.events);
 * await system.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export type AppOptions = NonNullable<Parameters<typeof createApp>[1]>;

/**
 * One entry of `GET /api/harts`.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { type HartList, type HartSummary } from "./app.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n"));
 * const app = createApp(system);
 * const list: HartList = await (await app.request("/api/harts")).json();
 * const second: HartSummary = list.harts[1]!;
 * deepStrictEqual(second, { id: 1, state: "enabled", h: true, vcpu: null });
 * await system.close();
 * ```
 */
export interface HartSummary {
  /** The hart id. */
  id: HartId;
  /** The lifecycle state. */
  state: PerCpuState;
  /** Whether the hart has the H extension. */
  h: boolean;
  /** The vCPU bound last on the hart (bound now, or unbound since), or `null`. */
  vcpu: HartDescription["vcpu"];
}

/**
 * The body of `GET /api/harts`.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { type HartList } from "./app.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n"));
 * const app = createApp(system);
 * const list: HartList = await (await app.request("/api/harts")).json();
 * deepStrictEqual(list.harts.map((hart) => hart.id), [0, 1]);
 * await system.close();
 * ```
 */
export interface HartList {
  /** Every hart of the set, in set-up order. */
  harts: HartSummary[];
}

/**
 * What {@linkcode createApp} returns: at run time a hono `Hono` app, typed
 * here by the two members this package promises (hono's own types are not
 * part of its documented surface). Cast it to `Hono` from `npm:hono` to
 * mount it in a larger app or to add routes.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp, type HttpApp } from "@rvhv/percpu/http";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
 * const app: HttpApp = createApp(system);
 * // request() takes a path; fetch() is what Deno.serve calls with a full Request.
 * deepStrictEqual(await (await app.request("/healthz")).json(), { status: "ok" });
 * const response = await app.fetch(new Request("http://127.0.0.1:8787/healthz"));
 * deepStrictEqual(await response.json(), { status: "ok" });
 * await system.close();
 * ```
 */
export interface HttpApp {
  /**
   * Answers a request: hand it to `Deno.serve`.
   *
   * @param request The request.
   * @param env Hono's environment bindings (`Deno.serve` passes its connection info).
   * @param executionCtx Hono's execution context (unused on Deno).
   * @returns The response.
   */
  fetch(request: Request, env?: unknown, executionCtx?: unknown): Response | Promise<Response>;
  /**
   * Answers a request given as a path (or URL) and init, without a socket:
   * what tests and examples use.
   *
   * @param input A path such as `/api/harts`, a URL or a request.
   * @param init The method, headers and body.
   * @returns The response.
   */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
}

/** The health check's read: one CSR every backend of a set-up hart answers. */
const HEALTH_READ: readonly CsrOp[] = Object.freeze([{ op: "read", csr: CSR.hedeleg }]);

/**
 * Answers when the backend answers a CSR read on the first hart (a trap is
 * an answer too); else `Unavailable`, naming only the error's kind (the
 * health check needs no token, so it says nothing more).
 */
async function checkBackend(system: ServedSystem): Promise<void> {
  const hart = system.percpus.harts[0] ?? system.hal.harts[0];
  if (hart === undefined) return;
  try {
    await system.hal.csr.batch(hart, HEALTH_READ);
  } catch (error) {
    throw new HttpRefusal(
      "Unavailable",
      `Cannot serve: the backend does not answer (${
        error instanceof AxError ? error.kind : "Internal"
      })`,
    );
  }
}

/**
 * The headers of a page fragment: it is never cached, and, opened on its
 * own, runs nothing and loads nothing.
 */
function fragmentHeaders(c: Context<AppEnv>): void {
  c.header("Cache-Control", "no-store");
  c.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
}

/** A random nonce for the page's inline style and script. */
function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * Creates the HTTP app of a booted system: a JSON API and a server-rendered
 * page of every hart.
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /` | the page (HTML): the hart × CSR overview, drift marked, identical harts grouped; `?hart=N` adds hart N's card |
 * | `GET /healthz` | `{ status: "ok" }` when the backend answers a CSR read, else 503 `Unavailable`; needs no token |
 * | `GET /api/harts` | `{ harts: [{ id, state, h, vcpu }] }` |
 * | `GET /api/harts/:id` | the hart object: `{ id, state, h, csrs, vcpu }`, values read live |
 * | `GET /api/harts/:id/routes` | the routing of the hart (`describeRoutes`) |
 * | `POST /api/harts/:id/enable` | enables the hart; the hart object |
 * | `POST /api/harts/:id/disable` | disables the hart; the hart object |
 * | `POST /api/harts/:id/vcpu/bind` | body `{ vm }`: binds a vCPU of that VM on the hart; the hart object |
 * | `POST /api/harts/:id/vcpu/unbind` | unbinds the hart's vCPU; the hart object |
 * | `GET /api/generation` | `{ generation }`: changes when a POST ran; 503 when the backend does not answer |
 * | `GET /fragments/grid`, `GET /fragments/harts/:id` | the page's overview and a hart's card (HTML), for its script |
 * | `GET /api/trace` | `{ events }` when recording, else 404 |
 * | `GET /api/backend` | `{ info, harts }`: the backend's `info()` and every hart it has |
 * | `POST /api/backend/harts/:id/csr` | `{ ops: [{ op, csr, value? }] }` → `{ results }`: a raw CSR batch (values `0x…`); only with a token |
 *
 * Requests are checked in this order: `Host` (when `hosts` is set; a
 * missing or empty one too) and `Origin` (403); the token, when there is
 * one, on every path but `/healthz` (401); a path no route has (404), a
 * method its route does not take (405, with `Allow`); for a POST the
 * content type (415) and the body size (413); then the route: a malformed
 * id or body (400), an unknown hart (404), a transition the state does not
 * allow or a second change of a hart while one runs (409), a vCPU already
 * bound (503 `ResourceBusy`), a backend that cannot do it (501). Every error is one JSON
 * shape, `{ error: { kind, message } }`; those of `GET /` are a small HTML
 * page with the same kind and message.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { strictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n"));
 * const app = createApp(system);
 *
 * const hart = await (await app.request("/api/harts/1")).json();
 * strictEqual(hart.csrs.hedeleg.value, "0xb10d");
 *
 * const disabled = await app.request("/api/harts/1/disable", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: "{}",
 * });
 * strictEqual((await disabled.json()).state, "disabled");
 * strictEqual((await app.request("/api/harts/1/disable", { method: "POST" })).status, 415);
 * await system.close();
 * ```
 *
 * @param system A booted system (`boot()`), or anything with its `hal` and `percpus`.
 * @param options Token, accepted hosts, trace source.
 * @returns The app (a hono app); serve it with `Deno.serve(app.fetch)` or call `app.request()`.
 * @throws {TypeError} When the token is empty.
 */
export function createApp(system: Pick<System, "hal" | "percpus">, options: {
  /**
   * When set, every request but `GET /healthz` needs the token, 401
   * otherwise: `Authorization: Bearer <token>`, or the session cookie
   * `rvhv-token` that opening the page once as `/?token=<token>` sets
   * (HttpOnly, SameSite=Strict; the answer is a 303 to `/`, so the token
   * leaves the address bar). Without the token `GET /` is a 401 page that
   * says so.
   */
  token?: string;
  /**
   * The `Host` header values (`host:port`, any case) the app answers to; a
   * request with another Host, an empty one or none is refused with 403 (a
   * guard against DNS rebinding). Default: any host.
   */
  hosts?: readonly string[];
  /**
   * Where `GET /api/trace` takes its events from: a function returning the
   * trace events recorded so far (JSON-ready objects, one per trace line),
   * e.g. a recording's `readEvents`. Without it `GET /api/trace` is 404.
   */
  trace?: () => readonly unknown[] | Promise<readonly unknown[]>;
} = {}): HttpApp {
  if (options.token !== undefined && options.token.length === 0) {
    throw new TypeError("Cannot create the app: the token is empty");
  }
  const token = options.token === undefined ? undefined : new TextEncoder().encode(options.token);
  const hosts = options.hosts === undefined
    ? undefined
    : new Set(options.hosts.map((host) => host.toLowerCase()));
  const app = new Hono<AppEnv>();
  const routes = new RouteTable();
  /** Tells this app's page from another run's: a reload after a restart redraws. */
  const epoch = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  /** How many POSTs have run: the page polls it to redraw after any change. */
  let changes = 0;
  const generation = () => `${epoch}-${changes}`;
  /** Harts a request is changing now: a second change of one is refused (409). */
  const changing = new Set<HartId>();
  /** The vCPUs this app created (their G-stage roots are its to give back). */
  const created = new WeakSet<RISCVVCpu>();

  /** Adds a route, and what it takes to the table the guard answers 404 and 405 from. */
  function route(method: "GET" | "POST", path: string, handler: Handler<AppEnv>): void {
    routes.add(method, path);
    app.on(
      method,
      path,
      method === "GET" ? handler : async (c, next) => {
        try {
          return await handler(c, next);
        } finally {
          changes++;
        }
      },
    );
  }

  /**
   * A change of one hart (enable, disable, bind, unbind), one at a time per
   * hart; answers the hart object as it stands after it.
   */
  function changeRoute<Body>(
    action: string,
    readBody: (text: string, what: string) => Body,
    work: (percpu: RISCVPerCpu, body: Body) => Promise<void>,
  ): void {
    route("POST", `/api/harts/:id/${action}`, async (c) => {
      const id = parseHartId(c.req.param("id")!);
      const percpu = system.percpus.get(id);
      const what = `${action.replace("vcpu/", "")} ${
        action.startsWith("vcpu/") ? "a vCPU on " : ""
      }hart ${id}`;
      const body = readBody(c.get("body"), what);
      if (changing.has(id)) {
        throw new AxError(
          "BadState",
          `Cannot ${what}: another request is changing the hart; try again when it is done`,
          { hart: id },
        );
      }
      changing.add(id);
      try {
        await work(percpu, body);
      } finally {
        changing.delete(id);
      }
      const hart: HartDescription = hartFrom(system, id, await readLive(system, id));
      return c.json(hart);
    });
  }

  /** Every hart of the set as the overview shows it, read live. */
  async function gridHarts(): Promise<GridHart[]> {
    const harts: GridHart[] = [];
    for (const percpu of system.percpus) {
      harts.push(gridHart(percpu, await readLive(system, percpu.cpuId)));
    }
    return harts;
  }

  /** A hart's card, read live. */
  async function cardOf(id: HartId): Promise<Markup> {
    const live = await readLive(system, id);
    return renderCard({
      hart: hartFrom(system, id, live),
      routes: routesFrom(system, id, live),
      cells: hartCells(system.percpus.get(id), live),
    });
  }

  app.onError((error, c) => {
    const { status, body } = errorResponse(error);
    if (status === 500) console.error(error);
    if (isPageRequest(c)) {
      c.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
      return c.html(renderErrorPage(status, body.error), status as 400);
    }
    return c.json(body, status as 400);
  });

  app.use("*", guard(routes, hosts, token));

  route("GET", "/healthz", async (c) => {
    await checkBackend(system);
    return c.json({ status: "ok" });
  });

  route("GET", "/api/harts", (c) => {
    const list: HartList = {
      harts: [...system.percpus].map((p) => {
        const vcpu = latestVcpuOf(p);
        return {
          id: p.cpuId,
          state: p.state,
          h: true,
          vcpu: vcpu === undefined ? null : { vm: vcpu.vmId, state: vcpu.state },
        };
      }),
    };
    return c.json(list);
  });

  route("GET", "/api/harts/:id", async (c) => {
    const id = parseHartId(c.req.param("id")!);
    return c.json(hartFrom(system, id, await readLive(system, id)));
  });

  route("GET", "/api/harts/:id/routes", async (c) => {
    const id = parseHartId(c.req.param("id")!);
    return c.json(routesFrom(system, id, await readLive(system, id)));
  });

  const noFields = (text: string, what: string) => readObjectBody(text, what, [], "{}");
  changeRoute("enable", noFields, (percpu) => percpu.hardwareEnable());
  changeRoute("disable", noFields, (percpu) => percpu.hardwareDisable());
  changeRoute("vcpu/bind", readVmBody, (percpu, vm) => bindVcpu(percpu, vm, created));
  changeRoute("vcpu/unbind", noFields, (percpu) => unbindVcpu(percpu));

  route("GET", "/api/generation", async (c) => {
    const now = generation();
    await checkBackend(system);
    return c.json({ generation: now });
  });

  route("GET", "/api/backend", (c) => c.json(describeBackend(system.hal)));

  route("POST", "/api/backend/harts/:id/csr", async (c) => {
    const request = { id: c.req.param("id")!, body: c.get("body") };
    return c.json(await runRawBatch(system.hal, request, token !== undefined));
  });

  route("GET", "/api/trace", async (c) => {
    if (options.trace === undefined) {
      throw new AxError(
        "NotFound",
        "Cannot read the trace: recording is not enabled for this system",
      );
    }
    return c.json({ events: await options.trace() });
  });

  route("GET", "/fragments/grid", async (c) => {
    const now = generation();
    fragmentHeaders(c);
    return c.html(renderOverview({
      policy: system.percpus.policy,
      harts: await gridHarts(),
      generation: now,
    }));
  });

  route("GET", "/fragments/harts/:id", async (c) => {
    const id = parseHartId(c.req.param("id")!);
    const card = await cardOf(id);
    fragmentHeaders(c);
    return c.html(renderDetail(card));
  });

  route("GET", "/", async (c) => {
    const now = generation();
    const open = c.req.query("hart");
    const card = open === undefined ? undefined : await cardOf(parseHartId(open));
    const harts = await gridHarts();
    const pageNonce = nonce();
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'nonce-${pageNonce}'; style-src 'nonce-${pageNonce}'; ` +
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
        "frame-ancestors 'none'",
    );
    return c.html(renderPage({
      info: system.hal.info(),
      policy: system.percpus.policy,
      harts,
      generation: now,
      ...(card === undefined ? {} : { card }),
      nonce: pageNonce,
    }));
  });

  return app;
}

/**
 * `createApp`: the hono app that shows a booted system's harts over HTTP (a
 * JSON API and a server-rendered page) and drives enable/disable.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { AxError } from "../hal/errors.ts";
import type { HartId, PerCpuState } from "../hal/types.ts";
import type { HartDescription } from "../percpu/report.ts";
import { errorResponse, HttpRefusal } from "./errors.ts";
import { hartFrom, parseHartId, readLive, routesFrom, type ServedSystem } from "./_live.ts";
import { renderPage } from "./view.ts";
import { describeBackend, runRawBatch } from "./_raw_csr.ts";

export type { ServedSystem } from "./_live.ts";
export type { BackendDescription, WireCsrOp, WireCsrResult } from "./_raw_csr.ts";

/**
 * Options of {@linkcode createApp}.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { type AppOptions, createApp } from "@rvhv/percpu/http";
 * import { strictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n"));
 * const options: AppOptions = { token: "s3cret", hosts: ["127.0.0.1:8787"] };
 * const app = createApp(system, options);
 * const disable = { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" };
 *
 * strictEqual((await app.request("http://127.0.0.1:8787/api/harts/1/disable", disable)).status, 401);
 * const authorized = { ...disable, headers: { ...disable.headers, Authorization: "Bearer s3cret" } };
 * strictEqual((await app.request("http://127.0.0.1:8787/api/harts/1/disable", authorized)).status, 200);
 * strictEqual((await app.request("http://rebound.example/api/harts")).status, 403); // another host
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
export interface AppOptions {
  /**
   * When set, every mutating request (any method but GET, HEAD and OPTIONS)
   * needs `Authorization: Bearer <token>`; 401 otherwise.
   */
  token?: string;
  /**
   * The `Host` header values (`host:port`) the app answers to; any other is
   * refused with 403 (a guard against DNS rebinding). Default: any host.
   */
  hosts?: readonly string[];
  /**
   * Where `GET /api/trace` takes its events from: a function returning the
   * trace events recorded so far (JSON-ready objects, one per trace line),
   * e.g. a recording's `readEvents`. Without it `GET /api/trace` is 404.
   */
  trace?: () => readonly unknown[] | Promise<readonly unknown[]>;
}

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
 * deepStrictEqual(second, { id: 1, state: "enabled", h: true });
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

/**
 * The largest request body accepted (16 KiB); larger is 413.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { MAX_BODY_BYTES } from "./app.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
 * const app = createApp(system);
 * const response = await app.request("/api/harts/0/disable", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: " ".repeat(MAX_BODY_BYTES + 1),
 * });
 * strictEqual(response.status, 413);
 * await system.close();
 * ```
 */
export const MAX_BODY_BYTES = 16 * 1024;

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);
const BEARER_REGEXP = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const encoder = new TextEncoder();

/** Compares two secrets in time independent of where they differ. */
function sameSecret(expected: Uint8Array, given: string): boolean {
  const actual = encoder.encode(given);
  let diff = expected.length ^ actual.length;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ (actual[i] ?? 0);
  return diff === 0;
}

/**
 * The one middleware before every route: security headers; 403 for a host
 * the app does not serve or an Origin naming another origin; and, for
 * mutating methods, 401 without the token, 415 without a JSON content type,
 * 413 for a body over the limit.
 */
function guard(
  hosts: ReadonlySet<string> | undefined,
  token: Uint8Array | undefined,
): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError(): never {
      throw new HttpRefusal(
        "PayloadTooLarge",
        `Cannot accept the request body: it is larger than ${MAX_BODY_BYTES} bytes`,
      );
    },
  });
  return async function requestGuard(c, next) {
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    if (c.req.path.startsWith("/api/")) c.header("Cache-Control", "no-store");
    const origin = c.req.header("origin");
    if (hosts !== undefined || origin !== undefined) {
      const url = new URL(c.req.url);
      if (hosts !== undefined && !hosts.has(url.host)) {
        throw new HttpRefusal(
          "Forbidden",
          `Cannot serve host "${url.host}": this server answers to ${[...hosts].join(", ")}`,
        );
      }
      if (origin !== undefined && origin !== url.origin) {
        throw new HttpRefusal(
          "Forbidden",
          `Cannot serve a request from origin "${origin}": only ${url.origin} may call this server`,
        );
      }
    }
    if (SAFE_METHODS.has(c.req.method)) return await next();
    if (token !== undefined) {
      const match = BEARER_REGEXP.exec(c.req.header("authorization") ?? "");
      if (match === null || !sameSecret(token, match[1]!)) {
        c.header("WWW-Authenticate", 'Bearer realm="rvhv"');
        throw new HttpRefusal(
          "Unauthorized",
          `Cannot ${c.req.method} ${c.req.path}: send "Authorization: Bearer <token>" with the server's token`,
        );
      }
    }
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") {
      throw new HttpRefusal(
        "UnsupportedMediaType",
        `Cannot accept a ${c.req.method} body of type "${type ?? "none"}": ` +
          `send Content-Type: application/json`,
      );
    }
    return await limit(c, next);
  };
}

/**
 * Reads a mutating request's body: empty or a JSON object without fields
 * (enable and disable take no parameters).
 */
async function readEmptyObject(c: Context, action: string): Promise<void> {
  const text = await c.req.text();
  if (text.trim() === "") return;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new AxError(
      "InvalidInput",
      `Cannot ${action}: the body is not JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new AxError("InvalidInput", `Cannot ${action}: the body must be a JSON object`);
  }
  const keys = Object.keys(body);
  if (keys.length > 0) {
    throw new AxError(
      "InvalidInput",
      `Cannot ${action}: unknown field "${keys[0]}" in the body (expected {})`,
    );
  }
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
 * | `GET /` | the page (HTML): a card per hart, its CSRs and its routing grid |
 * | `GET /healthz` | `{ status: "ok" }` |
 * | `GET /api/harts` | `{ harts: [{ id, state, h }] }` |
 * | `GET /api/harts/:id` | the hart object: `{ id, state, h, csrs }`, values read live |
 * | `GET /api/harts/:id/routes` | the routing of the hart (`describeRoutes`) |
 * | `POST /api/harts/:id/enable` | enables the hart; the hart object |
 * | `POST /api/harts/:id/disable` | disables the hart; the hart object |
 * | `GET /api/trace` | `{ events }` when recording, else 404 |
 * | `GET /api/backend` | `{ info, harts }`: the backend's `info()` and every hart it has |
 * | `POST /api/backend/harts/:id/csr` | `{ ops: [{ op, csr, value? }] }` → `{ results }`: a raw CSR batch (values `0x…`); only with a token |
 *
 * Requests are checked in this order: `Host` (when `hosts` is set) and
 * `Origin` (403); for mutating methods the token (401), the content type
 * (415) and the body size (413); then the route: a malformed id or body
 * (400), an unknown hart or route (404), a transition the state does not
 * allow (409), a backend that cannot do it (501). Every error is one JSON
 * shape, `{ error: { kind, message } }`.
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
export function createApp(system: ServedSystem, options: AppOptions = {}): HttpApp {
  if (options.token !== undefined && options.token.length === 0) {
    throw new TypeError("Cannot create the app: the token is empty");
  }
  const token = options.token === undefined ? undefined : encoder.encode(options.token);
  const hosts = options.hosts === undefined ? undefined : new Set(options.hosts);
  const app = new Hono();

  app.onError((error, c) => {
    const { status, body } = errorResponse(error);
    if (status === 500) console.error(error);
    return c.json(body, status as 400);
  });

  app.use("*", guard(hosts, token));

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/api/harts", (c) => {
    const list: HartList = {
      harts: [...system.percpus].map((p) => ({ id: p.cpuId, state: p.state, h: true })),
    };
    return c.json(list);
  });

  app.get("/api/harts/:id", async (c) => {
    const id = parseHartId(c.req.param("id"));
    return c.json(hartFrom(system, id, await readLive(system, id)));
  });

  app.get("/api/harts/:id/routes", async (c) => {
    const id = parseHartId(c.req.param("id"));
    return c.json(routesFrom(system, id, await readLive(system, id)));
  });

  for (const action of ["enable", "disable"] as const) {
    app.post(`/api/harts/:id/${action}`, async (c) => {
      const id = parseHartId(c.req.param("id"));
      const percpu = system.percpus.get(id);
      await readEmptyObject(c, `${action} hart ${id}`);
      if (action === "enable") await percpu.hardwareEnable();
      else await percpu.hardwareDisable();
      const hart: HartDescription = hartFrom(system, id, await readLive(system, id));
      return c.json(hart);
    });
  }

  app.get("/api/backend", (c) => c.json(describeBackend(system.hal)));

  app.post(
    "/api/backend/harts/:id/csr",
    async (c) => c.json(await runRawBatch(c, system.hal, token !== undefined)),
  );

  app.get("/api/trace", async (c) => {
    if (options.trace === undefined) {
      throw new AxError(
        "NotFound",
        "Cannot read the trace: recording is not enabled for this system",
      );
    }
    return c.json({ events: await options.trace() });
  });

  app.get("/", async (c) => {
    const harts = [];
    for (const percpu of system.percpus) {
      const live = await readLive(system, percpu.cpuId);
      harts.push({
        hart: hartFrom(system, percpu.cpuId, live),
        routes: routesFrom(system, percpu.cpuId, live),
      });
    }
    const pageNonce = nonce();
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'nonce-${pageNonce}'; style-src 'nonce-${pageNonce}'; ` +
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
        "frame-ancestors 'none'",
    );
    return c.html(renderPage({
      info: system.hal.info(),
      policy: system.percpus.policy.name,
      harts,
      tokenRequired: token !== undefined,
      nonce: pageNonce,
    }));
  });

  app.all("*", (c) => {
    throw new AxError("NotFound", `Cannot find ${c.req.method} ${c.req.path}`);
  });

  return app;
}

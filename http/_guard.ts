/**
 * The request guard of the HTTP app (module-internal): the checks every
 * request passes before its route runs, in this order: the `Host` header
 * (DNS rebinding) and `Origin` (cross-site), the token, the route and method
 * (404, 405 with `Allow`), then, for a POST, the content type and the body,
 * read here once under the size limit.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { AxError } from "../hal/errors.ts";
import { HttpRefusal } from "./errors.ts";

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

/** The cookie the page's own requests carry the token in (set from `/?token=`). */
const TOKEN_COOKIE = "rvhv-token";

/** The hono environment of the app: the body the guard read, for the routes. */
export interface AppEnv {
  /** What the guard stores for the routes. */
  Variables: {
    /** The request body as text (POST only; empty when there was none). */
    body: string;
  };
}

const BEARER_REGEXP = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const REGEXP_SPECIALS_REGEXP = /[.*+?^${}()|[\]\\]/g;
const encoder = new TextEncoder();

/**
 * The methods each route takes, by path pattern (hono's syntax: `:name`
 * matches one non-empty segment): what tells 404 from 405 and fills `Allow`.
 */
export class RouteTable {
  #routes: { pattern: string; regexp: RegExp; methods: string[] }[] = [];

  /**
   * Records that a route takes a method (GET also takes HEAD, as hono does).
   *
   * @param method `GET` or `POST`.
   * @param pattern The path pattern.
   */
  add(method: "GET" | "POST", pattern: string): void {
    let route = this.#routes.find((r) => r.pattern === pattern);
    if (route === undefined) {
      const source = pattern.split("/").map((segment) =>
        segment.startsWith(":") ? "[^/]+" : segment.replace(REGEXP_SPECIALS_REGEXP, "\\$&")
      ).join("/");
      route = { pattern, regexp: new RegExp(`^${source}$`), methods: [] };
      this.#routes.push(route);
    }
    route.methods.push(...(method === "GET" ? ["GET", "HEAD"] : [method]));
  }

  /**
   * The methods a path takes.
   *
   * @param path The request's path.
   * @returns The methods, or `undefined` when no route has that path.
   */
  allowed(path: string): readonly string[] | undefined {
    const methods = this.#routes.filter((r) => r.regexp.test(path)).flatMap((r) => r.methods);
    return methods.length === 0 ? undefined : [...new Set(methods)];
  }
}

/** Compares two secrets in time independent of where they differ. */
function sameSecret(expected: Uint8Array, given: string): boolean {
  const actual = encoder.encode(given);
  let diff = expected.length ^ actual.length;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ (actual[i] ?? 0);
  return diff === 0;
}

/** Whether a request asks for the page (the one route whose errors are a page too). */
export function isPageRequest(c: Context): boolean {
  return c.req.path === "/" && (c.req.method === "GET" || c.req.method === "HEAD");
}

/** The token a request presents: its bearer header, else the page's cookie. */
function presentedToken(c: Context): string | undefined {
  const header = c.req.header("authorization");
  if (header !== undefined) return BEARER_REGEXP.exec(header)?.[1] ?? "";
  return getCookie(c, TOKEN_COOKIE);
}

function unauthorized(c: Context, message: string): HttpRefusal {
  c.header("WWW-Authenticate", 'Bearer realm="rvhv"');
  return new HttpRefusal("Unauthorized", message);
}

/**
 * Checks the token of a request (every path but `/healthz`). The page also
 * takes it once as `/?token=<token>`: a session cookie then carries it
 * (HttpOnly: no script reads it; SameSite=Strict: no other site's request
 * carries it), and a 303 takes it out of the address bar.
 *
 * @returns A response for the page's token exchange, else `undefined`.
 */
function checkToken(c: Context, token: Uint8Array): Response | undefined {
  const page = isPageRequest(c);
  const fromQuery = page ? c.req.query("token") : undefined;
  if (fromQuery !== undefined) {
    if (!sameSecret(token, fromQuery)) {
      throw unauthorized(
        c,
        "Cannot show the page: the token in the URL is not the server's; " +
          "open /?token=<token> with the token the server was started with",
      );
    }
    setCookie(c, TOKEN_COOKIE, fromQuery, { path: "/", httpOnly: true, sameSite: "Strict" });
    return c.redirect(new URL(c.req.url).pathname, 303);
  }
  const given = presentedToken(c);
  if (given !== undefined && sameSecret(token, given)) return undefined;
  throw unauthorized(
    c,
    page
      ? "Cannot show the page: this server needs its token; open /?token=<token> once " +
        '(the browser then keeps it for the session), or send "Authorization: Bearer <token>"'
      : `Cannot ${c.req.method} ${c.req.path}: send "Authorization: Bearer <token>" with ` +
        "the server's token (a browser: open the page once as /?token=<token>)",
  );
}

function tooLarge(): HttpRefusal {
  return new HttpRefusal(
    "PayloadTooLarge",
    `Cannot accept the request body: it is larger than ${MAX_BODY_BYTES} bytes`,
  );
}

/**
 * Reads a request's body under the size limit, without rebuilding the
 * request (a `new Request(request, …)` copies `request.signal`, whose first
 * use makes Deno.serve print its legacy-abort warning).
 */
async function readBody(request: Request): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  if (request.body === null) return "";
  const bytes = new Uint8Array(MAX_BODY_BYTES);
  let size = 0;
  // Leaving the loop early cancels the stream: the rest is never read.
  for await (const chunk of request.body) {
    if (size + chunk.length > MAX_BODY_BYTES) throw tooLarge();
    bytes.set(chunk, size);
    size += chunk.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, size));
  } catch (error) {
    throw new AxError("InvalidInput", "Cannot read the request body: it is not UTF-8", {
      cause: error,
    });
  }
}

/**
 * The one middleware before every route: security headers; 403 for a Host
 * the app does not serve (a missing or empty one included) or an Origin
 * naming another origin; 401 without the token (when there is one) on every
 * path but `/healthz`; 404 for a path no route has and 405 with `Allow` for a
 * method its route does not take; and for a POST, 415 without a JSON content
 * type and 413 for a body over the limit.
 *
 * @param routes The app's routes.
 * @param hosts The Host values served (lowercase), or `undefined` for any.
 * @param token The token's bytes, or `undefined` for none.
 * @returns The middleware.
 */
export function guard(
  routes: RouteTable,
  hosts: ReadonlySet<string> | undefined,
  token: Uint8Array | undefined,
): MiddlewareHandler<AppEnv> {
  return async function requestGuard(c, next) {
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    const { method, path } = c.req;
    if (path.startsWith("/api/")) c.header("Cache-Control", "no-store");
    if (hosts !== undefined) {
      // The header a client sent, not the URL: Deno.serve makes one up
      // (localhost) when there is no Host.
      const host = c.req.header("host")?.toLowerCase() ?? "";
      if (!hosts.has(host)) {
        const served = [...hosts].join(", ");
        throw new HttpRefusal(
          "Forbidden",
          host === ""
            ? `Cannot serve a request without a Host header: this server answers to ${served}`
            : `Cannot serve host "${host}": this server answers to ${served}`,
        );
      }
    }
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      const own = new URL(c.req.url).origin;
      if (origin !== own) {
        throw new HttpRefusal(
          "Forbidden",
          `Cannot serve a request from origin "${origin}": only ${own} may call this server`,
        );
      }
    }
    if (token !== undefined && path !== "/healthz") {
      const exchanged = checkToken(c, token);
      if (exchanged !== undefined) return exchanged;
    }
    const allowed = routes.allowed(path);
    if (allowed === undefined) throw new AxError("NotFound", `Cannot find ${method} ${path}`);
    if (!allowed.includes(method)) {
      c.header("Allow", allowed.join(", "));
      throw new HttpRefusal(
        "MethodNotAllowed",
        `Cannot ${method} ${path}: it takes ${allowed.join(", ")}`,
      );
    }
    if (method === "GET" || method === "HEAD") return await next();
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") {
      throw new HttpRefusal(
        "UnsupportedMediaType",
        `Cannot accept a ${method} body of type "${type ?? "none"}": ` +
          `send Content-Type: application/json`,
      );
    }
    c.set("body", await readBody(c.req.raw));
    return await next();
  };
}

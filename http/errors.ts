/**
 * How errors become HTTP responses: one table from `AxError` kinds to
 * statuses, the refusals the request guards raise, and the JSON error body.
 *
 * @module
 */

import { AxError, type AxErrorKind } from "../hal/errors.ts";

/**
 * The HTTP status of each `AxError` kind.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { ERROR_STATUS } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
 * const app = createApp(system);
 * const json = { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" };
 * strictEqual((await app.request("/api/harts/7")).status, ERROR_STATUS.NotFound);
 * strictEqual((await app.request("/api/harts/0/enable", json)).status, ERROR_STATUS.BadState); // already enabled
 * strictEqual(ERROR_STATUS.BadState, 409);
 * await system.close();
 * ```
 */
export const ERROR_STATUS: Readonly<Record<AxErrorKind, number>> = Object.freeze({
  InvalidInput: 400,
  NotFound: 404,
  BadState: 409,
  AlreadyExists: 409,
  InvalidData: 500,
  Unsupported: 501,
  Io: 502,
  ResourceBusy: 503,
  Timeout: 504,
});

/**
 * The `kind` of an answer the HTTP layer gives itself: the refusals made
 * before a route runs, `Unauthorized` (401), `Forbidden` (403),
 * `MethodNotAllowed` (405, with an `Allow` header), `PayloadTooLarge` (413),
 * `UnsupportedMediaType` (415); and `Unavailable` (503), `/healthz` when
 * the backend does not answer.
 *
 * @example Usage
 * ```ts
 * import { HttpRefusal, type RefusalKind } from "./errors.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const kinds: RefusalKind[] = [
 *   "Unauthorized",
 *   "Forbidden",
 *   "MethodNotAllowed",
 *   "PayloadTooLarge",
 *   "UnsupportedMediaType",
 *   "Unavailable",
 * ];
 * deepStrictEqual(kinds.map((kind) => new HttpRefusal(kind, "Cannot serve the request").status), [
 *   401,
 *   403,
 *   405,
 *   413,
 *   415,
 *   503,
 * ]);
 * ```
 */
export type RefusalKind =
  | "Unauthorized"
  | "Forbidden"
  | "MethodNotAllowed"
  | "PayloadTooLarge"
  | "UnsupportedMediaType"
  | "Unavailable";

/**
 * The `kind` field of an error body.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { type ErrorKind } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
 * const app = createApp(system);
 * const response = await app.request("/api/harts/0/disable", { method: "POST", body: "{}" });
 * const kind: ErrorKind = (await response.json()).error.kind;
 * strictEqual(kind, "UnsupportedMediaType"); // no Content-Type: application/json
 * await system.close();
 * ```
 */
export type ErrorKind = AxErrorKind | RefusalKind | "Internal";

/**
 * The JSON body of every error response.
 *
 * @example Usage
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { type ErrorBody } from "./errors.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
 * const app = createApp(system);
 * const body: ErrorBody = await (await app.request("/api/harts/7")).json();
 * deepStrictEqual(body, {
 *   error: { kind: "NotFound", message: "Cannot find hart 7: the set has harts 0" },
 * });
 * await system.close();
 * ```
 */
export interface ErrorBody {
  /** What went wrong. */
  error: {
    /** An `AxError` kind, a refusal kind, or `Internal` for anything unexpected. */
    kind: ErrorKind;
    /** A sentence saying what failed and why. */
    message: string;
  };
}

const REFUSAL_STATUS: Readonly<Record<RefusalKind, number>> = {
  Unauthorized: 401,
  Forbidden: 403,
  MethodNotAllowed: 405,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  Unavailable: 503,
};

/**
 * An answer the HTTP layer gives itself rather than the backend: a request
 * refused before its route ran (bad host or origin, missing token, a method
 * the route does not take, wrong content type, too large a body), or a
 * backend that does not answer the health check; the app's `onError`
 * renders it.
 *
 * @example Usage
 * ```ts
 * import { HttpRefusal } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const refusal = new HttpRefusal("Forbidden", "Cannot serve a request from origin \"https://evil.example\"");
 * strictEqual(refusal.status, 403);
 * ```
 */
export class HttpRefusal extends Error {
  /** The refusal's kind. */
  readonly kind: RefusalKind;
  /** The HTTP status. */
  readonly status: number;

  /**
   * Creates a refusal.
   *
   * @param kind The kind, which fixes the status.
   * @param message What was refused and why.
   */
  constructor(kind: RefusalKind, message: string) {
    super(message);
    this.name = "HttpRefusal";
    this.kind = kind;
    this.status = REFUSAL_STATUS[kind];
  }
}

/**
 * The status and body an error is answered with: `AxError` by its kind
 * ({@linkcode ERROR_STATUS}), a refusal by its own status, anything else as
 * 500 `Internal`. The routes check their input and throw `AxError` kind
 * `InvalidInput` for a caller's mistake, so a stray `TypeError` (a bug) is
 * never passed off as the caller's fault.
 *
 * @example Usage
 * ```ts
 * import { AxError } from "@rvhv/percpu";
 * import { errorResponse } from "./errors.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(errorResponse(new AxError("BadState", "Cannot enable hart 0: it is enabled")), {
 *   status: 409,
 *   body: { error: { kind: "BadState", message: "Cannot enable hart 0: it is enabled" } },
 * });
 * ```
 *
 * @param error What was thrown.
 * @returns The status and the JSON body.
 */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof AxError) {
    return {
      status: ERROR_STATUS[error.kind] ?? 500,
      body: { error: { kind: error.kind, message: error.message } },
    };
  }
  if (error instanceof HttpRefusal) {
    return { status: error.status, body: { error: { kind: error.kind, message: error.message } } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: { kind: "Internal", message } } };
}

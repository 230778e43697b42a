/**
 * The HTTP face of a booted system: a hono app with a JSON API and a
 * server-rendered page of every hart, its CSRs and its trap routing.
 *
 * Permissions: `app.request()` needs none beyond the backend's; serving needs
 * `--allow-net=127.0.0.1:<port>`.
 *
 * @example Serve a booted system
 * ```ts
 * import { boot, parseManifest } from "@rvhv/percpu";
 * import { createApp } from "@rvhv/percpu/http";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n"));
 * const app = createApp(system, { token: "s3cret" }); // the token guards every route but /healthz
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
 *
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/api/harts`, {
 *   headers: { Authorization: "Bearer s3cret" },
 * });
 * deepStrictEqual(await response.json(), {
 *   harts: [
 *     { id: 0, state: "enabled", h: true, vcpu: null },
 *     { id: 1, state: "enabled", h: true, vcpu: null },
 *   ],
 * });
 * await server.shutdown();
 * await system.close();
 * ```
 *
 * ## Responses (stable field names)
 *
 * CSR values are lowercase `0x…` strings.
 *
 * - `GET /api/harts` → `{ harts: [{ id, state, h, vcpu }] }`: `id` the hart
 *   id, `state` one of `initialized`, `enabled`, `disabled`, `h` whether it
 *   has H, `vcpu` the vCPU bound last on it, `{ vm, state }` (`state`
 *   `bound` or `free`), or `null`.
 * - `GET /api/harts/:id`, and a successful `POST /api/harts/:id/enable`,
 *   `/disable`, `/vcpu/bind` (body `{ "vm": n }`) or `/vcpu/unbind` →
 *   `{ id, state, h, csrs, vcpu }`; `csrs` maps a CSR name to
 *   `{ value, asked?, kept?, refused?, bits }`: `value` read live from the
 *   backend, `asked` what the set-up policy asked (absent when it asked
 *   nothing), `kept` what the hart read back after the set-up, `refused` the
 *   asked bits it did not keep, `bits` the names of the bits set in `value`.
 *   hedeleg, hideleg, hvip, hcounteren and sie are the set-up's; medeleg and
 *   mideleg (value and bits only) are the firmware's, shown because routing
 *   depends on them.
 * - `GET /api/harts/:id/routes` → `{ id, firmware, csrs, origins, rows }`:
 *   `csrs` the four delegation CSRs, `origins` the columns (`U`, `HS`, `VU`,
 *   `VS`, `M`), `rows` one per trap: `{ interrupt, cause, name, routes }`,
 *   where `routes[origin]` is `{ destination, cause, reason, arises, taken,
 *   effective: { destination, cause, reason } }` (see `routeTrap`).
 * - `GET /api/trace` → `{ events }` while recording; 404 otherwise.
 * - `GET /api/generation` → `{ generation }`: a string that changes whenever
 *   a POST ran (the page polls it); 503 `Unavailable` when the backend does
 *   not answer, as `/healthz`.
 * - `GET /healthz` → `{ status: "ok" }` when the backend answers a CSR
 *   read, else 503 `Unavailable`; the one route that needs no token.
 * - Errors → `{ error: { kind, message } }` with the status of
 *   {@linkcode ERROR_STATUS} (`NotFound` 404, `BadState` 409, `Unsupported`
 *   501, `InvalidInput` 400, `ResourceBusy` 503 for a bind on a hart with a
 *   bound vCPU, …) or of a refusal (`Unauthorized` 401,
 *   `Forbidden` 403, `MethodNotAllowed` 405 with an `Allow` header,
 *   `PayloadTooLarge` 413, `UnsupportedMediaType` 415).
 *
 * @module
 */

export { createApp, type HttpApp } from "./app.ts";

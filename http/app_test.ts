/** The HTTP app through `app.request()`: every route, every error status, the token and Origin rules. */

import { deepStrictEqual, doesNotMatch, match, ok, strictEqual, throws } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { boot, type System } from "../manifest/boot.ts";
import { parseManifest } from "../manifest/parse.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { SpyHal } from "../tests/_helpers/spy_hal.ts";
import { createApp } from "./app.ts";
import { MAX_BODY_BYTES } from "./app.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };

function bootFour(): Promise<System> {
  return boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 4 } }\n"));
}

function post(path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
  return { method: "POST", headers: init.headers ?? JSON_HEADERS, body: init.body ?? "{}", path };
}

async function call(
  app: ReturnType<typeof createApp>,
  request: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await app.request(request.path, {
    method: request.method,
    ...(request.headers === undefined ? {} : { headers: request.headers }),
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), headers: response.headers };
}

async function expectError(
  app: ReturnType<typeof createApp>,
  request: { method: string; path: string; headers?: Record<string, string>; body?: string },
  status: number,
  kind: string,
  message: RegExp,
): Promise<void> {
  const answer = await call(app, request);
  strictEqual(answer.status, status, JSON.stringify(answer.body));
  deepStrictEqual(Object.keys(answer.body), ["error"]);
  const error = answer.body.error as { kind: string; message: string };
  deepStrictEqual(Object.keys(error), ["kind", "message"]);
  strictEqual(error.kind, kind);
  match(error.message, message);
  strictEqual(answer.headers.get("content-type"), "application/json");
}

Deno.test("createApp() serves every JSON route", async (t) => {
  const system = await bootFour();
  const app = createApp(system);
  try {
    await t.step("GET /healthz", async () => {
      const { status, body } = await call(app, { method: "GET", path: "/healthz" });
      deepStrictEqual([status, body], [200, { status: "ok" }]);
    });

    await t.step("GET /api/harts lists id, state, h and vcpu", async () => {
      const { status, body, headers } = await call(app, { method: "GET", path: "/api/harts" });
      strictEqual(status, 200);
      deepStrictEqual(body, {
        harts: [0, 1, 2, 3].map((id) => ({ id, state: "enabled", h: true, vcpu: null })),
      });
      strictEqual(headers.get("cache-control"), "no-store");
      strictEqual(headers.get("x-content-type-options"), "nosniff");
    });

    await t.step("GET /api/harts/:id has every touched CSR, live, with named bits", async () => {
      const { status, body } = await call(app, { method: "GET", path: "/api/harts/2" });
      strictEqual(status, 200);
      deepStrictEqual(Object.keys(body), ["id", "state", "h", "csrs", "vcpu"]);
      strictEqual(body.vcpu, null);
      deepStrictEqual([body.id, body.state, body.h], [2, "enabled", true]);
      const csrs = body.csrs as Record<string, Record<string, unknown>>;
      deepStrictEqual(Object.keys(csrs), [
        "hedeleg",
        "hideleg",
        "hvip",
        "hcounteren",
        "sie",
        "medeleg",
        "mideleg",
      ]);
      deepStrictEqual(csrs.hideleg, {
        value: "0x444",
        asked: "0x444",
        kept: "0x444",
        refused: "0x0",
        bits: [
          "VIRTUAL_SUPERVISOR_SOFTWARE",
          "VIRTUAL_SUPERVISOR_TIMER",
          "VIRTUAL_SUPERVISOR_EXTERNAL",
        ],
      });
      // The spec hart keeps 32 bits of hcounteren: the upper half is refused.
      deepStrictEqual(
        [csrs.hcounteren!.asked, csrs.hcounteren!.kept, csrs.hcounteren!.refused],
        ["0xffffffffffffffff", "0xffffffff", "0xffffffff00000000"],
      );
      deepStrictEqual(csrs.medeleg, {
        value: "0xf0b509",
        bits: [
          "INSTRUCTION_ADDRESS_MISALIGNED",
          "BREAKPOINT",
          "ENVIRONMENT_CALL_FROM_U_OR_VU",
          "ENVIRONMENT_CALL_FROM_VS",
          "INSTRUCTION_PAGE_FAULT",
          "LOAD_PAGE_FAULT",
          "STORE_AMO_PAGE_FAULT",
          "INSTRUCTION_GUEST_PAGE_FAULT",
          "LOAD_GUEST_PAGE_FAULT",
          "VIRTUAL_INSTRUCTION",
          "STORE_AMO_GUEST_PAGE_FAULT",
        ],
      });
      // Values are read live: a change made behind the app's back shows.
      await system.hal.csr.write(2, CSR.hvip, 0x4n);
      const again = await call(app, { method: "GET", path: "/api/harts/2" });
      const hvip = (again.body.csrs as Record<string, Record<string, unknown>>).hvip!;
      deepStrictEqual([hvip.value, hvip.kept, hvip.bits], ["0x4", "0x0", [
        "VIRTUAL_SUPERVISOR_SOFTWARE",
      ]]);
      await system.hal.csr.write(2, CSR.hvip, 0n);
    });

    await t.step("GET /api/harts/:id/routes gives every trap from every origin", async () => {
      const { status, body } = await call(app, { method: "GET", path: "/api/harts/1/routes" });
      strictEqual(status, 200);
      deepStrictEqual(Object.keys(body), ["id", "firmware", "csrs", "origins", "rows"]);
      deepStrictEqual(body.csrs, {
        medeleg: "0xf0b509",
        mideleg: "0x666",
        hedeleg: "0xb10d",
        hideleg: "0x444",
      });
      deepStrictEqual(body.origins, ["U", "HS", "VU", "VS", "M"]);
      strictEqual(body.firmware, "opensbi");
      const rows = body.rows as {
        interrupt: boolean;
        cause: number;
        routes: Record<
          string,
          { destination: string; cause: number; effective: { destination: string } }
        >;
      }[];
      strictEqual(rows.length, 35);
      const illegal = rows.find((r) => !r.interrupt && r.cause === 2)!;
      deepStrictEqual(
        [illegal.routes.VS!.destination, illegal.routes.VS!.effective.destination],
        ["M", "VS"],
      );
      const vsti = rows.find((r) => r.interrupt && r.cause === 6)!;
      deepStrictEqual([vsti.routes.VU!.destination, vsti.routes.VU!.cause], ["VS", 5]);
    });

    await t.step("POST disable then enable return the hart object; routes follow", async () => {
      const disabled = await call(app, post("/api/harts/3/disable"));
      strictEqual(disabled.status, 200);
      strictEqual(disabled.body.state, "disabled");
      const csrs = disabled.body.csrs as Record<string, Record<string, unknown>>;
      deepStrictEqual([csrs.hedeleg!.value, csrs.hedeleg!.kept], ["0x0", "0xb10d"]);
      const get = await call(app, { method: "GET", path: "/api/harts/3" });
      deepStrictEqual(get.body, disabled.body);
      strictEqual(system.percpus.get(3).state, "disabled");
      const routes = await call(app, { method: "GET", path: "/api/harts/3/routes" });
      const rows = routes.body.rows as {
        interrupt: boolean;
        cause: number;
        routes: Record<string, { destination: string }>;
      }[];
      strictEqual(rows.find((r) => !r.interrupt && r.cause === 3)!.routes.VU!.destination, "HS");
      const enabled = await call(app, post("/api/harts/3/enable", { body: "" }));
      strictEqual(enabled.status, 200);
      strictEqual(enabled.body.state, "enabled");
      const hedeleg = (enabled.body.csrs as Record<string, Record<string, unknown>>).hedeleg!;
      strictEqual(hedeleg.value, "0xb10d");
    });

    await t.step("a content type with parameters is JSON too", async () => {
      const answer = await call(
        app,
        post("/api/harts/0/disable", {
          headers: { "Content-Type": "Application/JSON; charset=utf-8" },
        }),
      );
      strictEqual(answer.status, 200);
      strictEqual((await call(app, post("/api/harts/0/enable"))).status, 200);
    });

    await t.step("GET / is HTML", async () => {
      const response = await app.request("/");
      strictEqual(response.status, 200);
      match(response.headers.get("content-type")!, /^text\/html/);
      match((await response.text()).trimStart(), /^<!doctype html>/);
    });
  } finally {
    await system.close();
  }
});

Deno.test("createApp() answers every error with its status and one JSON shape", async (t) => {
  const system = await bootFour();
  const app = createApp(system);
  try {
    await t.step("400 for a malformed hart id", async () => {
      for (const id of ["x", "-1", "01", "1.5", "99999999999"]) {
        await expectError(
          app,
          { method: "GET", path: `/api/harts/${id}` },
          400,
          "InvalidInput",
          /Cannot parse hart id/,
        );
      }
      await expectError(app, post("/api/harts/two/enable"), 400, "InvalidInput", /"two"/);
    });

    await t.step("400 for a body that is not an empty JSON object", async () => {
      await expectError(
        app,
        post("/api/harts/1/disable", { body: "nope" }),
        400,
        "InvalidInput",
        /not JSON/,
      );
      await expectError(
        app,
        post("/api/harts/1/disable", { body: "[]" }),
        400,
        "InvalidInput",
        /JSON object/,
      );
      await expectError(
        app,
        post("/api/harts/1/disable", { body: "null" }),
        400,
        "InvalidInput",
        /JSON object/,
      );
      await expectError(
        app,
        post("/api/harts/1/disable", { body: '{"force":true}' }),
        400,
        "InvalidInput",
        /unknown field "force"/,
      );
      strictEqual(system.percpus.get(1).state, "enabled", "a refused request changes nothing");
    });

    await t.step("404 for an unknown hart or route", async () => {
      await expectError(
        app,
        { method: "GET", path: "/api/harts/9" },
        404,
        "NotFound",
        /Cannot find hart 9/,
      );
      await expectError(
        app,
        { method: "GET", path: "/api/harts/9/routes" },
        404,
        "NotFound",
        /hart 9/,
      );
      await expectError(app, post("/api/harts/9/enable"), 404, "NotFound", /hart 9/);
      await expectError(app, post("/api/harts/9/disable"), 404, "NotFound", /hart 9/);
      await expectError(
        app,
        { method: "GET", path: "/api/nope" },
        404,
        "NotFound",
        /GET \/api\/nope/,
      );
      await expectError(app, post("/api/nope"), 404, "NotFound", /POST \/api\/nope/);
      await expectError(
        app,
        { method: "DELETE", path: "/api/harts/1/enable/now" },
        404,
        "NotFound",
        /DELETE \/api\/harts\/1\/enable\/now/,
      );
    });

    await t.step("404 for the trace when not recording", async () => {
      await expectError(
        app,
        { method: "GET", path: "/api/trace" },
        404,
        "NotFound",
        /recording is not enabled for this system/,
      );
    });

    await t.step("409 for a transition the state does not allow", async () => {
      await expectError(app, post("/api/harts/0/enable"), 409, "BadState", /it is enabled/);
      strictEqual((await call(app, post("/api/harts/0/disable"))).status, 200);
      await expectError(app, post("/api/harts/0/disable"), 409, "BadState", /it is disabled/);
      strictEqual((await call(app, post("/api/harts/0/enable"))).status, 200);
    });

    await t.step("409 for a second transition while one is in progress", async () => {
      const [a, b] = await Promise.all([
        call(app, post("/api/harts/2/disable")),
        call(app, post("/api/harts/2/disable")),
      ]);
      deepStrictEqual([a.status, b.status].sort(), [200, 409]);
      strictEqual(system.percpus.get(2).state, "disabled");
    });

    await t.step("413 for a body over the limit", async () => {
      await expectError(
        app,
        post("/api/harts/1/disable", { body: `{"pad":"${"x".repeat(MAX_BODY_BYTES)}"}` }),
        413,
        "PayloadTooLarge",
        /larger than 16384 bytes/,
      );
    });

    await t.step("415 for a mutating request without a JSON content type", async () => {
      for (
        const headers of [{}, { "Content-Type": "text/plain" }, {
          "Content-Type": "application/x-www-form-urlencoded",
        }]
      ) {
        await expectError(
          app,
          post("/api/harts/1/disable", { headers }),
          415,
          "UnsupportedMediaType",
          /send Content-Type: application\/json/,
        );
      }
      // Checked before the route: an unknown hart still gets 415.
      await expectError(
        app,
        post("/api/harts/9/disable", { headers: {} }),
        415,
        "UnsupportedMediaType",
        /./,
      );
      strictEqual(system.percpus.get(1).state, "enabled");
    });
  } finally {
    await system.close();
  }
});

/** A system whose backend can be told to fail after the set-up. */
async function faultySystem(): Promise<
  { system: { hal: AxVCpuHal; percpus: PerCpuSet }; fail: Set<string> }
> {
  const fail = new Set<string>();
  const spy = new SpyHal(await createEmulatorHal({ harts: 2 }), (_hart, op) => {
    if (fail.has("crash")) throw new Error("The backend process exited");
    if (fail.has("hvip") && op.csr === CSR.hvip) return 2;
    if (fail.has("hedeleg-write") && op.csr === CSR.hedeleg && op.op === "write") return 2;
    return undefined;
  });
  const percpus = await PerCpuSet.init(spy);
  await percpus.enableAll();
  return { system: { hal: spy, percpus }, fail };
}

Deno.test("createApp() maps Unsupported to 501 and unexpected errors to 500", async () => {
  const { system, fail } = await faultySystem();
  const app = createApp(system);
  try {
    fail.add("hvip");
    await expectError(
      app,
      { method: "GET", path: "/api/harts/1" },
      501,
      "Unsupported",
      /Cannot read CSR "hvip" \(0x645\) on hart 1/,
    );
    fail.delete("hvip");
    strictEqual((await call(app, post("/api/harts/1/disable"))).status, 200);
    fail.add("hedeleg-write");
    await expectError(app, post("/api/harts/1/enable"), 501, "Unsupported", /hedeleg/);
    strictEqual(system.percpus.get(1).state, "disabled");
    fail.delete("hedeleg-write");

    fail.add("crash");
    const original = console.error;
    const logged: unknown[] = [];
    console.error = (...args: unknown[]) => void logged.push(...args);
    try {
      await expectError(
        app,
        { method: "GET", path: "/api/harts/0/routes" },
        500,
        "Internal",
        /The backend process exited/,
      );
    } finally {
      console.error = original;
    }
    strictEqual(logged.length, 1, "an unexpected error is logged");
  } finally {
    fail.clear();
    await system.percpus.disableAll();
    await system.hal.close();
  }
});

Deno.test("createApp() with a token requires it on every route but /healthz", async () => {
  const system = await bootFour();
  const events = [{ i: 0, hart: 0, op: "read", csr: "hgatp", num: "0x680", ret: "0x0" }];
  const app = createApp(system, { token: "s3cret-token", trace: () => events });
  const bearer = { Authorization: "Bearer s3cret-token" };
  try {
    // Reading is guarded too: the trace, the live CSRs, the backend.
    for (
      const path of [
        "/api/harts",
        "/api/harts/1",
        "/api/harts/1/routes",
        "/api/trace",
        "/api/backend",
        "/api/nope",
      ]
    ) {
      const refused = await call(app, { method: "GET", path });
      strictEqual(refused.status, 401, path);
      strictEqual((refused.body.error as { kind: string }).kind, "Unauthorized");
      strictEqual(refused.headers.get("www-authenticate"), 'Bearer realm="rvhv"');
      const wrong = await call(app, {
        method: "GET",
        path,
        headers: { Authorization: "Bearer x" },
      });
      strictEqual(wrong.status, 401, path);
    }
    const head = await app.request("/api/harts", { method: "HEAD" });
    strictEqual(head.status, 401);
    strictEqual(
      (await call(app, { method: "GET", path: "/api/harts/1", headers: bearer })).status,
      200,
    );
    deepStrictEqual(
      (await call(app, { method: "GET", path: "/api/trace", headers: bearer })).body,
      { events },
    );
    // The health check stays open and says nothing about the harts.
    const health = await call(app, { method: "GET", path: "/healthz" });
    deepStrictEqual([health.status, health.body], [200, { status: "ok" }]);

    for (
      const authorization of [
        undefined,
        "",
        "Bearer",
        "Bearer wrong",
        "Basic s3cret-token",
        "Bearer s3cret-tokenX",
      ]
    ) {
      const headers: Record<string, string> = { ...JSON_HEADERS };
      if (authorization !== undefined) headers.Authorization = authorization;
      const answer = await call(app, post("/api/harts/1/disable", { headers }));
      strictEqual(answer.status, 401, `Authorization: ${authorization}`);
      strictEqual((answer.body.error as { kind: string }).kind, "Unauthorized");
      match(
        (answer.body.error as { message: string }).message,
        /send "Authorization: Bearer <token>"/,
      );
    }
    strictEqual(system.percpus.get(1).state, "enabled", "no refused request changed anything");
    // The token is checked before the content type.
    const noType = await call(app, post("/api/harts/1/disable", { headers: {} }));
    strictEqual(noType.status, 401);
    const ok1 = await call(
      app,
      post("/api/harts/1/disable", { headers: { ...JSON_HEADERS, ...bearer } }),
    );
    strictEqual(ok1.status, 200);
    const ok2 = await call(
      app,
      post("/api/harts/1/enable", {
        headers: { ...JSON_HEADERS, authorization: "bearer  s3cret-token " },
      }),
    );
    strictEqual(ok2.status, 200);
    throws(() => createApp(system, { token: "" }), TypeError);
  } finally {
    await system.close();
  }
});

Deno.test("createApp() with a token: the page takes it once from ?token= and keeps it in a cookie", async () => {
  const system = await bootFour();
  const app = createApp(system, { token: "s3cret;token=" });
  try {
    // Without the token the page is a 401 page that says how to pass it.
    for (const path of ["/", "/?token=wrong", "/?token="]) {
      const refused = await app.request(path);
      strictEqual(refused.status, 401, path);
      match(refused.headers.get("content-type")!, /^text\/html/);
      strictEqual(refused.headers.get("set-cookie"), null);
      const text = await refused.text();
      match(text, /\?token=/);
      doesNotMatch(text, /\?hart=/, "no hart is shown");
    }
    // The right token once: a session cookie only this site's requests carry, and
    // a redirect that takes the token out of the address bar.
    const query = `/?token=${encodeURIComponent("s3cret;token=")}`;
    const exchanged = await app.request(query);
    strictEqual(exchanged.status, 303);
    strictEqual(exchanged.headers.get("location"), "/");
    const setCookie = exchanged.headers.get("set-cookie")!;
    match(setCookie, /^rvhv-token=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(";")[0]!;
    // The cookie opens the page, the API and the page's POSTs.
    const page = await app.request("/", { headers: { Cookie: cookie } });
    strictEqual(page.status, 200);
    const html = await page.text();
    match(html, /<a href="\?hart=3">3<\/a>/);
    ok(!html.includes("s3cret"), "the page does not carry the token");
    // And what the page's script fetches: the overview, a card, the generation.
    for (const path of ["/fragments/grid", "/fragments/harts/3", "/api/generation"]) {
      strictEqual((await app.request(path)).status, 401, path);
      const opened = await app.request(path, { headers: { Cookie: cookie } });
      strictEqual(opened.status, 200, path);
      await opened.body?.cancel();
    }
    ok(!html.includes('id="token"'), "and asks for none: the cookie is enough");
    strictEqual(
      (await call(app, { method: "GET", path: "/api/harts", headers: { Cookie: cookie } })).status,
      200,
    );
    const disabled = await call(
      app,
      post("/api/harts/2/disable", { headers: { ...JSON_HEADERS, Cookie: cookie } }),
    );
    strictEqual(disabled.status, 200);
    // A wrong cookie is no token; a bearer header opens the page too.
    for (const other of ["rvhv-token=wrong", "rvhv-token=", "other=s3cret%3Btoken%3D"]) {
      strictEqual((await app.request("/", { headers: { Cookie: other } })).status, 401, other);
      const api = await call(app, {
        method: "GET",
        path: "/api/harts",
        headers: { Cookie: other },
      });
      strictEqual(api.status, 401, other);
    }
    const withBearer = await app.request("/", {
      headers: { Authorization: "Bearer s3cret;token=" },
    });
    strictEqual(withBearer.status, 200, "a bearer header opens the page too");
    await withBearer.body?.cancel();
    // The query is read on the page only: the API never takes a token from the URL.
    const inUrl = await call(app, { method: "GET", path: `/api/harts${query}` });
    strictEqual(inUrl.status, 401);
  } finally {
    await system.close();
  }
});

Deno.test("createApp() refuses requests from another origin, allows none and its own", async () => {
  const system = await bootFour();
  const app = createApp(system);
  try {
    for (
      const origin of ["http://evil.example", "http://localhost:8080", "https://localhost", "null"]
    ) {
      await expectError(
        app,
        { method: "GET", path: "/api/harts", headers: { Origin: origin } },
        403,
        "Forbidden",
        /Cannot serve a request from origin/,
      );
      await expectError(
        app,
        post("/api/harts/0/disable", { headers: { ...JSON_HEADERS, Origin: origin } }),
        403,
        "Forbidden",
        /only http:\/\/localhost may call this server/,
      );
    }
    strictEqual(system.percpus.get(0).state, "enabled");
    // No Origin (curl, scripts) and the same origin (the page itself) are allowed.
    strictEqual((await call(app, { method: "GET", path: "/api/harts" })).status, 200);
    const same = await call(
      app,
      post("/api/harts/0/disable", { headers: { ...JSON_HEADERS, Origin: "http://localhost" } }),
    );
    strictEqual(same.status, 200);
    // The Origin check comes before the token check.
    const guarded = createApp(system, { token: "t" });
    const answer = await call(
      guarded,
      post("/api/harts/0/enable", { headers: { Origin: "http://evil.example" } }),
    );
    strictEqual(answer.status, 403);
  } finally {
    await system.close();
  }
});

Deno.test("createApp() with hosts answers only to those Host names", async () => {
  const system = await bootFour();
  const app = createApp(system, { hosts: ["127.0.0.1:8787", "localhost:8787"] });
  // A server passes the client's Host header; app.request() sets none, so each is explicit.
  const from = (url: string, host: string) => app.request(url, { headers: { Host: host } });
  try {
    strictEqual((await from("http://127.0.0.1:8787/healthz", "127.0.0.1:8787")).status, 200);
    strictEqual((await from("http://localhost:8787/healthz", "localhost:8787")).status, 200);
    strictEqual((await from("http://localhost:8787/healthz", "LocalHost:8787")).status, 200);
    const rebound = await from("http://attacker.example:8787/api/harts", "attacker.example:8787");
    strictEqual(rebound.status, 403);
    match((await rebound.json()).error.message, /Cannot serve host "attacker\.example:8787"/);
    for (const host of ["127.0.0.1", "127.0.0.1:8788", "localhost.:8787", "[::1]:8787"]) {
      strictEqual((await from("http://127.0.0.1:8787/healthz", host)).status, 403, host);
    }
  } finally {
    await system.close();
  }
});

Deno.test("createApp() with hosts refuses a request whose Host is missing or empty", async () => {
  const system = await bootFour();
  const app = createApp(system, { hosts: ["127.0.0.1:8787", "localhost:8787"] });
  try {
    // The URL names a served host, but the Host header is what a client sent.
    for (const headers of [{}, { Host: "" }, { Host: "   " }]) {
      for (const path of ["/healthz", "/api/harts"]) {
        await expectError(
          app,
          { method: "GET", path: `http://127.0.0.1:8787${path}`, headers },
          403,
          "Forbidden",
          /Cannot serve a request without a Host header: this server answers to 127\.0\.0\.1:8787, localhost:8787/,
        );
      }
      // The page's errors are a page.
      const page = await app.request("http://127.0.0.1:8787/", { headers });
      strictEqual(page.status, 403);
      match(page.headers.get("content-type")!, /^text\/html/);
      match(await page.text(), /Cannot serve a request without a Host header/);
      await expectError(
        app,
        {
          method: "POST",
          path: "http://localhost:8787/api/harts/0/disable",
          headers: { ...JSON_HEADERS, ...headers },
          body: "{}",
        },
        403,
        "Forbidden",
        /without a Host header/,
      );
    }
    strictEqual(system.percpus.get(0).state, "enabled");
  } finally {
    await system.close();
  }
});

Deno.test("createApp() answers a method a route does not take with 405 and an Allow header", async () => {
  const system = await bootFour();
  const app = createApp(system);
  try {
    const cases: [method: string, path: string, allow: string][] = [
      ["PUT", "/api/harts/0/enable", "POST"],
      ["DELETE", "/api/harts/1/disable", "POST"],
      ["GET", "/api/harts/1/enable", "POST"],
      ["OPTIONS", "/api/harts/1/enable", "POST"],
      ["DELETE", "/api/harts", "GET, HEAD"],
      ["POST", "/api/harts", "GET, HEAD"],
      ["PATCH", "/api/harts/2", "GET, HEAD"],
      ["PUT", "/api/harts/2/routes", "GET, HEAD"],
      ["POST", "/api/trace", "GET, HEAD"],
      ["DELETE", "/api/backend", "GET, HEAD"],
      ["PUT", "/api/backend/harts/0/csr", "POST"],
      ["POST", "/healthz", "GET, HEAD"],
      ["DELETE", "/", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const withBody = method !== "GET" && method !== "OPTIONS";
      // Without a JSON content type (it was 415) and with one (it was 404).
      for (const headers of withBody ? [{}, JSON_HEADERS] : [{}]) {
        const answer = await call(app, {
          method,
          path,
          headers,
          ...(withBody ? { body: "{}" } : {}),
        });
        strictEqual(answer.status, 405, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        strictEqual(answer.headers.get("allow"), allow, `${method} ${path}`);
        deepStrictEqual(answer.body, {
          error: {
            kind: "MethodNotAllowed",
            message: `Cannot ${method} ${path}: it takes ${allow}`,
          },
        });
      }
    }
    // A path with no route stays 404, whatever the method.
    await expectError(
      app,
      { method: "PUT", path: "/api/nope" },
      404,
      "NotFound",
      /PUT \/api\/nope/,
    );
    for (const id of [0, 1, 2, 3]) strictEqual(system.percpus.get(id).state, "enabled");
    // With a token, the token is asked first (nothing about the API without it).
    const guarded = createApp(system, { token: "tok" });
    await expectError(
      guarded,
      { method: "PUT", path: "/api/harts/0/enable" },
      401,
      "Unauthorized",
      /token/,
    );
    const allowed = await call(guarded, {
      method: "PUT",
      path: "/api/harts/0/enable",
      headers: { Authorization: "Bearer tok" },
    });
    deepStrictEqual([allowed.status, allowed.headers.get("allow")], [405, "POST"]);
  } finally {
    await system.close();
  }
});

Deno.test("GET /healthz answers 503 when the backend is closed or its accesses fail", async () => {
  const closing = await bootFour();
  const app = createApp(closing);
  const alive = await call(app, { method: "GET", path: "/healthz" });
  deepStrictEqual([alive.status, alive.body], [200, { status: "ok" }]);
  await closing.close();
  await expectError(
    app,
    { method: "GET", path: "/healthz" },
    503,
    "Unavailable",
    /^Cannot serve: the backend does not answer \(BadState\)$/,
  );
  strictEqual((await app.request("/healthz", { method: "HEAD" })).status, 503);

  // A backend whose accesses fail (a lost connection, a dead process).
  let failure: Error | undefined;
  const hal = new SpyHal(await createEmulatorHal({ harts: 2 }), () => {
    if (failure !== undefined) throw failure;
    return undefined;
  });
  const percpus = await PerCpuSet.init(hal);
  const failing = createApp({ hal, percpus });
  try {
    strictEqual((await failing.request("/healthz")).status, 200);
    for (
      const [error, kind] of [
        [new AxError("Io", "Cannot reach QEMU at /run/secret.sock: connection reset"), "Io"],
        [new Error("The backend process exited"), "Internal"],
      ] as const
    ) {
      failure = error;
      await expectError(
        failing,
        { method: "GET", path: "/healthz" },
        503,
        "Unavailable",
        new RegExp(`^Cannot serve: the backend does not answer \\(${kind}\\)$`),
      );
    }
    failure = undefined;
    strictEqual((await failing.request("/healthz")).status, 200, "it recovers with the backend");
  } finally {
    await hal.close();
  }
});

Deno.test("createApp() serves the trace when given a source", async () => {
  const system = await bootFour();
  const events = [{ i: 0, hart: 0, op: "read", csr: "hgatp", num: "0x680", ret: "0x0" }];
  const app = createApp(system, { trace: () => Promise.resolve(events) });
  try {
    const { status, body } = await call(app, { method: "GET", path: "/api/trace" });
    strictEqual(status, 200);
    deepStrictEqual(body, { events });
    ok(Array.isArray(body.events));
  } finally {
    await system.close();
  }
});

Deno.test("createApp() serves the backend and raw CSR batches, only with a token", async (t) => {
  const system = await bootFour();
  const auth = { ...JSON_HEADERS, Authorization: "Bearer tok" };
  const csrPost = (hart: number | string, body: unknown, headers: Record<string, string> = auth) =>
    post(`/api/backend/harts/${hart}/csr`, { headers, body: JSON.stringify(body) });
  try {
    await t.step("GET /api/backend gives info() and every hart", async () => {
      const app = createApp(system);
      const { status, body } = await call(app, { method: "GET", path: "/api/backend" });
      strictEqual(status, 200);
      deepStrictEqual(body.harts, [0, 1, 2, 3]);
      strictEqual((body.info as { backend: string }).backend, "emulator");
    });
    await t.step("a raw batch runs in order with hex values, traps in place", async () => {
      const app = createApp(system, { token: "tok" });
      const { status, body } = await call(
        app,
        csrPost(2, {
          ops: [
            { op: "write", csr: CSR.sscratch, value: "0xdead" },
            { op: "read", csr: 0 },
            { op: "set", csr: CSR.sscratch, value: "0x10" },
            { op: "read", csr: CSR.sscratch },
          ],
        }),
      );
      strictEqual(status, 200);
      deepStrictEqual(body.results, [
        { ok: true, value: "0x0" },
        { ok: false, trapCause: 2 },
        { ok: true, value: "0xdead" },
        { ok: true, value: "0xdebd" },
      ]);
      strictEqual(await system.hal.csr.read(2, CSR.sscratch), 0xdebdn);
    });
    await t.step(
      "raw access is refused without a server token, or without the caller's",
      async () => {
        await expectError(
          createApp(system),
          csrPost(0, { ops: [] }, JSON_HEADERS),
          501,
          "Unsupported",
          /no token; start it with --token/,
        );
        await expectError(
          createApp(system, { token: "tok" }),
          csrPost(0, { ops: [] }, JSON_HEADERS),
          401,
          "Unauthorized",
          /token/i,
        );
      },
    );
    await t.step("malformed batches and unknown harts", async () => {
      const app = createApp(system, { token: "tok" });
      await expectError(
        app,
        csrPost(0, { op: "read" }),
        400,
        "InvalidInput",
        /\{ "ops": \[\.\.\.\] \}/,
      );
      await expectError(
        app,
        csrPost(0, { ops: [{ op: "poke", csr: 1 }] }),
        400,
        "InvalidInput",
        /operation 0 has op "poke"/,
      );
      await expectError(
        app,
        csrPost(0, { ops: [{ op: "write", csr: CSR.sscratch, value: "zz" }] }),
        400,
        "InvalidInput",
        /operation 0/,
      );
      await expectError(app, csrPost(9, { ops: [] }), 404, "NotFound", /hart 9/);
    });
  } finally {
    await system.close();
  }
});

/** The server-rendered page: readable without JavaScript, escaped, and the cell and bit helpers. */

import { deepStrictEqual, doesNotMatch, match, ok, strictEqual } from "node:assert/strict";
import type { AxVCpuHal } from "../hal/types.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { routeTable } from "../routing/route_table.ts";
import { createApp } from "./app.ts";
import { bitChips, bitText, cellView } from "./_card.ts";
import { forwardingHal } from "../tests/_helpers/forwarding_hal.ts";

const ARCEOS = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: 0xb10dn, hideleg: 0x444n };

function row(interrupt: boolean, cause: number) {
  return routeTable(ARCEOS, { cause, interrupt })[0]!;
}

Deno.test("cellView() shows destination, redirect, seen cause, pending and not raised", () => {
  const breakpoint = row(false, 3);
  deepStrictEqual(
    [
      cellView(breakpoint, breakpoint.routes.VU!).text,
      cellView(breakpoint, breakpoint.routes.VU!).className,
    ],
    ["VS", "route to-VS"],
  );
  const illegal = row(false, 2);
  const redirected = cellView(illegal, illegal.routes.VS!);
  deepStrictEqual([redirected.text, redirected.className], ["M→VS", "route to-VS via-M"]);
  match(redirected.title, /medeleg\[2\] = 0.*OpenSBI redirects it to VS-mode/);
  const vsti = row(true, 6);
  strictEqual(cellView(vsti, vsti.routes.VU!).text, "VS:5");
  deepStrictEqual(
    [cellView(vsti, vsti.routes.HS!).text, cellView(vsti, vsti.routes.HS!).className],
    ["(VS:5)", "route to-VS pending"],
  );
  const ecallHs = row(false, 9);
  deepStrictEqual(
    [cellView(ecallHs, ecallHs.routes.U!).text, cellView(ecallHs, ecallHs.routes.U!).className],
    ["—", "route na"],
  );
});

Deno.test("bitText() and bitChips() fold runs and mark refused bits", () => {
  strictEqual(bitText("0x0"), "");
  strictEqual(bitText("0x20"), "bit 5");
  strictEqual(bitText("0x222"), "bits 1, 5, 9");
  strictEqual(bitText("0x6"), "bits 1, 2");
  strictEqual(bitText("0xffffffff00000000"), "bits 32–63");
  deepStrictEqual(
    bitChips({
      value: "0xffffffffffffffff",
      bits: [
        "CY",
        "TM",
        "IR",
        ...Array.from({ length: 29 }, (_, i) => `HPM${i + 3}`),
        ...Array.from({ length: 32 }, (_, i) => `bit ${i + 32}`),
      ],
      refused: "0x8000000000000000",
    }),
    [
      { text: "CY", refused: false },
      { text: "TM", refused: false },
      { text: "IR", refused: false },
      { text: "HPM3–HPM31", refused: false },
      { text: "bit 32–bit 63", refused: true },
    ],
  );
  deepStrictEqual(
    bitChips({ value: "0x6", bits: ["TM", "IR"], refused: "0x4" }),
    [{ text: "TM", refused: false }, { text: "IR", refused: true }],
  );
});

async function twoHarts(info?: () => ReturnType<AxVCpuHal["info"]>) {
  const inner = await createEmulatorHal({ harts: 2, profile: "qemu-7.2" });
  const hal: AxVCpuHal = info === undefined ? inner : forwardingHal(inner, { info });

  const percpus = await PerCpuSet.init(hal);
  await percpus.enableAll();
  await percpus.get(1).hardwareDisable();
  return { hal, percpus };
}

Deno.test("GET / opens on the overview, readable without JavaScript", async () => {
  const system = await twoHarts();
  try {
    const page = await (await createApp(system).request("/")).text();
    match(page, /<section id="overview" data-generation="[0-9a-z]+-0"/);
    match(page, /2 harts \(1 enabled, 1 disabled\) in 2 rows/);
    const heads = ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "medeleg", "mideleg"];
    match(
      page,
      new RegExp(
        '<tr><th scope="col">Harts</th><th scope="col">State</th><th scope="col">vCPU</th>' +
          heads.map((name) => `<th scope="col"[^>]*>${name}</th>`).join(""),
      ),
    );
    match(
      page,
      /<tr class="asked"><th scope="row" colspan="3">arceos asks<\/th><td>0xb10d<\/td><td>0x444<\/td><td>0x0<\/td><td>0xffffffffffffffff<\/td><td>0x222<\/td>/,
    );
    // One row per hart here (they differ); every value live; the disabled hart holds its
    // priors, which is what it should hold: nothing is marked (the qemu-7.2 hart keeps all
    // of hcounteren).
    const row = (id: number, state: string, values: string[]) =>
      `<tr><th scope="row"><a href="?hart=${id}">${id}</a></th><td class="state-${state}">${state}</td>` +
      `<td class="none">none</td>${values.map((v) => `<td>${v}</td>`).join("")}</tr>`;
    ok(page.includes(row(0, "enabled", [
      "0xb10d",
      "0x444",
      "0x0",
      "0xffffffffffffffff",
      "0x222",
      "0xf0b509",
      "0x1666",
    ])));
    ok(
      page.includes(row(1, "disabled", ["0x0", "0x0", "0x0", "0x0", "0x0", "0xf0b509", "0x1666"])),
    );
    match(page, /Every value is what its hart should hold now, and what its peers hold/);
    // No card until one is opened; the legend explains the marks and the routing colours.
    doesNotMatch(page, /<article class="hart"/);
    match(page, /<section id="detail" aria-label="The open hart">\s*<p class="hint">/);
    match(page, /<details class="legend">/);
    ok(!page.includes('id="token"'), "no token field without a token");
  } finally {
    await system.percpus.disableAll();
    await system.hal.close();
  }
});

Deno.test("GET /?hart=N adds the hart's card: CSRs, bits, vCPU, buttons, routing grid", async () => {
  const system = await twoHarts();
  const app = createApp(system);
  try {
    const page = await (await app.request("/?hart=1")).text();
    match(page, /<article class="hart" id="hart-1" data-hart="1" data-state="disabled"/);
    strictEqual(page.split('<article class="hart"').length - 1, 1, "one card");
    match(page, /data-field="state">disabled</);
    // Buttons in the state's terms: each one off says why.
    match(page, /data-action="enable" data-hart="1"\s+aria-label="Enable hart 1">Enable</);
    match(page, /aria-label="Disable hart 1"\s+title="The hart is disabled" disabled>/);
    match(
      page,
      /aria-label="Bind a vCPU on hart 1"\s+title="vCPUs are bound only on enabled harts" disabled>/,
    );
    match(page, /aria-label="Unbind a vCPU on hart 1"\s+title="No vCPU is bound" disabled>/);
    match(page, /vCPU: <strong data-field="vcpu">none<\/strong>/);
    for (const name of ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "medeleg", "mideleg"]) {
      match(page, new RegExp(`<tbody data-csr="${name}">`));
    }
    match(
      page,
      /<td data-field="value"><code>0x0<\/code><\/td>\s*<td data-field="asked"><code>0xb10d/,
    );
    // The routing grid: 35 rows of 4 origins, cells addressable by kind, cause and origin.
    strictEqual(page.match(/<td class="route[^"]*"[^>]*data-kind=/g)!.length, 35 * 4);
    match(
      page,
      /class="route to-HS" title="[^"]*" data-kind="exception" data-cause="3"\s+data-from="VU">HS</,
    );
    const enabled = await (await app.request("/?hart=0")).text();
    match(enabled, /<li>ILLEGAL_INSTRUCTION<\/li>/);
    match(enabled, /<li>HPM3–HPM31<\/li>/);
    match(
      enabled,
      /class="route to-VS" title="[^"]*" data-kind="exception" data-cause="3"\s+data-from="VU">VS</,
    );
    match(enabled, /aria-label="Bind a vCPU on hart 0">Bind</);
    // The fragment the script fetches is the same card, alone, and runs nothing.
    const fragment = await app.request("/fragments/harts/1");
    strictEqual(
      fragment.headers.get("content-security-policy"),
      "default-src 'none'; frame-ancestors 'none'",
    );
    strictEqual(fragment.headers.get("cache-control"), "no-store");
    const card = await fragment.text();
    match(card, /^\s*<section id="detail"/);
    ok(page.includes(card.trim()), "the page's detail section is the fragment");
    const grid = await (await app.request("/fragments/grid")).text();
    match(grid, /^\s*<section id="overview" data-generation=/);
    // A hart not in the set, a malformed id: the page's error pages, the fragment's JSON.
    strictEqual((await app.request("/?hart=7")).status, 404);
    const malformed = await app.request("/?hart=x");
    strictEqual(malformed.status, 400);
    match(await malformed.text(), /<h1>400 InvalidInput<\/h1>/);
    const missing = await app.request("/fragments/harts/7");
    strictEqual(missing.status, 404);
    match((await missing.json()).error.message, /Cannot find hart 7/);
  } finally {
    await system.percpus.disableAll();
    await system.hal.close();
  }
});

Deno.test("GET /?hart=N highlights refused bits", async () => {
  const hal = await createEmulatorHal({ harts: 1 });
  const percpus = await PerCpuSet.init(hal);
  try {
    const page = await (await createApp({ hal, percpus }).request("/?hart=0")).text();
    match(
      page,
      /<td data-field="refused"><mark class="refused"><code>0xffffffff00000000<\/code><\/mark> <span class="bitpos">bits 32–63<\/span><\/td>/,
    );
    match(page, /<td data-field="value" class="refused" title="Refused: hcounteren is 0xffffffff;/);
  } finally {
    await hal.close();
  }
});

Deno.test("GET / escapes what it shows and locks its inline code to a nonce", async () => {
  const system = await twoHarts(() => ({
    backend: '<script>alert("x")</script>',
    isa: "rv64imafdch",
    firmware: "opensbi-1.1",
  }));
  try {
    const response = await createApp(system).request("/");
    const page = await response.text();
    doesNotMatch(page, /<script>alert/);
    match(page, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
    const policy = response.headers.get("content-security-policy")!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(policy)![1]!;
    match(policy, /default-src 'none'/);
    match(policy, /frame-ancestors 'none'/);
    strictEqual(
      page.split(`nonce="${nonce}"`).length - 1,
      2,
      "the style and the script carry the nonce",
    );
    const again = await createApp(system).request("/");
    ok(!again.headers.get("content-security-policy")!.includes(nonce), "a fresh nonce per page");
  } finally {
    await system.percpus.disableAll();
    await system.hal.close();
  }
});

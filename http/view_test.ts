/** The server-rendered page: readable without JavaScript, escaped, and the cell and bit helpers. */

import { deepStrictEqual, doesNotMatch, match, ok, strictEqual } from "node:assert/strict";
import type { AxVCpuHal } from "../hal/types.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { routeTable } from "../routing/route_table.ts";
import { createApp } from "./app.ts";
import { bitChips, bitText, cellView } from "./view.ts";
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

Deno.test("GET / renders states, CSR names and values and the grid without JavaScript", async () => {
  const system = await twoHarts();
  try {
    const response = await createApp(system).request("/");
    const page = await response.text();
    // One card per hart, with its state and buttons in the matching state.
    match(page, /<article class="hart" id="hart-0" data-hart="0" data-state="enabled"/);
    match(page, /<article class="hart" id="hart-1" data-hart="1" data-state="disabled"/);
    match(page, /data-field="state">enabled</);
    match(page, /data-field="state">disabled</);
    match(page, /data-action="enable" data-hart="0" aria-label="Enable hart 0" disabled>/);
    match(page, /data-action="disable" data-hart="1" aria-label="Disable hart 1" disabled>/);
    // CSR names, live values, named bits; the qemu-7.2 hart keeps all of hcounteren.
    for (const name of ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "medeleg", "mideleg"]) {
      match(page, new RegExp(`<tbody data-csr="${name}">`));
    }
    match(page, /<td data-field="value"><code>0xb10d<\/code><\/td>/);
    match(page, /<td data-field="value"><code>0x0<\/code><\/td>/);
    match(page, /<li>ILLEGAL_INSTRUCTION<\/li>/);
    match(page, /<li>HPM3–HPM31<\/li>/);
    // The grid: 35 rows of 4 origins per hart, cells addressable by kind, cause and origin.
    strictEqual(page.match(/<td class="route[^"]*"[^>]*data-kind=/g)!.length, 2 * 35 * 4);
    match(
      page,
      /class="route to-VS" title="[^"]*" data-kind="exception" data-cause="3"\s+data-from="VU">VS</,
    );
    match(
      page,
      /class="route to-HS" title="[^"]*" data-kind="exception" data-cause="3"\s+data-from="VU">HS</,
    );
    match(page, /<section class="legend" aria-labelledby="legend-title">/);
    ok(!page.includes('id="token"'), "no token field without a token");
  } finally {
    await system.percpus.disableAll();
    await system.hal.close();
  }
});

Deno.test("GET / highlights refused bits", async () => {
  const hal = await createEmulatorHal({ harts: 1 });
  const percpus = await PerCpuSet.init(hal);
  try {
    const page = await (await createApp({ hal, percpus }).request("/")).text();
    match(
      page,
      /<td data-field="refused"><mark class="refused"><code>0xffffffff00000000<\/code><\/mark> <span class="bitpos">bits 32–63<\/span><\/td>/,
    );
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

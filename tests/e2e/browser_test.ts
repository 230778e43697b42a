/**
 * The page in a real browser: headless Chromium (the system's, never a
 * downloaded one) driven by puppeteer-core, served with a token as
 * `rvhv serve --token` serves it (opened once as `/?token=…`, then the
 * cookie). Disabling hart 2 must change its card and its routing grid in
 * place, exactly as the server renders them.
 *
 * Skips, saying why, when no Chromium is installed, unless
 * RVHV_REQUIRE_BROWSER=1 (as in CI), where a missing browser fails.
 * RVHV_CHROMIUM names the browser binary; RVHV_SCREENSHOT a path to save a
 * screenshot of the page to (the README's docs/harts.png).
 */

import { deepStrictEqual, match, notDeepStrictEqual, ok, strictEqual } from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { createApp, type HttpApp } from "../../http/app.ts";
import { boot } from "../../manifest/boot.ts";
import { parseManifest } from "../../manifest/parse.ts";

const CANDIDATES = [
  "/usr/lib/chromium/chromium",
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];
const REQUIRED = Deno.env.get("RVHV_REQUIRE_BROWSER") === "1";
const TOKEN = "br0wser-t0ken";

function findChromium(): string | undefined {
  const named = Deno.env.get("RVHV_CHROMIUM");
  for (const path of named === undefined ? CANDIDATES : [named]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there; try the next one.
    }
  }
  return undefined;
}

const chromium = findChromium();
const NAME = "the page disables hart 2 in headless Chromium and its card and grid change";
const WHY_SKIPPED = `no Chromium found (looked for ${
  Deno.env.get("RVHV_CHROMIUM") ?? CANDIDATES.join(", ")
}); install it with "apt-get install -y --no-install-recommends chromium"`;

/** A card and its grid as data: state, buttons, CSR values, every grid cell. */
interface CardSnapshot {
  state: string;
  badge: string;
  buttons: Record<string, boolean>;
  csrs: Record<string, { value: string; bits: string; refused: string }>;
  cells: Record<string, { text: string; className: string; title: string }>;
}

/** Reads a card in the page (a string, so that no DOM type enters the type check). */
function snapshot(page: Page, hart: number): Promise<CardSnapshot> {
  return page.evaluate(`(() => {
    const card = document.getElementById("hart-${hart}");
    const badge = card.querySelector("[data-field=state]");
    const buttons = {};
    for (const b of card.querySelectorAll("button[data-action]")) buttons[b.dataset.action] = b.disabled;
    const csrs = {};
    for (const group of card.querySelectorAll("[data-csr]")) {
      csrs[group.dataset.csr] = {
        value: group.querySelector("[data-field=value]").textContent.trim(),
        bits: group.querySelector("[data-field=bits]").textContent.replace(/\\s+/g, " ").trim(),
        refused: group.querySelector("[data-field=refused]").textContent.replace(/\\s+/g, " ").trim(),
      };
    }
    const cells = {};
    for (const td of card.querySelectorAll("td[data-kind]")) {
      cells[td.dataset.kind + " " + td.dataset.cause + " " + td.dataset.from] = {
        text: td.textContent,
        className: td.className,
        title: td.title,
      };
    }
    return { state: card.dataset.state, badge: badge.className + " " + badge.textContent, buttons, csrs, cells };
  })()`) as Promise<CardSnapshot>;
}

async function launch(executablePath: string, userDataDir: string): Promise<Browser> {
  return await puppeteer.launch({
    executablePath,
    headless: true,
    pipe: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${userDataDir}`,
    ],
  });
}

if (chromium === undefined && !REQUIRED) {
  console.log(`browser test skipped: ${WHY_SKIPPED}`);
}

Deno.test({
  name: chromium === undefined && !REQUIRED ? `${NAME} (skipped: ${WHY_SKIPPED})` : NAME,
  ignore: chromium === undefined && !REQUIRED,
  // puppeteer keeps pipes and timers of its own until the browser is closed,
  // which this test always does; the sanitizers cannot tell them apart.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (chromium === undefined) {
      throw new Error(`RVHV_REQUIRE_BROWSER=1 but ${WHY_SKIPPED}`);
    }
    const system = await boot(
      parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 4 } }\n"),
    );
    // Served as `rvhv serve --token` serves it: loopback Host names only, a token.
    let handle: HttpApp["fetch"] = () => new Response("Starting", { status: 503 });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => handle(request),
    );
    const url = `http://127.0.0.1:${server.addr.port}/`;
    handle = createApp(system, { token: TOKEN, hosts: [`127.0.0.1:${server.addr.port}`] }).fetch;
    const userDataDir = await Deno.makeTempDir({ prefix: "rvhv-chromium-" });
    let browser: Browser | undefined;
    try {
      browser = await launch(chromium, userDataDir);
      // Without the token the page says how to pass it; with it once in the
      // URL, the server keeps it in a cookie and takes it out of the URL.
      const stranger = await browser.newPage();
      const refused = await stranger.goto(url, { waitUntil: "load" });
      strictEqual(refused?.status(), 401);
      match(await stranger.content(), /\?token=/);
      await stranger.close();
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(`page error: ${error}`));
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      await page.setViewport({ width: 1920, height: 1200 });
      const opened = await page.goto(`${url}?token=${TOKEN}`, { waitUntil: "load" });
      strictEqual(opened?.status(), 200);
      strictEqual(page.url(), url, "the token is not left in the address bar");
      await page.waitForFunction('document.documentElement.dataset.ready === "true"');

      const before = await snapshot(page, 2);
      strictEqual(before.state, "enabled");
      deepStrictEqual(before.buttons, { enable: true, disable: false });
      strictEqual(before.csrs.hedeleg!.value, "0xb10d");
      match(before.csrs.hedeleg!.bits, /ILLEGAL_INSTRUCTION/);
      match(before.csrs.hcounteren!.refused, /^0xffffffff00000000 bits 32–63$/);
      deepStrictEqual(
        [
          before.cells["exception 3 VU"],
          before.cells["exception 2 VS"],
          before.cells["interrupt 6 VU"],
        ]
          .map((c) => [c!.text, c!.className]),
        [["VS", "route to-VS"], ["M→VS", "route to-VS via-M"], ["VS:5", "route to-VS"]],
      );
      const neighbour = await snapshot(page, 1);

      await page.click('button[data-action="disable"][data-hart="2"]');
      await page.waitForFunction(
        'document.querySelector("#hart-2 [data-field=state]").textContent === "disabled"',
      );
      await page.waitForFunction('!document.getElementById("hart-2").hasAttribute("aria-busy")');
      const after = await snapshot(page, 2);

      // The card: state, buttons and the live values, restored to their priors.
      strictEqual(after.state, "disabled");
      strictEqual(after.badge, "badge state-disabled disabled");
      deepStrictEqual(after.buttons, { enable: false, disable: true });
      deepStrictEqual(
        ["hedeleg", "hideleg", "hcounteren", "sie"].map((name) => after.csrs[name]!.value),
        ["0x0", "0x0", "0x0", "0x0"],
      );
      strictEqual(after.csrs.hedeleg!.bits, "none");
      strictEqual(after.csrs.medeleg!.value, "0xf0b509", "the firmware's delegation stays");

      // The grid: exceptions from V=1 no longer reach VS (those from V=0 never
      // did), and the VS-level interrupts 2, 6 and 10 now go to HS, taken in
      // every mode below M.
      deepStrictEqual(
        [
          after.cells["exception 3 VU"],
          after.cells["exception 2 VS"],
          after.cells["interrupt 6 VU"],
        ]
          .map((c) => [c!.text, c!.className]),
        [["HS", "route to-HS"], ["M→HS", "route to-HS via-M"], ["HS", "route to-HS"]],
      );
      deepStrictEqual(after.cells["interrupt 10 U"]!.text, "HS");
      const changed = Object.keys(before.cells).filter((key) =>
        before.cells[key]!.text !== after.cells[key]!.text
      );
      deepStrictEqual(
        changed.filter((key) => key.startsWith("exception")).map((key) => key.split(" ")[2]),
        changed.filter((key) => key.startsWith("exception")).map((key) =>
          key.endsWith(" VU") ? "VU" : "VS"
        ),
      );
      deepStrictEqual(
        [
          ...new Set(
            changed.filter((key) => key.startsWith("interrupt")).map((key) => key.split(" ")[1]),
          ),
        ],
        ["2", "6", "10"],
      );
      strictEqual(changed.length, 13 + 12, changed.join(", "));
      notDeepStrictEqual(before.cells, after.cells);
      for (const cell of Object.values(after.cells)) {
        ok(!cell.className.includes("to-VS") || cell.className.includes("pending"));
      }
      // Only hart 2 changed; the API agrees; the status line says so.
      deepStrictEqual(await snapshot(page, 1), neighbour);
      const api = await fetch(`${url}api/harts/2`, {
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      strictEqual((await api.json()).state, "disabled");
      strictEqual(
        await page.evaluate('document.getElementById("status").textContent'),
        "Hart 2 is disabled",
      );

      // What the script rendered is what the server renders on a reload.
      if (Deno.env.get("RVHV_SCREENSHOT") !== undefined) {
        await page.screenshot({ path: Deno.env.get("RVHV_SCREENSHOT")! as `${string}.png` });
      }
      await page.reload({ waitUntil: "load" });
      await page.waitForFunction('document.documentElement.dataset.ready === "true"');
      deepStrictEqual(await snapshot(page, 2), after);

      // And back: enabling restores the card and the grid.
      await page.click('button[data-action="enable"][data-hart="2"]');
      await page.waitForFunction(
        'document.querySelector("#hart-2 [data-field=state]").textContent === "enabled"',
      );
      await page.waitForFunction('!document.getElementById("hart-2").hasAttribute("aria-busy")');
      deepStrictEqual((await snapshot(page, 2)).cells, before.cells);
      const png = await page.screenshot({ type: "png" });
      deepStrictEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      deepStrictEqual(problems, []);

      // Without JavaScript the page still shows states, CSR names and values.
      const plain = await browser.newPage();
      await plain.setJavaScriptEnabled(false);
      await plain.goto(url, { waitUntil: "load" });
      const html = await plain.content();
      ok(!html.includes('data-ready="true"'), "no script ran");
      match(html, /<article class="hart" id="hart-3" data-hart="3" data-state="enabled"/);
      match(html, /<th scope="row" rowspan="2"><code>hideleg<\/code><\/th>/);
      match(html, /<td data-field="value"><code>0x444<\/code><\/td>/);
    } finally {
      await browser?.close();
      await server.shutdown();
      await system.close();
      await Deno.remove(userDataDir, { recursive: true });
    }
  },
});

/**
 * The page in a real browser: headless Chromium (the system's, never a
 * downloaded one) driven by puppeteer-core, served as `rvhv serve --token`
 * serves it (opened once as `/?token=…`, then the cookie), at 64 and at
 * 4,096 emulated harts. The overview marks a CSR written behind the app's
 * back; enable, disable, bind and unbind, from the page or from another
 * client, redraw it without a reload; the page says when the backend or the
 * server stops answering; without JavaScript the overview and a card are
 * still there.
 *
 * Its npm dependencies (puppeteer-core) live in its own config and lock
 * file (`tests/e2e/deno.json`), so the root lock file holds only the
 * runtime's: run it with `--config tests/e2e/deno.json` (`deno task test`
 * does, through `tests/e2e_test.ts`).
 *
 * Skips, saying why, when no Chromium is installed, unless
 * RVHV_REQUIRE_BROWSER=1 (as in CI), where a missing browser fails.
 * RVHV_CHROMIUM names the browser binary; RVHV_SCREENSHOT a path to save a
 * screenshot of the 64-hart page to (the README's docs/harts.png).
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { createApp } from "../../http/app.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError } from "../../hal/errors.ts";
import type { AxVCpuHal } from "../../hal/types.ts";
import { PerCpuSet } from "../../percpu/percpu_set.ts";
import { createEmulatorHal } from "../../plugins/emulator/mod.ts";
import { findChromium, REQUIRE_BROWSER, WHY_NO_BROWSER } from "../_helpers/chromium.ts";
import { forwardingHal, forwardingPort } from "../_helpers/forwarding_hal.ts";

const TOKEN = "br0wser-t0ken";
/** The most the page may weigh at 4,096 harts. */
const MAX_PAGE_BYTES = 1_000_000;

const chromium = findChromium();
const NAME = "the page at 64 and 4,096 harts in headless Chromium: overview, drift, live updates";

/**
 * An emulated machine served as `rvhv serve --token` serves it, whose
 * backend can be made to stop answering (`gone`), as a lost QEMU would.
 */
interface Served {
  hal: AxVCpuHal;
  percpus: PerCpuSet;
  url: string;
  gone: boolean;
  stop(): Promise<void>;
}

async function serve(harts: number): Promise<Served> {
  const inner = await createEmulatorHal({ harts });
  const served = { gone: false } as Served;
  const csr = forwardingPort(inner.csr, {
    batch: (hart, ops) =>
      served.gone
        ? Promise.reject(new AxError("Io", "Cannot reach the emulator: it is gone (test)"))
        : inner.csr.batch(hart, ops),
  });
  served.hal = forwardingHal(inner, { csr });
  served.percpus = await PerCpuSet.init(served.hal, { policy: "kvm" });
  await served.percpus.enableAll();
  let handle = (_: Request): Response | Promise<Response> =>
    new Response("Starting", { status: 503 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (r) => handle(r));
  served.url = `http://127.0.0.1:${server.addr.port}/`;
  const app = createApp(served, { token: TOKEN, hosts: [`127.0.0.1:${server.addr.port}`] });
  handle = (request) => app.fetch(request);
  let stopped: Promise<void> | undefined;
  served.stop = () => stopped ??= server.shutdown();
  return served;
}

async function close(served: Served | undefined): Promise<void> {
  if (served === undefined) return;
  await served.stop();
  served.gone = false;
  for (const percpu of served.percpus) await percpu.vcpu?.unbind();
  await served.percpus.disableAll();
  await served.hal.close();
}

/** The API, as another client (curl, a script) calls it. */
async function api(served: Served, path: string, body?: unknown): Promise<Response> {
  return await fetch(served.url + path.slice(1), {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The overview's rows as text, in the page: harts, state, vCPU, values, a marked value as `value!mark`. */
const ROWS_JS = `[...document.querySelectorAll("#overview tbody tr")].map((tr) =>
  [...tr.children].map((cell) => {
    const mark = cell.className;
    const plain = mark === "" || mark === "none" || mark.startsWith("state-");
    return cell.textContent + (plain ? "" : "!" + mark);
  }).join(" "))`;

function gridRows(page: Page): Promise<string[]> {
  return page.evaluate(ROWS_JS) as Promise<string[]>;
}

/** Waits until the overview's rows are `rows`, however they get there (a redraw, a poll). */
async function untilRows(page: Page, rows: string[]): Promise<void> {
  try {
    await page.waitForFunction(
      `JSON.stringify(${ROWS_JS}) === ${JSON.stringify(JSON.stringify(rows))}`,
    );
  } catch (error) {
    deepStrictEqual(await gridRows(page), rows, `waiting for the rows failed: ${error}`);
  }
}

/** The values of an enabled hart as kvm sets it up (no vCPU), and of a disabled one. */
const ENABLED = "enabled none 0x0 0x0 0x0 0x2 0x0 0xf0b509 0x666";
const DISABLED = "disabled none 0x0 0x0 0x0 0x0 0x0 0xf0b509 0x666";
/** Hart 17 with the hedeleg written behind the app's back. */
const DRIFTED = "17 enabled none 0xb109!drift 0x0 0x0 0x2 0x0 0xf0b509 0x666";
/** Hart 2 with a vCPU of VM 5 (`bound` or `free`). */
const WITH_VCPU = (state: string) =>
  `2 enabled VM 5, ${state} 0xb10d 0x444 0x0 0x2 0x0 0xf0b509 0x666`;

function text(page: Page, selector: string): Promise<string> {
  return page.evaluate(
    `(document.querySelector(${JSON.stringify(selector)})?.textContent ?? "").trim()`,
  ) as Promise<string>;
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

/** Opens the page as a browser user does: once with the token, then by the cookie. */
async function openPage(browser: Browser, served: Served, problems: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  await page.setViewport({ width: 1440, height: 1000 });
  const opened = await page.goto(`${served.url}?token=${TOKEN}`, { waitUntil: "load" });
  strictEqual(opened?.status(), 200);
  strictEqual(page.url(), served.url, "the token is not left in the address bar");
  await page.waitForFunction('document.documentElement.dataset.ready === "true"');
  // A reload would drop this: its presence later shows the page was redrawn in place.
  await page.evaluate("window.rvhvSamePage = true");
  return page;
}

const samePage = (page: Page) => page.evaluate("window.rvhvSamePage === true");

/** Clicks a button of the open card and waits until the card is redrawn (not busy). */
async function press(page: Page, hart: number, action: string): Promise<void> {
  await page.click(`#hart-${hart} button[data-action="${action}"]`);
  await page.waitForFunction(
    `document.getElementById("hart-${hart}") && !document.getElementById("hart-${hart}").hasAttribute("aria-busy")`,
  );
}

async function openHart(page: Page, hart: number): Promise<void> {
  await page.evaluate(`document.getElementById("open-hart").value = "${hart}"`);
  await page.click("button[data-open-input]");
  await page.waitForFunction(`document.getElementById("hart-${hart}") !== null`);
}

if (chromium === undefined && !REQUIRE_BROWSER) {
  console.log(`browser test skipped: ${WHY_NO_BROWSER}`);
}

Deno.test({
  name: chromium === undefined && !REQUIRE_BROWSER ? `${NAME} (skipped: ${WHY_NO_BROWSER})` : NAME,
  ignore: chromium === undefined && !REQUIRE_BROWSER,
  // puppeteer keeps pipes and timers of its own until the browser is closed,
  // which this test always does; the sanitizers cannot tell them apart.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (chromium === undefined) {
      throw new Error(`RVHV_REQUIRE_BROWSER=1 but ${WHY_NO_BROWSER}`);
    }
    const userDataDir = await Deno.makeTempDir({ prefix: "rvhv-chromium-" });
    let browser: Browser | undefined;
    let served: Served | undefined;
    try {
      browser = await launch(chromium, userDataDir);
      const problems: string[] = [];

      await t.step("64 harts: the token, the overview, a drifted CSR marked", async () => {
        served = await serve(64);
        // Without the token the page says how to pass it.
        const stranger = await browser!.newPage();
        strictEqual((await stranger.goto(served.url, { waitUntil: "load" }))?.status(), 401);
        match(await stranger.content(), /\?token=/);
        await stranger.close();
        // Written behind the app's back, through the backend.
        await served.hal.csr.write(17, CSR.hedeleg, 0xb109n);
        const html = await (await api(served, "/")).text();
        ok(new TextEncoder().encode(html).length <= MAX_PAGE_BYTES);
        const page = await openPage(browser!, served, problems);
        deepStrictEqual(await gridRows(page), [
          `0–16, 18–63 (63) ${ENABLED}`,
          DRIFTED,
        ]);
        match(
          await page.evaluate(`document.querySelector("#overview td.drift").title`) as string,
          /^Drift: hedeleg is 0xb109; it should hold 0x0 now/,
        );
        // A hart's card opens in place, fetched when asked for; the address says which.
        await page.click('#overview a[href="?hart=17"]');
        await page.waitForFunction('document.getElementById("hart-17") !== null');
        strictEqual(page.url(), `${served.url}?hart=17`);
        match(await text(page, "#hart-17 tbody[data-csr=hedeleg] td.drift"), /^0xb109$/);
        await page.close();
      });

      await t.step("64 harts: the page's buttons redraw the grid in place", async () => {
        const page = await openPage(browser!, served!, problems);
        await openHart(page, 2);
        await press(page, 2, "disable");
        await untilRows(page, [
          `0–1, 3–16, 18–63 (62) ${ENABLED}`,
          `2 ${DISABLED}`,
          DRIFTED,
        ]);
        strictEqual(await text(page, "#hart-2 [data-field=state]"), "disabled");
        strictEqual(await text(page, "#status"), "Hart 2 is disabled");
        await press(page, 2, "enable");
        await untilRows(page, [
          `0–16, 18–63 (63) ${ENABLED}`,
          DRIFTED,
        ]);
        // A vCPU of VM 5: its delegation is what the hart should hold, so nothing is marked.
        await page.evaluate(`document.querySelector("#hart-2 input[name=vm]").value = "5"`);
        await press(page, 2, "vcpu/bind");
        await untilRows(page, [
          `0–1, 3–16, 18–63 (62) ${ENABLED}`,
          WITH_VCPU("bound"),
          DRIFTED,
        ]);
        strictEqual(await text(page, "#hart-2 [data-field=vcpu]"), "VM 5, bound");
        match(await text(page, "#status"), /^Hart 2 is enabled; vCPU: VM 5, bound$/);
        await press(page, 2, "vcpu/unbind");
        await untilRows(page, [
          `0–1, 3–16, 18–63 (62) ${ENABLED}`,
          WITH_VCPU("free"),
          DRIFTED,
        ]);
        // Bound again (the same vCPU): disabling the hart waits for an unbind, and says so.
        await press(page, 2, "vcpu/bind");
        strictEqual(await text(page, "#hart-2 [data-field=vcpu]"), "VM 5, bound");
        strictEqual(
          await page.evaluate(
            `document.querySelector("#hart-2 button[data-action=disable]:disabled").title`,
          ),
          "Unbind its vCPU first",
        );
        ok(await samePage(page), "no reload");
        await page.close();
      });

      await t.step(
        "64 harts: another client's changes reach the grid; the page says when the backend is gone",
        async () => {
          const page = await openPage(browser!, served!, problems);
          await openHart(page, 17);
          strictEqual((await api(served!, "/api/harts/40/disable", {})).status, 200);
          await untilRows(page, [
            `0–1, 3–16, 18–39, 41–63 (61) ${ENABLED}`,
            WITH_VCPU("bound"),
            DRIFTED,
            `40 ${DISABLED}`,
          ]);
          ok(await samePage(page), "no reload");
          if (Deno.env.get("RVHV_SCREENSHOT") !== undefined) {
            await page.evaluate("window.scrollTo(0, 0)");
            await page.screenshot({ path: Deno.env.get("RVHV_SCREENSHOT")! as `${string}.png` });
          }
          const png = await page.screenshot({ type: "png" });
          deepStrictEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
          // What the script drew is what the server renders on a reload.
          const drawn = await page.evaluate(
            `document.getElementById("overview").outerHTML + document.getElementById("detail").outerHTML`,
          );
          await page.goto(`${served!.url}?hart=17`, { waitUntil: "load" });
          deepStrictEqual(
            await page.evaluate(
              `document.getElementById("overview").outerHTML + document.getElementById("detail").outerHTML`,
            ),
            drawn,
          );
          await page.waitForFunction('document.documentElement.dataset.ready === "true"');

          served!.gone = true;
          strictEqual((await fetch(`${served!.url}healthz`)).status, 503);
          await page.waitForFunction('document.documentElement.dataset.connection === "lost"');
          strictEqual(
            await text(page, "#connection"),
            "Cannot serve: the backend does not answer (Io); the values shown are the last read.",
          );
          served!.gone = false;
          await page.waitForFunction('document.documentElement.dataset.connection === "ok"');
          strictEqual(await page.evaluate(`document.getElementById("connection").hidden`), true);
          await served!.stop();
          await page.waitForFunction('document.documentElement.dataset.connection === "lost"');
          strictEqual(
            await text(page, "#connection"),
            "The server does not answer; the values shown are the last read.",
          );
          deepStrictEqual(problems, []);
          await page.close();
        },
      );

      await t.step("64 harts: without JavaScript the overview and a card are there", async () => {
        await close(served);
        served = await serve(64);
        const plain = await browser!.newPage();
        await plain.setJavaScriptEnabled(false);
        strictEqual(
          (await plain.goto(`${served.url}?token=${TOKEN}`, { waitUntil: "load" }))?.status(),
          200,
        );
        await plain.goto(`${served.url}?hart=3`, { waitUntil: "load" });
        const html = await plain.content();
        ok(!html.includes('data-ready="true"'), "no script ran");
        match(
          html,
          /<tr><th scope="row"><a href="\?hart=0">0<\/a>–<a href="\?hart=63">63<\/a> <span class="count">\(64\)<\/span><\/th><td class="state-enabled">enabled<\/td>/,
        );
        match(html, /<article class="hart" id="hart-3" data-hart="3" data-state="enabled"/);
        match(html, /<td data-field="value"><code>0x2<\/code><\/td>/);
        await plain.close();
        await close(served);
        served = undefined;
      });

      await t.step(
        "4,096 harts: under 1 MB, one row, a drifted CSR marked, a disable redrawn",
        async () => {
          served = await serve(4096);
          await served.hal.csr.write(1234, CSR.hideleg, 0x4n);
          const bytes = new Uint8Array(await (await api(served, "/")).arrayBuffer()).length;
          ok(bytes <= MAX_PAGE_BYTES, `${bytes} bytes at 4,096 harts`);
          const page = await openPage(browser!, served, problems);
          deepStrictEqual(await gridRows(page), [
            `0–1233, 1235–4095 (4095) ${ENABLED}`,
            "1234 enabled none 0x0 0x4!drift 0x0 0x2 0x0 0xf0b509 0x666",
          ]);
          await openHart(page, 4000);
          await press(page, 4000, "disable");
          await untilRows(page, [
            `0–1233, 1235–3999, 4001–4095 (4094) ${ENABLED}`,
            "1234 enabled none 0x0 0x4!drift 0x0 0x2 0x0 0xf0b509 0x666",
            `4000 ${DISABLED}`,
          ]);
          ok(await samePage(page), "no reload");
          deepStrictEqual(problems, []);
          await page.close();
        },
      );
    } finally {
      await browser?.close();
      await close(served);
      await Deno.remove(userDataDir, { recursive: true });
    }
  },
});

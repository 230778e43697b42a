/**
 * Runs the browser tests (`tests/e2e/`) under their own config and lock
 * file, `tests/e2e/deno.json`: puppeteer-core and its packages stay out of
 * the root lock file, all of which Deno fetches on a first run (so
 * `deno task demo` fetches only the runtime's). Run from the root suite so
 * `deno task test` stays the one command. Skips, saying why, without
 * Chromium, unless RVHV_REQUIRE_BROWSER=1, where that fails.
 */

import { match, ok } from "node:assert/strict";
import { findChromium, REQUIRE_BROWSER, WHY_NO_BROWSER } from "./_helpers/chromium.ts";

const E2E = new URL("./e2e/", import.meta.url);
const chromium = findChromium();
const skipped = chromium === undefined && !REQUIRE_BROWSER;
const NAME = "the browser tests pass under tests/e2e/deno.json";

if (skipped) console.log(`browser tests skipped: ${WHY_NO_BROWSER}`);

Deno.test({
  name: skipped ? `${NAME} (skipped: ${WHY_NO_BROWSER})` : NAME,
  ignore: skipped,
  async fn() {
    if (chromium === undefined) throw new Error(`RVHV_REQUIRE_BROWSER=1 but ${WHY_NO_BROWSER}`);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--config",
        new URL("deno.json", E2E).pathname,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        "--allow-net",
        E2E.pathname,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    console.log(output.trim());
    ok(code === 0, `the browser tests failed (exit ${code})`);
    match(output, /^ok \| [1-9]\d* passed.* \| 0 failed/m);
    ok(!/ignored/.test(output), "with Chromium here, no browser test is skipped");
  },
});

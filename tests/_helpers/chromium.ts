/**
 * Whether browser tests can run here, and how they behave when they cannot:
 * skipped with a printed reason locally, failing under
 * `RVHV_REQUIRE_BROWSER=1` (which `.ci/run` sets). Read by the browser test
 * (`tests/e2e/`, its own config) and by the root suite's test that runs it.
 */

/** Where Chromium is looked for when `RVHV_CHROMIUM` does not name it. */
const CANDIDATES: readonly string[] = [
  "/usr/lib/chromium/chromium",
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];

/** Whether browser tests must run (CI). */
export const REQUIRE_BROWSER: boolean = Deno.env.get("RVHV_REQUIRE_BROWSER") === "1";

/**
 * The Chromium binary: `RVHV_CHROMIUM`, else the first candidate there.
 *
 * @returns Its path, or `undefined` when there is none.
 */
export function findChromium(): string | undefined {
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

/** Why browser tests cannot run here, and how to fix it. */
export const WHY_NO_BROWSER: string = `no Chromium found (looked for ${
  Deno.env.get("RVHV_CHROMIUM") ?? CANDIDATES.join(", ")
}); install it with "apt-get install -y --no-install-recommends chromium"`;

/**
 * Whether browser tests can run here, and how they behave when they cannot:
 * skipped with a printed reason locally, failing under
 * `RVHV_REQUIRE_BROWSER=1` (which `.ci/run` sets). Read by the browser test
 * (`tests/e2e/`, its own config) and by the root suite's test that runs it.
 */

/**
 * The names Chromium is looked for on PATH when `RVHV_CHROMIUM` does not
 * name it: PATH, not fixed folders, so hiding it from PATH (as
 * `.ci/run`'s first run and a fresh machine do) hides it from the tests.
 */
const NAMES: readonly string[] = ["chromium", "chromium-browser", "google-chrome"];

/** The candidates: `RVHV_CHROMIUM`, else each name in each PATH folder. */
function candidates(): string[] {
  const named = Deno.env.get("RVHV_CHROMIUM");
  if (named !== undefined) return [named];
  const folders = (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir !== "");
  return NAMES.flatMap((name) => folders.map((dir) => `${dir}/${name}`));
}

/** Whether browser tests must run (CI). */
export const REQUIRE_BROWSER: boolean = Deno.env.get("RVHV_REQUIRE_BROWSER") === "1";

/**
 * The Chromium binary: `RVHV_CHROMIUM`, else the first one on PATH.
 *
 * @returns Its path, or `undefined` when there is none.
 */
export function findChromium(): string | undefined {
  for (const path of candidates()) {
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
  Deno.env.get("RVHV_CHROMIUM") ?? `${NAMES.join(", ")} on PATH`
}); install it with "apt-get install -y --no-install-recommends chromium"`;

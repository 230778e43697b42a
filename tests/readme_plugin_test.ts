/**
 * The plugin walkthrough (docs/plugins.md, "Write your own backend plugin"),
 * copied into an empty folder outside the repository, works as written: its
 * files are the page's, its two commands are the page's (with this Deno for
 * `npx -y deno@…` and this checkout for `../rvhv`), the conformance test
 * passes and `up` runs the set-up on the flat backend from the manifest.
 */

import { match, ok, strictEqual } from "node:assert/strict";
import { CONFORMANCE_CASES } from "../testing/mod.ts";
import { denoRun } from "./_helpers/deno_run.ts";

const ROOT = new URL("../", import.meta.url);
const PAGE = "docs/plugins.md";
/** A paragraph that introduces a file: it starts with the file name in backticks and ends with a colon. */
const FILE_INTRO_REGEXP = /^`([\w.]+)`[\s\S]*:$/;
const FENCE_REGEXP = /^```(\w+)(?: ignore)?\n([\s\S]*?)\n```/;
/** How the page runs Deno: from npm. */
const NPX_DENO_REGEXP = /^npx -y deno@[\d.]+ /;

/** The walkthrough: the files it introduces, and the commands of its shell block. */
async function walkthrough(): Promise<{ files: Map<string, string>; commands: string[][] }> {
  const page = await Deno.readTextFile(new URL(PAGE, ROOT));
  const end = page.indexOf("\n## ");
  const section = page.slice(0, end < 0 ? undefined : end);
  const files = new Map<string, string>();
  const commands: string[][] = [];
  const parts = section.split("\n\n");
  for (let i = 0; i < parts.length; i++) {
    const fence = FENCE_REGEXP.exec(parts[i]!);
    if (fence?.[1] === "sh") {
      for (const line of fence[2]!.split("\n")) {
        ok(NPX_DENO_REGEXP.test(line), `${PAGE}: "${line}" runs Deno from npm`);
        commands.push(line.replace(NPX_DENO_REGEXP, "").split(/\s+/));
      }
    }
    const intro = FILE_INTRO_REGEXP.exec(parts[i]!);
    if (intro === null) continue;
    // The block runs until its closing fence, which may be several paragraphs later.
    const block = FENCE_REGEXP.exec(parts.slice(i + 1).join("\n\n"));
    if (block !== null) files.set(intro[1]!, block[2]! + "\n");
  }
  return { files, commands };
}

Deno.test("the plugin walkthrough of docs/plugins.md works in an empty folder", async () => {
  const { files, commands } = await walkthrough();
  for (const name of ["deno.json", "flat_backend.ts", "flat_backend_test.ts", "rvhv.yaml"]) {
    ok(files.has(name), `the page shows ${name}`);
  }
  strictEqual(commands.length, 2, "the page runs the test, then up");
  const [test, up] = commands as [string[], string[]];
  strictEqual(test[0], "test");
  ok(up.includes("up"), up.join(" "));

  const dir = await Deno.makeTempDir({ prefix: "rvhv-plugin-" });
  try {
    // The walkthrough links a checkout next to the folder; here it is this repository.
    const checkout = ROOT.pathname.replace(/\/$/, "");
    for (const [name, text] of files) {
      const content = name === "deno.json"
        ? text.replace('"../rvhv"', JSON.stringify(checkout))
        : text;
      await Deno.writeTextFile(`${dir}/${name}`, content);
    }
    const tested = await denoRun(test, { cwd: dir });
    strictEqual(tested.code, 0, tested.stdout + tested.stderr);
    match(tested.stdout, /flat conformance: the reference set-up leaves hedeleg 0xb10d/);
    // Every case but the no-H one, which needs createWithoutH and is skipped saying so.
    match(
      tested.stdout,
      new RegExp(`\\| ${CONFORMANCE_CASES.length - 1} passed \\| 0 failed \\| 1 ignored`),
    );
    match(tested.stdout, /without H .*\(skipped: no createWithoutH\(\) given\) \.\.\. ignored/);

    const ran = await denoRun(up.map((arg) => arg.replaceAll(/\.\.\/rvhv\b/g, checkout)), {
      cwd: dir,
    });
    strictEqual(ran.code, 0, ran.stderr);
    const rows = ran.stdout.trim().split("\n").slice(1);
    strictEqual(rows.length, 2);
    for (const row of rows) {
      match(row, /enabled\s+yes\s+0xb10d\s+0x444\s+0x0\s+0xffffffffffffffff\s+0x222\s+-$/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

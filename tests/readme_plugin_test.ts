/**
 * The README's "Write your own backend plugin" section, copied into an empty
 * folder outside the repository, works as written: its conformance test
 * passes and `up` runs the set-up on it from a manifest.
 */

import { match, ok, strictEqual } from "node:assert/strict";
import { denoRun, type RunResult } from "./_helpers/deno_run.ts";

const ROOT = new URL("../", import.meta.url);
/** A paragraph that introduces a file: it starts with the file name in backticks and ends with a colon. */
const FILE_INTRO_REGEXP = /^`([\w.]+)`[\s\S]*:$/;
const FENCE_REGEXP = /^```\w+(?: ignore)?\n([\s\S]*?)\n```/;

async function sectionFiles(): Promise<Map<string, string>> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const start = readme.indexOf("## Write your own backend plugin");
  ok(start >= 0, "the README has the section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const files = new Map<string, string>();
  const parts = section.split("\n\n");
  for (let i = 0; i < parts.length; i++) {
    const intro = FILE_INTRO_REGEXP.exec(parts[i]!);
    if (intro === null) continue;
    // The block runs until its closing fence, which may be several paragraphs later.
    const rest = parts.slice(i + 1).join("\n\n");
    const block = FENCE_REGEXP.exec(rest);
    if (block !== null) files.set(intro[1]!, block[1]! + "\n");
  }
  return files;
}

function run(cwd: string, args: string[]): Promise<RunResult> {
  return denoRun(args, { cwd });
}

Deno.test("the README's plugin walkthrough works in an empty folder", async () => {
  const files = await sectionFiles();
  for (const name of ["deno.json", "flat_backend.ts", "flat_backend_test.ts", "rvhv.yaml"]) {
    ok(files.has(name), `the section shows ${name}`);
  }
  const dir = await Deno.makeTempDir({ prefix: "rvhv-plugin-" });
  try {
    for (const [name, text] of files) {
      // The walkthrough links a checkout next to the folder; here it is this repository.
      const content = name === "deno.json"
        ? text.replace('"../rvhv"', JSON.stringify(ROOT.pathname))
        : text;
      await Deno.writeTextFile(`${dir}/${name}`, content);
    }
    const test = await run(dir, ["test", "--allow-env=LOG_TOKENS,LOG_STREAM"]);
    strictEqual(test.code, 0, test.stdout + test.stderr);
    match(test.stdout, /flat conformance: the reference set-up leaves hedeleg 0xb10d/);
    match(test.stdout, /\| 13 passed \| 0 failed \| 1 ignored/);

    const up = await run(dir, [
      "run",
      "--allow-read",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      new URL("cli/main.ts", ROOT).pathname,
      "up",
      "rvhv.yaml",
    ]);
    strictEqual(up.code, 0, up.stderr);
    const rows = up.stdout.trim().split("\n").slice(1);
    strictEqual(rows.length, 2);
    for (const row of rows) {
      match(row, /enabled\s+yes\s+0xb10d\s+0x444\s+0x0\s+0xffffffffffffffff\s+0x222\s+-$/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The docs' QEMU examples (code blocks fenced `ts ignore qemu` in README.md
 * and docs/*.md) type-check as written. `deno test --doc` skips them, since
 * they need QEMU; here every one is type-checked on every machine (no QEMU
 * needed). `shell_commands_test.ts` runs each with QEMU 7.2 as a user runs
 * it, with the command line and permissions its first line states.
 */

import { ok, strictEqual } from "node:assert/strict";
import { denoRun } from "../_helpers/deno_run.ts";
import { allCodeBlocks, type CodeBlock, isQemuExample, ROOT } from "./_markdown.ts";

const CONFIG = new URL("deno.json", ROOT).pathname;
const EXAMPLES: readonly CodeBlock[] = (await allCodeBlocks()).filter(isQemuExample);

/** A module name for a block: `docs_qemu_md_L32.ts`. */
function moduleName(block: CodeBlock): string {
  return `${block.file.replaceAll(/\W+/g, "_")}_L${block.line}.ts`;
}

/** Writes blocks to modules in a fresh temporary folder, runs `fn`, removes the folder. */
async function withModules<T>(
  blocks: readonly CodeBlock[],
  fn: (paths: string[]) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv-doc-example-" });
  try {
    const paths: string[] = [];
    for (const block of blocks) {
      const path = `${dir}/${moduleName(block)}`;
      await Deno.writeTextFile(path, block.code);
      paths.push(path);
    }
    return await fn(paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the docs have QEMU examples, and each is skipped by --doc", () => {
  ok(EXAMPLES.length >= 3, `found ${EXAMPLES.length} QEMU examples`);
  for (const block of EXAMPLES) {
    ok(
      block.attributes.includes("ignore"),
      `${block.file}:${block.line}: a QEMU example must be fenced "ts ignore qemu"`,
    );
  }
});

Deno.test("every QEMU example of the docs type-checks (no QEMU needed)", async () => {
  const result = await withModules(
    EXAMPLES,
    (paths) => denoRun(["check", "--quiet", "--config", CONFIG, ...paths]),
  );
  strictEqual(
    result.code,
    0,
    `${EXAMPLES.map((b) => `${b.file}:${b.line} → ${moduleName(b)}`).join("\n")}\n` +
      result.stdout + result.stderr,
  );
});

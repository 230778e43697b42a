/** The examples are run as a user runs them, so they stay true. */

import { match, strictEqual } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

async function run(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env=LOG_TOKENS,LOG_STREAM", script],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("examples/emulator.ts rolls back the mixed machine and sets up the rest", async () => {
  const { code, stdout, stderr } = await run("examples/emulator.ts");
  strictEqual(code, 0, stderr);
  match(stdout, /all harts: Unsupported on hart 2/);
  match(stdout, /hart 0 hedeleg after the rollback: 0x0/);
  match(stdout, /hart 3 enabled: hedeleg=0xb10d hideleg=0x444 hvip=0x0/);
  match(stdout, /hart 3 hedeleg after disable: 0x0/);
});

/**
 * The manifest reader cannot be stalled or made to eat memory: duplicate
 * keys are found in one walk (the YAML parser's own check is quadratic),
 * and `loadManifest` reads only a regular file of at most 256 KiB, both
 * checked before reading, so a FIFO or `/dev/zero` is refused at once.
 */

import { match, rejects, strictEqual, throws } from "node:assert/strict";
import { ManifestError } from "../../hal/errors.ts";
import { loadManifest, MAX_MANIFEST_BYTES, parseManifest } from "../../manifest/parse.ts";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { withTempDir } from "../_helpers/traces.ts";

/** A manifest with `keys` plugin options, the last one repeating the first. */
function manyKeys(keys: number): string {
  let text = "version: 1\nbackend:\n  plugin: emulator\n  options:\n";
  for (let i = 0; i < keys - 1; i++) text += `    k${i}: ${i}\n`;
  return text + "    k0: again\n";
}

/** Fails the test if `work` has not settled after `ms` (a guard against a hang, not a speed check). */
async function settles<T>(work: Promise<T>, ms = 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("parseManifest() finds a duplicate among 40,000 keys in one walk", () => {
  const text = manyKeys(40_000);
  throws(
    () => parseManifest(text, { file: "big.yaml" }),
    (e) =>
      e instanceof ManifestError && e.line === 40_004 &&
      /duplicate key "k0": each key may appear once in a map/.test(e.message),
  );
});

Deno.test("loadManifest() refuses a manifest over 256 KiB from its size, before reading", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/big.yaml`;
    const text = manyKeys(40_000);
    strictEqual(text.length > MAX_MANIFEST_BYTES, true, "~540 KB");
    await Deno.writeTextFile(path, text);
    await rejects(
      loadManifest(path),
      (e) =>
        e instanceof ManifestError &&
        /is \d+ bytes, and a manifest is at most 262144 bytes/.test(e.message),
    );
    const { code, stderr } = await rvhvInProcess(["up", path]);
    strictEqual(code, 2);
    match(stderr, /a manifest is at most 262144 bytes \(256 KiB\)/);
  });
});

Deno.test({
  name: "loadManifest() refuses a FIFO and /dev/zero at once, without reading them",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir(async (dir) => {
      const fifo = `${dir}/fifo.yaml`;
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      strictEqual(made.success, true, "mkfifo");
      for (const path of [fifo, "/dev/zero"]) {
        const { code, stderr } = await settles(rvhvInProcess(["up", path]));
        strictEqual(code, 2, path);
        match(stderr, /it is not a regular file \(a FIFO, socket or device\)/);
      }
      await rejects(settles(loadManifest(dir)), /it is a directory/);
    });
  },
});

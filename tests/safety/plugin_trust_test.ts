/**
 * A manifest is not a script: a plugin named by module specifier is code,
 * and it is imported only when the user opts in (`--allow-plugin`,
 * `boot(…, { allowPlugins })`); `--help` never imports it. The module here
 * writes a marker file from its top-level code, so "it did not run" is seen.
 */

import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { boot } from "../../manifest/boot.ts";
import { parseManifest } from "../../manifest/parse.ts";
import { ManifestError } from "../../hal/errors.ts";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { withTempDir } from "../_helpers/traces.ts";

const EMULATOR = new URL("../../plugins/emulator/mod.ts", import.meta.url).href;

/** A plugin module whose top-level code leaves `marker` behind, and a manifest naming it as `../x.ts`. */
async function markingPlugin(dir: string): Promise<{ manifest: string; marker: string }> {
  const marker = `${dir}/ran`;
  await Deno.mkdir(`${dir}/lab`);
  await Deno.writeTextFile(
    `${dir}/x.ts`,
    `Deno.writeTextFileSync(${JSON.stringify(marker)}, "the module ran");\n` +
      `export { default } from ${JSON.stringify(EMULATOR)};\n`,
  );
  const manifest = `${dir}/lab/m.yaml`;
  await Deno.writeTextFile(
    manifest,
    "version: 1\nbackend:\n  plugin: ../x.ts\n  options: { harts: 1 }\n",
  );
  return { manifest, marker };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("a module plugin without opt-in is a manifest error at its line, and its code does not run", async () => {
  await withTempDir(async (dir) => {
    const { manifest, marker } = await markingPlugin(dir);
    const { code, stdout, stderr } = await rvhvInProcess(["up", manifest]);
    strictEqual(code, 2);
    strictEqual(stdout, "");
    match(stderr, /m\.yaml:3:11 \(backend\.plugin\): plugin "\.\.\/x\.ts" is a module/);
    match(stderr, /pass --allow-plugin \(or --allow-plugin=\.\.\/x\.ts\)/);
    strictEqual(await exists(marker), false, "the module's top-level code did not run");
  });
});

Deno.test("--help describes a module plugin without importing it", async () => {
  await withTempDir(async (dir) => {
    const { manifest, marker } = await markingPlugin(dir);
    const { code, stdout } = await rvhvInProcess(["up", manifest, "--help"]);
    strictEqual(code, 0);
    match(stdout, /the module plugin "\.\.\/x\.ts", not loaded here/);
    strictEqual(await exists(marker), false);
  });
});

Deno.test("--allow-plugin lets a module plugin load; --allow-plugin=<specifier> only that one", async () => {
  await withTempDir(async (dir) => {
    const { manifest, marker } = await markingPlugin(dir);
    const other = await rvhvInProcess(["up", "--allow-plugin=./y.ts", manifest]);
    strictEqual(other.code, 2, "another specifier does not allow this one");
    strictEqual(await exists(marker), false);
    const named = await rvhvInProcess(["up", "--allow-plugin=../x.ts", manifest]);
    strictEqual(named.code, 0, named.stderr);
    ok(await exists(marker), "allowed as written in the manifest: it ran");
    // (A module runs its top-level code once per process: the marker stays as it is now.)
    const any = await rvhvInProcess(["up", "--allow-plugin", manifest]);
    strictEqual(any.code, 0, any.stderr);
  });
});

Deno.test("boot() imports a module plugin only with allowPlugins", async () => {
  await withTempDir(async (dir) => {
    const { manifest, marker } = await markingPlugin(dir);
    const parsed = parseManifest(await Deno.readTextFile(manifest), { file: manifest });
    await rejects(boot(parsed), (e) => e instanceof ManifestError && e.line === 3);
    await rejects(
      boot(parsed, { allowPlugins: ["x.ts"] }),
      ManifestError,
      "matched as written, not by name",
    );
    strictEqual(await exists(marker), false);
    const system = await boot(parsed, { allowPlugins: ["../x.ts"] });
    deepStrictEqual(system.hal.harts, [0]);
    await system.close();
    ok(await exists(marker));
  });
});

Deno.test("built-in plugins need no opt-in", async () => {
  const { code, stderr } = await rvhvInProcess(["up", "examples/emulator.yaml"]);
  strictEqual(code, 0, stderr);
});

/**
 * What the CLI prints about a hostile or careless manifest or plugin: a
 * location for every plugin failure, escaped control characters, no content
 * of a file that is not a module, and YAML aliases named as such.
 */

import { doesNotMatch, match, ok, strictEqual, throws } from "node:assert/strict";
import { ManifestError } from "../../hal/errors.ts";
import { parseManifest } from "../../manifest/parse.ts";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { withTempDir } from "../_helpers/traces.ts";

const THROWING = new URL("../fixtures/plugins/throwing_plugin.ts", import.meta.url).pathname;

async function manifestFile(dir: string, text: string): Promise<string> {
  await Deno.writeTextFile(`${dir}/m.yaml`, text);
  return `${dir}/m.yaml`;
}

Deno.test("a plugin's plain Error from parseOptions is a manifest error at its options (exit 2)", async () => {
  await withTempDir(async (dir) => {
    const path = await manifestFile(
      dir,
      `version: 1\nbackend:\n  plugin: "${THROWING}"\n  options: { bad: parse }\n`,
    );
    const { code, stderr } = await rvhvInProcess(["up", `--allow-plugin=${THROWING}`, path]);
    strictEqual(code, 2);
    match(
      stderr,
      /m\.yaml:4:3 \(backend\.options\): plugin "throwing" rejected its options: this plugin cannot parse that/,
    );
  });
});

Deno.test("a plugin's plain Error from create() is a backend failure naming the manifest line (exit 3)", async () => {
  await withTempDir(async (dir) => {
    const path = await manifestFile(
      dir,
      `version: 1\nbackend:\n  plugin: "${THROWING}"\n  options: { bad: create }\n`,
    );
    const { code, stderr } = await rvhvInProcess(["up", `--allow-plugin=${THROWING}`, path]);
    strictEqual(code, 3);
    match(
      stderr,
      /Cannot start the backend of .*m\.yaml:3 \(plugin "throwing"\): this plugin cannot start/,
    );
  });
});

Deno.test("control characters from a manifest reach the terminal escaped", async () => {
  await withTempDir(async (dir) => {
    const path = await manifestFile(
      dir,
      'version: 1\nbackend:\n  plugin: "./x\\u001b[31mRED"\n',
    );
    const { code, stderr } = await rvhvInProcess(["up", path]);
    strictEqual(code, 2);
    ok(!stderr.includes("\u001b"), "no raw escape character");
    match(stderr, /\.\/x\\u001b\[31mRED/);
  });
});

Deno.test("importing a file that is not a module does not print its content", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/notes.txt`, "SECRET first line of the file\nsecond\n");
    const path = await manifestFile(dir, "version: 1\nbackend:\n  plugin: ./notes.txt\n");
    const { code, stderr } = await rvhvInProcess(["up", "--allow-plugin", path]);
    strictEqual(code, 2);
    match(stderr, /cannot import plugin module "\.\/notes\.txt": SyntaxError/);
    match(stderr, /is it a JavaScript or TypeScript module\?/);
    doesNotMatch(stderr, /SECRET/);
  });
});

Deno.test("a YAML alias is named as one, at its line", () => {
  throws(
    () =>
      parseManifest(
        "version: 1\nbase: &opts { harts: 2 }\nbackend:\n  plugin: emulator\n  options: *opts\n",
      ),
    (e) => e instanceof ManifestError && /unknown key "base"|YAML aliases/.test(e.message),
  );
  throws(
    () =>
      parseManifest(
        "version: 1\nbackend:\n  plugin: emulator\n  options: { harts: &n 2, isa: *n }\n",
        { file: "a.yaml" },
      ),
    (e) =>
      e instanceof ManifestError && e.line === 4 &&
      /YAML aliases \(\*n\) are not read in manifests; write the value out/.test(e.message),
  );
});

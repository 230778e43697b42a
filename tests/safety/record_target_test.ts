/**
 * A recording never overwrites anything of the user's unless told to
 * (`--force`, `boot(…, { force: true })`, never the manifest itself): the
 * target is checked before the backend starts, so a refused run makes no
 * CSR access and leaves no `.partial` file.
 */

import { deepStrictEqual, doesNotMatch, match, rejects, strictEqual } from "node:assert/strict";
import { boot } from "../../manifest/boot.ts";
import { parseManifest } from "../../manifest/parse.ts";
import { AxError, ManifestError } from "../../hal/errors.ts";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { withTempDir } from "../_helpers/traces.ts";

const COUNTING = new URL("../fixtures/plugins/counting_plugin.ts", import.meta.url).pathname;
const { counts } = await import(COUNTING);

/** Every file in a folder, with its text (to see nothing changed and nothing was added). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    files[entry.name] = entry.isFile ? await Deno.readTextFile(`${dir}/${entry.name}`) : "<dir>";
  }
  return files;
}

/** A manifest recording to `record`, on the counting plugin (to see whether a backend started). */
async function recordingManifest(dir: string, record: string): Promise<string> {
  const path = `${dir}/m.yaml`;
  await Deno.writeTextFile(
    path,
    `version: 1\nbackend: { plugin: "${COUNTING}", options: { harts: 1 } }\nrecord: ${record}\n`,
  );
  return path;
}

for (
  const [what, target, detail] of [
    ["an existing file", "old.jsonl", /the file exists; pass --force/],
    ["the manifest itself", "m.yaml", /it is the manifest itself/],
    ["a directory", "traces", /it is a directory/],
  ] as const
) {
  Deno.test(`record: pointing at ${what} is refused before any CSR access, nothing touched`, async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/old.jsonl`, "keep me\n");
      await Deno.mkdir(`${dir}/traces`);
      const manifest = await recordingManifest(dir, target);
      const before = await snapshot(dir);
      const created = counts().created;
      const { code, stderr } = await rvhvInProcess([
        "up",
        `--allow-plugin=${COUNTING}`,
        manifest,
      ]);
      strictEqual(code, 2, stderr);
      match(stderr, /m\.yaml:3:9 \(record\): cannot record to/);
      match(stderr, detail);
      strictEqual(counts().created, created, "no backend started: no CSR access");
      deepStrictEqual(await snapshot(dir), before, "nothing changed, no .partial left");
    });
  });
}

Deno.test("--force replaces an existing trace, never the manifest", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/old.jsonl`, "keep me\n");
    const manifest = await recordingManifest(dir, "old.jsonl");
    const { code, stderr } = await rvhvInProcess([
      "up",
      "--force",
      `--allow-plugin=${COUNTING}`,
      manifest,
    ]);
    strictEqual(code, 0, stderr);
    match(await Deno.readTextFile(`${dir}/old.jsonl`), /^\{"format":"rvhv-trace"/);
    const self = await recordingManifest(dir, "m.yaml");
    const text = await Deno.readTextFile(self);
    const forced = await rvhvInProcess(["up", "--force", `--allow-plugin=${COUNTING}`, self]);
    strictEqual(forced.code, 2);
    match(forced.stderr, /it is the manifest itself/);
    strictEqual(await Deno.readTextFile(self), text);
  });
});

Deno.test("rvhv record -o <existing file> is refused without --force, and the file is kept", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/run.jsonl`, "keep me\n");
    const refused = await rvhvInProcess([
      "record",
      "examples/emulator.yaml",
      "-o",
      `${dir}/run.jsonl`,
    ]);
    strictEqual(refused.code, 2);
    match(refused.stderr, /Cannot record to ".*run\.jsonl": the file exists; pass --force/);
    // The file there is the user's, not a trace of this (refused) run.
    doesNotMatch(refused.stderr, /the run failed|its trace is in/);
    deepStrictEqual(await snapshot(dir), { "run.jsonl": "keep me\n" });
    const forced = await rvhvInProcess([
      "record",
      "--force",
      "examples/emulator.yaml",
      "-o",
      `${dir}/run.jsonl`,
    ]);
    strictEqual(forced.code, 0, forced.stderr);
    deepStrictEqual(Object.keys(await snapshot(dir)), ["run.jsonl"]);
  });
});

Deno.test("boot() refuses an existing trace unless force, and a missing folder at the record: line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/run.jsonl`, "keep me\n");
    const text = `version: 1\nbackend: { plugin: emulator }\nrecord: ${dir}/run.jsonl\n`;
    await rejects(boot(parseManifest(text)), (e) => e instanceof ManifestError && e.line === 3);
    await rejects(
      boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"), {
        record: `${dir}/run.jsonl`,
      }),
      (e) => e instanceof AxError && e.kind === "InvalidInput",
    );
    const system = await boot(parseManifest(text), { force: true });
    await system.close();
    match(await Deno.readTextFile(`${dir}/run.jsonl`), /rvhv-trace/);
    await rejects(
      boot(
        parseManifest(`version: 1\nbackend: { plugin: emulator }\nrecord: ${dir}/no/run.jsonl\n`),
      ),
      (e) => e instanceof ManifestError && /folder .* does not exist/.test(e.message),
    );
  });
});

Deno.test("rvhv record names the trace it wrote: record: from the manifest's folder; a failed run's trace", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/m.yaml`,
      "version: 1\nbackend: { plugin: emulator, options: { harts: 1 } }\nrecord: run.jsonl\n",
    );
    const recorded = await rvhvInProcess(["record", `${dir}/m.yaml`]);
    strictEqual(recorded.code, 0, recorded.stderr);
    match(recorded.stderr, new RegExp(`recording to ${dir}/run\\.jsonl\n`));
    match(
      recorded.stderr,
      new RegExp(`recorded 27 events \\(set-up and restore\\) to ${dir}/run\\.jsonl`),
    );
    deepStrictEqual(Object.keys(await snapshot(dir)).sort(), ["m.yaml", "run.jsonl"]);

    // A hart without H: the set-up fails, and the trace of that run is there.
    await Deno.writeTextFile(
      `${dir}/no_h.yaml`,
      "version: 1\nbackend: { plugin: emulator, options: { harts: 1, isa: rv64imafdc } }\n",
    );
    const failed = await rvhvInProcess(["record", `${dir}/no_h.yaml`, "-o", `${dir}/no_h.jsonl`]);
    strictEqual(failed.code, 1, failed.stderr);
    match(failed.stderr, new RegExp(`the run failed; its trace is in ${dir}/no_h\\.jsonl\n`));
    match(await Deno.readTextFile(`${dir}/no_h.jsonl`), /^\{"format":"rvhv-trace"/);
  });
});

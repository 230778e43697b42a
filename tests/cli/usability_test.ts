/**
 * A CLI that forgives typos and says how: suggestions for commands and
 * options, `help [command]`, usage on stderr for a bare call, errors as JSON
 * under `--json`, and a manifest on standard input.
 */

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { rvhvInProcess } from "../_helpers/cli.ts";

Deno.test("a mistyped command or option gets a suggestion", async () => {
  const command = await rvhvInProcess(["detcet", "examples/emulator.yaml"]);
  strictEqual(command.code, 2);
  match(command.stderr, /unknown command "detcet"\. Did you mean "detect"\?/);
  const option = await rvhvInProcess(["up", "examples/emulator.yaml", "--jsn"]);
  strictEqual(option.code, 2);
  match(option.stderr, /unknown option "--jsn"\. Did you mean "--json"\?/);
  strictEqual(option.stdout, "");
});

Deno.test("help [command] prints the help; a bare rvhv prints it on stderr and exits 2", async () => {
  const all = await rvhvInProcess(["help"]);
  strictEqual(all.code, 0);
  match(all.stdout, /^rvhv .*\n\nUsage:/);
  const one = await rvhvInProcess(["help", "verify"]);
  strictEqual(one.code, 0);
  match(one.stdout, /^Usage: rvhv verify <manifest>/);
  const bare = await rvhvInProcess([]);
  strictEqual(bare.code, 2);
  strictEqual(bare.stdout, "");
  match(bare.stderr, /Usage:/);
});

Deno.test("under --json an error is JSON on stdout, with its kind, exit code and location", async () => {
  const typo = await rvhvInProcess(["up", "examples/emulator.yaml", "--json", "--hart", "1"]);
  strictEqual(typo.code, 2);
  deepStrictEqual(JSON.parse(typo.stdout), {
    error: { kind: "Usage", message: 'unknown option "--hart"', exitCode: 2 },
  });
  const manifest = await rvhvInProcess(["up", "--json", "-"], {
    stdin: "version: 1\nbackend: { plugin: emulatr }\n",
  });
  strictEqual(manifest.code, 2);
  const { error } = JSON.parse(manifest.stdout);
  deepStrictEqual(
    [error.kind, error.file, error.line, error.column, error.path],
    ["InvalidInput", "<stdin>", 2, 20, ["backend", "plugin"]],
  );
  match(error.message, /did you mean "emulator"/);
});

Deno.test("- reads the manifest from standard input, within the size limit", async () => {
  const manifest = await Deno.readTextFile("examples/emulator.yaml");
  const { code, stdout, stderr } = await rvhvInProcess(["up", "--json", "-"], {
    stdin: manifest,
  });
  strictEqual(code, 0, stderr);
  strictEqual(JSON.parse(stdout).harts.length, 4);
  match(stderr, /booting <stdin>/);
  const huge = await rvhvInProcess(["up", "-"], { stdin: "#".repeat(300 * 1024) });
  strictEqual(huge.code, 2);
  match(huge.stderr, /more than 262144 bytes \(256 KiB\) arrived on standard input/);
  const help = await rvhvInProcess(["up", "-", "--help"], { stdin: manifest });
  strictEqual(help.code, 0);
  match(help.stdout, /the manifest on standard input: not read by --help/);
});

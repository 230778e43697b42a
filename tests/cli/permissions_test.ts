/**
 * A permission the `deno run` line does not grant is a usage error (exit 2)
 * whose last line names the flag to add, and adding exactly the flags the
 * CLI names, one run after another, reaches a working run: the hints are
 * the scoped grants, not just "--allow-read". A process per run:
 * permissions are per process.
 */

import { match, ok, strictEqual } from "node:assert/strict";
import { CLI_MAIN, denoRun, type RunResult } from "../_helpers/deno_run.ts";
import { QEMU_BINARY, qemuTest } from "../_helpers/qemu.ts";

/** The flag the CLI's last line asks for: `rvhv: add <flag> to the deno run command…`. */
const HINT_REGEXP = /^rvhv: add (--allow-[a-z]+(?:=\S+)?) to the deno run command/m;

/**
 * Runs the CLI with exactly `flags`, the temporary folder at its default
 * (Deno names it only as <TMP> when refusing it, so the hint says /tmp).
 */
function run(flags: readonly string[], args: readonly string[]): Promise<RunResult> {
  return denoRun(["run", ...flags, CLI_MAIN, ...args], { env: { TMPDIR: "/tmp" } });
}

/**
 * Runs with `flags`, adds the flag each refusal names, and runs again until
 * the run passes; returns the flags that made it pass.
 */
async function followHints(flags: string[], args: readonly string[]): Promise<string[]> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const result = await run(flags, args);
    if (result.code === 0) return flags;
    strictEqual(result.code, 2, `a refused access is a usage error\n${result.stderr}`);
    const flag = HINT_REGEXP.exec(result.stderr)?.[1];
    ok(flag !== undefined, `the refusal names a flag\n${result.stderr}`);
    ok(!flags.includes(flag), `${flag} was already given, yet refused\n${result.stderr}`);
    flags = [...flags, flag];
  }
  throw new Error(`still refused after ${flags.join(" ")}`);
}

Deno.test("a refused access names the flag to add; following the hints reaches a working up", async () => {
  const first = await run([], ["up", "examples/emulator.yaml"]);
  strictEqual(first.code, 2, first.stderr);
  match(first.stderr, /cannot read the file: Requires read access to "examples\/emulator\.yaml"/);
  match(
    first.stderr,
    /^rvhv: add --allow-read=examples\/emulator\.yaml to the deno run command; /m,
  );
  match(first.stderr, /docs\/cli\.md, "Permissions"\n$/);

  const noEnv = await run(["--allow-read=examples"], ["up", "examples/emulator.yaml"]);
  strictEqual(noEnv.code, 2, noEnv.stderr);
  match(noEnv.stderr, /Requires env access to "LOG_TOKENS"/);
  // npm:yaml reads both variables: the hint names both, so one more run is enough.
  match(noEnv.stderr, /^rvhv: add --allow-env=LOG_TOKENS,LOG_STREAM to the deno run command; /m);

  const granted = await followHints([], ["up", "examples/emulator.yaml"]);
  strictEqual(
    granted.join(" "),
    "--allow-read=examples/emulator.yaml --allow-env=LOG_TOKENS,LOG_STREAM",
    "the emulator needs nothing beyond reading the manifest and the YAML parser's variables",
  );
});

Deno.test("serve without --allow-net names the listen address to grant", async () => {
  const refused = await run(
    ["--allow-read=examples", "--allow-env=LOG_TOKENS,LOG_STREAM"],
    ["serve", "--listen", "127.0.0.1:0", "examples/emulator.yaml"],
  );
  strictEqual(refused.code, 2, refused.stderr);
  match(refused.stderr, /^rvhv: add --allow-net=127\.0\.0\.1(:0)? to the deno run command/m);
  match(refused.stderr, /closed \(enabled harts disabled, prior values restored/);
});

qemuTest(
  "following the hints on the QEMU backend: the temporary folder, the binary, its sockets",
  async () => {
    const flags = await followHints(
      ["--allow-read=examples", "--allow-env=LOG_TOKENS,LOG_STREAM,RVHV_QEMU,RVHV_DEBUG"],
      ["up", "examples/qemu.yaml"],
    );
    const added = flags.slice(2);
    ok(added.includes(`--allow-run=${QEMU_BINARY}`), added.join(" "));
    // QEMU's sockets are in a new folder on each run: the grants are the folder holding it.
    ok(added.includes("--allow-write=/tmp"), added.join(" "));
    ok(added.includes("--allow-read=/tmp"), added.join(" "));
    // Only a unix socket's grant is unscoped, and the CLI says why.
    ok(added.includes("--allow-net"), added.join(" "));
    const socket = await run([
      ...flags.filter((flag) => flag !== "--allow-net"),
    ], ["up", "examples/qemu.yaml"]);
    match(socket.stderr, /add --allow-net to the deno run command \(a unix socket: Deno scopes/);
  },
);

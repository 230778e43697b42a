/**
 * `record`: boot a manifest with every CSR access recorded to a trace.
 *
 * @module
 */

import { manifestRelative, type System } from "../../manifest/boot.ts";
import { bootForCli } from "../boot.ts";
import { readManifestArg } from "../manifest_arg.ts";
import { describePolicy } from "../../percpu/policy.ts";
import { type Command, EXIT, UsageError } from "../io.ts";
import { defineCommand } from "../command_line.ts";
import { describeBackend, hartsJson, hartTable } from "./_report.ts";

const HELP = `Usage: rvhv record <manifest> -o <trace> [--json] [--no-enable]

Boots the manifest's backend with every CSR access recorded to <trace>, runs
the per-CPU set-up on every hart and enables them (as "up" does), prints what
each hart kept, then disables the harts (restoring the priors) and closes the
backend. The restore is recorded too. Events go to <trace>.partial while the
run lasts; it is renamed to <trace> when the run ends (also on Ctrl-C). The
trace's header records the manifest, so "rvhv replay <trace>" re-runs it.

A run whose set-up fails (e.g. a hart without H) is recorded as well: the
trace is finished and the command exits 1.

Options:
  -o, --output <trace>  where the trace goes (default: the manifest's "record:")
  --json                print JSON ({ trace, events, backend, policy, harts })
  --no-enable           set the harts up but leave them initialized
  -h, --help            show this help

Needs --allow-write for the trace and its .partial (and --allow-read for it).

Exit codes: 0 recorded, 1 the recorded run failed a check (e.g. no H; the
trace is still written), 2 usage or manifest error, 3 backend failure.

Example:
  npx -y deno@2.9.6 run --allow-read=. --allow-write=run.jsonl,run.jsonl.partial \\
    --allow-env=LOG_TOKENS,LOG_STREAM cli/main.ts record examples/emulator.yaml -o run.jsonl
`;

/** The `record` command. */
export const recordCommand: Command = defineCommand({
  name: "record",
  summary: "run a manifest's set-up and record every CSR access to a trace",
  help: HELP,
  options: {
    output: { type: "string", short: "o" },
    "no-enable": { type: "boolean", default: false },
  },
  takes: "manifest",
  async run({ values, path, trust }, io): Promise<number> {
    const manifest = await readManifestArg(path, io.stdin);
    // Where the recording goes: -o from the working directory, record: from the manifest's folder.
    const trace = values.output ?? manifestRelative(manifest, manifest.record);
    if (trace === undefined) {
      throw new UsageError(
        `record needs a trace path: give "-o <trace>" or add "record: <trace>" to ${manifest.file}`,
      );
    }
    io.err(
      `rvhv: booting ${manifest.file} (backend ${manifest.backend.plugin}), recording to ${trace}\n`,
    );
    // A trace already there was refused (or, with --force, replaced): only a
    // file this run wrote is "its trace".
    const before = await fileIdentity(trace);
    let system: System;
    try {
      system = await bootForCli(manifest, {
        ...trust,
        noEnable: values["no-enable"],
        // The manifest's own record: path keeps its manifest error positions.
        ...(values.output === undefined ? {} : { record: values.output }),
      });
    } catch (error) {
      const after = await fileIdentity(trace);
      if (after !== undefined && after !== before) {
        io.err(`rvhv: the run failed; its trace is in ${trace}\n`);
      }
      throw error;
    }
    let harts;
    const info = system.hal.info();
    try {
      io.err(
        `rvhv: ${describeBackend(info)}, ${system.hal.harts.length} hart(s); ` +
          `policy ${describePolicy(system.percpus.policy)}\n`,
      );
      harts = values.json ? hartsJson(system.percpus) : hartTable(system.percpus);
    } finally {
      await system.close();
    }
    const events = system.hal.recording?.events ?? 0;
    if (values.json) {
      io.out(
        JSON.stringify(
          { trace, events, backend: info, policy: system.percpus.policy.name, harts },
          null,
          2,
        ) + "\n",
      );
    } else {
      io.out(harts as string);
    }
    io.err(`rvhv: recorded ${events} events (set-up and restore) to ${trace}\n`);
    return EXIT.ok;
  },
});

/**
 * What tells one file at a path from another (inode, size, modification
 * time), or `undefined` when there is none: a recording's rename puts a new
 * file there.
 */
async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    const { ino, size, mtime } = await Deno.stat(path);
    return `${ino}:${size}:${mtime?.getTime()}`;
  } catch {
    return undefined;
  }
}

/**
 * `replay`: re-run the manifest recorded in a trace's header against the
 * trace itself.
 *
 * @module
 */

import type { Manifest } from "../../manifest/schema.ts";
import type { System } from "../../manifest/boot.ts";
import { bootForCli } from "../boot.ts";
import { parseManifest } from "../../manifest/parse.ts";
import { describePolicy } from "../../percpu/policy.ts";
import { readTraceHeader } from "../../trace/reader.ts";
import type { TraceHeader } from "../../trace/format.ts";
import { AxError, ManifestError } from "../../hal/errors.ts";
import { type Command, EXIT, isTraceError, reportError, UsageError } from "../io.ts";
import { defineCommand } from "../command_line.ts";
import { describeBackend, hartsJson, hartTable } from "./_report.ts";

const HELP = `Usage: rvhv replay <trace> [--json] [--no-strict]

Re-runs the manifest recorded in the trace's header (its "percpu" section:
harts, policy, enable) with the backend replaced by the trace itself
(plugin: replay; no emulator or QEMU): the same set-up, enable and restore.
Every CSR access must match the recording in per-hart order. The first that
differs stops the run, naming the event, hart and CSR, what the trace holds
and what the run asked. With strict replay (the default) events the run did
not consume are a difference too.

Options:
  --json        print JSON ({ trace, events, backend, policy, harts })
  --no-strict   do not treat events left unconsumed as a difference
  -h, --help    show this help

Exit codes: 0 the run matches the trace, 1 the run departs from the trace (or
a hart cannot be set up, as in the recording), 2 usage error, a malformed
trace or a trace without a manifest, 3 backend failure.

Example:
  npx -y deno@2.9.6 run --allow-read=. --allow-env=LOG_TOKENS,LOG_STREAM \\
    cli/main.ts replay tests/fixtures/traces/qemu72_4harts_opensbi.jsonl
`;

/**
 * The manifest a trace's header recorded (its per-CPU set-up and vCPUs),
 * with the backend replaced by the trace itself.
 *
 * @param trace The trace file.
 * @param header Its header (read once by the caller).
 * @param strict Whether unconsumed events are a difference.
 * @returns The manifest.
 * @throws {UsageError} When the header has no manifest.
 */
export function replayManifest(trace: string, header: TraceHeader, strict: boolean): Manifest {
  const recorded = header.manifest as { percpu?: unknown; vcpus?: unknown } | undefined;
  if (recorded === undefined) {
    throw new UsageError(
      `cannot replay ${trace}: its header records no manifest (it was recorded from code); ` +
        `replay it from code with createReplayHal, or from a manifest with "plugin: replay"`,
    );
  }
  // JSON is YAML: the header's manifest is validated like any manifest.
  return parseManifest(
    JSON.stringify({
      version: 1,
      backend: { plugin: "replay", options: { path: trace, strict } },
      ...(recorded.percpu === undefined ? {} : { percpu: recorded.percpu }),
      ...(recorded.vcpus === undefined ? {} : { vcpus: recorded.vcpus }),
    }),
    { file: `${trace} (header manifest)` },
  );
}

/** The `replay` command. */
export const replayCommand: Command = defineCommand({
  name: "replay",
  summary: "re-run a trace's recorded manifest against the trace; exit 1 where it departs",
  help: HELP,
  options: {
    "no-strict": { type: "boolean", default: false },
  },
  takes: "trace",
  async run({ values, path: trace, trust }, io): Promise<number> {
    const header = readTraceHeader(trace);
    const manifest = replayManifest(trace, header, !values["no-strict"]);
    io.err(
      `rvhv: replaying ${trace} (recorded from ${header.backend}${
        header.profile === undefined ? "" : ` ${header.profile}`
      }, ${header.created || "unknown date"})\n`,
    );
    let system: System;
    try {
      system = await bootForCli(manifest, trust);
    } catch (error) {
      // The recording failed the same way: a failure that is not a trace's
      // or the manifest's is the run matching its trace up to that point.
      if (isTraceError(error) || !(error instanceof AxError) || error instanceof ManifestError) {
        throw error;
      }
      const code = reportError(error, io);
      io.err(
        `rvhv: the run matches ${trace} up to this failure: the recorded run failed the same way\n`,
      );
      return code;
    }
    const hal = system.hal;
    let harts;
    try {
      io.err(
        `rvhv: ${describeBackend(hal.info())}, ${hal.harts.length} hart(s); ` +
          `policy ${describePolicy(system.percpus.policy)}\n`,
      );
      harts = values.json ? hartsJson(system.percpus) : hartTable(system.percpus);
    } finally {
      await system.close();
    }
    const consumed = hal.stats?.().consumed;
    if (values.json) {
      io.out(
        JSON.stringify(
          {
            trace,
            events: consumed,
            backend: hal.info(),
            policy: system.percpus.policy.name,
            harts,
          },
          null,
          2,
        ) + "\n",
      );
    } else {
      io.out(harts as string);
    }
    io.err(`rvhv: replayed ${consumed} events: the run matches ${trace}\n`);
    return EXIT.ok;
  },
});

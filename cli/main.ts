#!/usr/bin/env -S deno run --allow-read --allow-env=LOG_TOKENS,LOG_STREAM
/**
 * The `rvhv` command line: `deno run cli/main.ts <command>`.
 *
 * Commands: `up` (set up every hart and print what each kept), `detect`
 * (probe each hart for H), `verify` (live CSRs against the policy), `record`
 * (run a manifest with every CSR access recorded to a trace), `replay` (re-run
 * a trace's manifest against the trace), `diff` (two traces, or two
 * manifests' live CSRs), `route` (where each trap goes) and `serve` (the harts
 * over HTTP). Data goes to stdout, progress and errors to stderr. Exit codes:
 * 0 ok, 1 difference or failed check, 2 usage or manifest error, 3 backend
 * failure.
 *
 * Needs `--allow-read` (manifests, traces) and
 * `--allow-env=LOG_TOKENS,LOG_STREAM` (the YAML parser), plus the chosen
 * backend's permissions (QEMU: `--allow-run=qemu-system-riscv64
 * --allow-write --allow-net`, and `RVHV_QEMU,RVHV_DEBUG` in `--allow-env`);
 * `record` also needs `--allow-write` for the trace; `serve` needs
 * `--allow-net=<host>:<port>` (and `--allow-env=RVHV_TOKEN` to read a token
 * from the environment). SIGINT and SIGTERM restore the harts and end QEMU
 * before exiting (130, 143).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { VERSION } from "../version.ts";
import { detectCommand } from "./commands/detect.ts";
import { routeCommand } from "./commands/route.ts";
import { serveCommand } from "./commands/serve.ts";
import { diffCommand } from "./commands/diff.ts";
import { recordCommand } from "./commands/record.ts";
import { replayCommand } from "./commands/replay.ts";
import { pluginsCommand } from "./commands/plugins.ts";
import { upCommand } from "./commands/up.ts";
import { verifyCommand } from "./commands/verify.ts";
import {
  type CliIo,
  type Command,
  EXIT,
  exitCodeOf,
  printableIo,
  reportError,
  UsageError,
} from "./io.ts";
import { AxError, ManifestError } from "../hal/errors.ts";
import { closest } from "../hal/_suggest.ts";
import { installSignalHandlers } from "./signals.ts";

const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [
    upCommand,
    detectCommand,
    verifyCommand,
    recordCommand,
    replayCommand,
    diffCommand,
    routeCommand,
    serveCommand,
    pluginsCommand,
  ].map((command) => [command.name, command]),
);

function mainHelp(): string {
  const width = Math.max(...[...COMMANDS.keys()].map((n) => n.length));
  const list = [...COMMANDS.values()].map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `rvhv ${VERSION}: run the per-CPU RISC-V hypervisor set-up against swappable backends

Usage: npx -y deno@2.9.6 run --allow-read=<manifest's folder> --allow-env=LOG_TOKENS,LOG_STREAM \\
         cli/main.ts <command> [options]
       (record also needs --allow-write=<trace>,<trace>.partial)

Commands:
${list.join("\n")}

Options:
  -h, --help     show this help (or "<command> --help", "help <command>")
  -V, --version  print the version
  --json         data, and errors, as JSON on stdout (every command)

Exit codes: 0 ok, 1 difference/drift/failed check, 2 usage or manifest error,
3 backend failure; 130/143 after SIGINT/SIGTERM (harts restored, QEMU ended).

"serve" also needs --allow-net=<host>:<port> (and --allow-env=RVHV_TOKEN).
The qemu backend also needs --allow-read=/tmp --allow-write=/tmp --allow-net
--allow-run=qemu-system-riscv64 (see "deno task demo:qemu"). A permission
refused names the flag to add. Plugins: "plugins --help".
`;
}

/**
 * Runs the CLI.
 *
 * @param args The command line after the script name.
 * @param rawIo Where output goes (control characters are escaped on the way).
 * @returns The exit code.
 */
export async function main(args: string[], rawIo: CliIo): Promise<number> {
  const io = printableIo(rawIo);
  const json = args.includes("--json");
  try {
    const first = args[0];
    if (first === undefined) {
      // Nothing asked: the help is the answer, but not data, and not success.
      io.err(mainHelp());
      return EXIT.usage;
    }
    if (first.startsWith("-")) {
      const { values } = parseArgs({
        args,
        options: {
          help: { type: "boolean", short: "h", default: false },
          version: { type: "boolean", short: "V", default: false },
        },
        strict: true,
      });
      if (values.version) {
        io.out(`rvhv ${VERSION}\n`);
        return EXIT.ok;
      }
      io.out(mainHelp());
      return EXIT.ok;
    }
    if (first === "help") return help(args.slice(1), io);
    return await commandNamed(first).run(args.slice(1), io);
  } catch (error) {
    const usage = error instanceof UsageError ||
      (error as { code?: string })?.code?.startsWith("ERR_PARSE_ARGS") === true;
    if (json) {
      io.out(
        JSON.stringify({ error: errorJson(error, usage ? EXIT.usage : exitCodeOf(error)) }) + "\n",
      );
      return usage ? EXIT.usage : exitCodeOf(error);
    }
    const code = reportError(error, io);
    if (usage) {
      io.err(`Run with --help for usage.\n`);
      return EXIT.usage;
    }
    return code;
  }
}

/** The command a name names, or a usage error with the closest one. */
function commandNamed(name: string): Command {
  const command = COMMANDS.get(name);
  if (command !== undefined) return command;
  const names = [...COMMANDS.keys(), "help"];
  const close = closest(name, names);
  throw new UsageError(
    `unknown command "${name}"${
      close === undefined ? `; commands: ${names.join(", ")}` : `. Did you mean "${close}"?`
    }`,
  );
}

/** `rvhv help [command]`: the main help, or a command's. */
function help(args: string[], io: CliIo): number {
  if (args.length > 1) throw new UsageError("help takes at most one command name");
  io.out(args.length === 0 ? mainHelp() : commandNamed(args[0]!).help);
  return EXIT.ok;
}

/** An error as the JSON `--json` prints: kind, message, exit code and, for a manifest, where. */
function errorJson(error: unknown, exitCode: number): Record<string, unknown> {
  const message = error instanceof Error ? error.message : String(error);
  const kind = error instanceof AxError
    ? error.kind
    : error instanceof UsageError
    ? "Usage"
    : error instanceof Error
    ? error.name
    : "Error";
  return {
    kind,
    message,
    exitCode,
    ...(error instanceof ManifestError
      ? { file: error.file, line: error.line, column: error.column, path: error.path }
      : {}),
    ...(error instanceof AxError && error.hart !== undefined ? { hart: error.hart } : {}),
  };
}

if (import.meta.main) {
  const encoder = new TextEncoder();
  // A write to a pipe may take only part of the bytes: write until all are out.
  const writeAll = (stream: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    for (let done = 0; done < bytes.length;) done += stream.writeSync(bytes.subarray(done));
  };
  const io: CliIo = {
    out: (text) => writeAll(Deno.stdout, text),
    err: (text) => writeAll(Deno.stderr, text),
  };
  installSignalHandlers(io);
  Deno.exit(await main(Deno.args, io));
}

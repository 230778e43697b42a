/**
 * The command-line conventions every command shares: strict options,
 * positional paths, and `-h/--help`, which also describes the backend plugins
 * of the manifests or traces given (so `rvhv up m.yaml --help` says what
 * permissions that manifest's plugin needs).
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { type CliIo, type Command, EXIT, UsageError } from "./io.ts";
import { pluginHelp } from "./plugin_help.ts";
import { closest } from "../hal/_suggest.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { reportBackend } from "./boot.ts";

/** The option values `parseArgs` gives for a command's own options. */
export type CommandValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>["values"];

/** A parsed command line. */
export interface CommandLine<O extends ParseArgsOptionsConfig> {
  /** The command's own options. */
  readonly values: CommandValues<O>;
  /** The paths (and any other positionals), in order. */
  readonly positionals: string[];
}

/**
 * Parses a command's arguments. `-h/--help` is added to `options`: when given,
 * the help text (and the plugins of any paths given) is printed and the
 * result is `undefined`, so the command returns at once.
 *
 * @param args The arguments after the command name.
 * @param options The command's own options.
 * @param help The command's `--help` text.
 * @param io Where to print the help.
 * @returns The parsed line, or `undefined` when help was printed.
 * @throws {TypeError} From `parseArgs`, for an unknown option or a missing value.
 */
export async function parseCommandLine<O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  help: string,
  io: CliIo,
): Promise<CommandLine<O> | undefined> {
  const all = { ...options, help: { type: "boolean", short: "h", default: false } } as const;
  let parsed;
  try {
    parsed = parseArgs({ args, options: all, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageErrorOf(error, Object.keys(all));
  }
  const { values, positionals } = parsed;
  // The spread of a generic `O` hides `help` from the parsed type.
  if ((values as { help?: boolean }).help) {
    io.out(help + await pluginHelp(positionals));
    return undefined;
  }
  return { values: values as CommandValues<O>, positionals };
}

/**
 * A parser error as a usage error in our words, with a "Did you mean" for an
 * unknown option (node's own text suggests a "--" that is never the fix).
 */
function usageErrorOf(error: unknown, options: readonly string[]): unknown {
  const code = (error as { code?: string })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const given = /'([^']+)'/.exec(message)?.[1] ?? "?";
    const name = given.replace(/^-+/, "").split("=")[0]!;
    const close = closest(name, options);
    return new UsageError(
      `unknown option "${given}"${close === undefined ? "" : `. Did you mean "--${close}"?`}`,
    );
  }
  if (code?.startsWith("ERR_PARSE_ARGS")) return new UsageError(message.split(". ")[0]!);
  return error;
}

/**
 * The single path a command takes.
 *
 * @param command The command's name, for the message.
 * @param positionals The positionals given.
 * @param what What the path names.
 * @returns The path.
 * @throws {UsageError} When there is not exactly one.
 */
export function onePath(
  command: string,
  positionals: readonly string[],
  what: "manifest" | "trace",
): string {
  if (positionals.length !== 1) {
    throw new UsageError(`${command} takes exactly one ${what} path`);
  }
  return positionals[0]!;
}

/** The option every command has: `--json`, data as JSON on stdout. */
const JSON_OPTION = { json: { type: "boolean", default: false } } as const;
/** The options of commands that boot a manifest. */
const BOOT_OPTIONS = { force: { type: "boolean", default: false } } as const;

/** A command's own options with the shared `--json` and `--force`. */
type WithJson<O extends ParseArgsOptionsConfig> = O & typeof JSON_OPTION & typeof BOOT_OPTIONS;

/** What a command's body gets: its options, its positionals, and its one path when it takes one. */
export interface CommandInput<O extends ParseArgsOptionsConfig> extends CommandLine<WithJson<O>> {
  /** The manifest or trace path (`""` for a command that takes other positionals). */
  readonly path: string;
  /**
   * How the user wants manifests booted: module plugins allowed
   * (`--allow-plugin`, `--allow-plugin=<specifier>`), an existing trace
   * replaced (`--force`), extra QEMU arguments (`--qemu-arg`, validated),
   * and what the CLI says of each backend once it is up.
   */
  readonly trust: {
    readonly allowPlugins: boolean | readonly string[];
    readonly force: boolean;
    readonly qemuArgs?: readonly string[];
    readonly onBackend: (hal: AxVCpuHal) => void;
  };
}

const ALLOW_PLUGIN = "--allow-plugin";
const QEMU_ARG = "--qemu-arg";

/** What every command that boots a manifest also takes, for its `--help`. */
const BOOT_HELP = `
Options of every command that boots a manifest:
  --allow-plugin[=<specifier>]  load a module plugin (its code runs with
                                this program's permissions)
  --force                       replace an existing trace (record:, -o)
  --qemu-arg <arg>              pass -d <items>, -D <file> or -trace <pattern>
                                to the QEMU the qemu backend starts
                                (repeatable: --qemu-arg -d --qemu-arg int, or
                                --qemu-arg "-d int"); -D names a file in the
                                session's own folder, printed at start
`;

/**
 * Takes the options `node:util`'s parser cannot read out of the arguments:
 * `--allow-plugin` and `--allow-plugin=<specifier>` (a value that is
 * optional), and `--qemu-arg <arg>` (a value that starts with "-"), each
 * repeatable.
 */
function takeBootArgs(args: readonly string[]): {
  rest: string[];
  allowPlugins: boolean | string[];
  qemuArgs: string[];
} {
  const rest: string[] = [];
  let any = false;
  const specifiers: string[] = [];
  const qemuArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (arg === ALLOW_PLUGIN) any = true;
    else if (arg.startsWith(`${ALLOW_PLUGIN}=`)) {
      const specifier = arg.slice(ALLOW_PLUGIN.length + 1);
      if (specifier === "") throw new UsageError(`${ALLOW_PLUGIN}= needs a plugin specifier`);
      specifiers.push(specifier);
    } else if (arg === QEMU_ARG) {
      const value = args[++i];
      if (value === undefined) throw new UsageError(`${QEMU_ARG} needs a value, e.g. "-d int"`);
      qemuArgs.push(value);
    } else if (arg.startsWith(`${QEMU_ARG}=`)) {
      qemuArgs.push(arg.slice(QEMU_ARG.length + 1));
    } else rest.push(arg);
  }
  return { rest, allowPlugins: any || specifiers, qemuArgs };
}

/** Refuses, as a usage error, QEMU arguments outside the allow-list (before anything is read). */
async function checkQemuArgs(qemuArgs: readonly string[]): Promise<void> {
  if (qemuArgs.length === 0) return;
  // Loaded only when asked for: the QEMU plugin's own rules, on its default options.
  const qemu = (await import("../plugins/qemu/mod.ts")).default;
  try {
    qemu.withProcessArgs!(qemu.parseOptions({}), qemuArgs);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * A command as data: its name, summary, help, options, what its positionals
 * are, and a body. The conventions every command shares (`-h/--help` with
 * the plugins of the paths given, strict options, exactly one manifest or
 * trace path) are applied here once.
 */
export interface CommandSpec<O extends ParseArgsOptionsConfig> {
  /** The command's name. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The `--help` text. */
  readonly help: string;
  /** The command's own options (`-h/--help` and `--json` are added). */
  readonly options: O;
  /** One manifest path, one trace path, or positionals the body checks itself. */
  readonly takes: "manifest" | "trace" | "paths";
  /** The command's body. */
  run(input: CommandInput<O>, io: CliIo): Promise<number>;
}

/**
 * Builds a {@linkcode Command} from a {@linkcode CommandSpec}.
 *
 * @param spec The command.
 * @returns The command.
 */
export function defineCommand<O extends ParseArgsOptionsConfig>(spec: CommandSpec<O>): Command {
  const help = spec.help + BOOT_HELP;
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    async run(args: string[], io: CliIo): Promise<number> {
      const options: WithJson<O> = { ...spec.options, ...JSON_OPTION, ...BOOT_OPTIONS };
      const { rest, allowPlugins, qemuArgs } = takeBootArgs(args);
      await checkQemuArgs(qemuArgs);
      const line = await parseCommandLine(rest, options, help, io);
      if (line === undefined) return EXIT.ok;
      const path = spec.takes === "paths" ? "" : onePath(spec.name, line.positionals, spec.takes);
      const trust = {
        allowPlugins,
        force: (line.values as { force?: boolean }).force === true,
        ...(qemuArgs.length === 0 ? {} : { qemuArgs }),
        onBackend: (hal: AxVCpuHal) => reportBackend(hal, io),
      };
      return await spec.run({ ...line, path, trust }, io);
    },
  };
}

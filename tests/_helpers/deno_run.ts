/**
 * Runs Deno as a user would, in a subprocess: `deno <args>` in a folder,
 * with colour off, collecting the exit code and both streams.
 */

/** The repository root. */
export const ROOT: URL = new URL("../../", import.meta.url);

/** `cli/main.ts`'s path. */
export const CLI_MAIN: string = new URL("cli/main.ts", ROOT).pathname;

/** What a finished subprocess left. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode denoRun}. */
export interface DenoRunOptions {
  /** The working directory. Default: the repository root. */
  cwd?: string;
  /** More environment variables (NO_COLOR is always set). */
  env?: Record<string, string>;
}

/**
 * Runs `deno <args>` and waits for it.
 *
 * @param args Everything after `deno`.
 * @param options Working directory and environment.
 * @returns Exit code, stdout and stderr.
 */
export async function denoRun(args: string[], options: DenoRunOptions = {}): Promise<RunResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The CLI's own permissions: manifests and the YAML parser. */
export const CLI_FLAGS: readonly string[] = ["--allow-read", "--allow-env=LOG_TOKENS,LOG_STREAM"];

/**
 * Runs the CLI (`deno run <flags> cli/main.ts <args>`) from the repository root.
 *
 * @param flags Deno flags beyond the CLI's own permissions.
 * @param args The CLI's arguments.
 * @param env More environment variables.
 * @returns Exit code, stdout and stderr.
 */
export function runCli(
  flags: readonly string[],
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return denoRun(["run", ...CLI_FLAGS, ...flags, CLI_MAIN, ...args], { env });
}

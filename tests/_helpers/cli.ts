/**
 * Runs the CLI in this process, through `main(args, io)` of `cli/main.ts`:
 * what `deno run cli/main.ts <args>` runs, without starting Deno again. The
 * exit code is `main`'s result; stdout and stderr are what the command gave
 * `io.out` and `io.err`.
 *
 * What a process would add is not here: permission flags (the test's own
 * permissions apply), signal handlers (`installSignalHandlers` runs only in
 * the entry point; {@linkcode deliverInterrupt} ends `serve` and `up --hold`
 * instead), `Deno.exit`, and the environment (it is this process's, shared by
 * every test: never set it here). Tests of those run the CLI as a subprocess
 * (`runCli` of `deno_run.ts`).
 */

import { scaled } from "./time_scale.ts";
import { main } from "../../cli/main.ts";
import type { CliIo } from "../../cli/io.ts";
import { deliverInterrupt } from "../../cli/signals.ts";
import { ROOT, type RunResult } from "./deno_run.ts";

export { deliverInterrupt };

/** Options of {@linkcode rvhvInProcess}. */
export interface InProcessOptions {
  /**
   * The directory the relative paths in the arguments are relative to.
   * Default: the repository root. The working directory is never changed
   * (it is process-wide, and tests run in parallel): it must already be
   * this one, as it is under `deno task test`.
   */
  cwd?: string;
  /** What standard input holds, for a manifest given as `-`. Default: nothing. */
  stdin?: string;
}

/** A CLI run in progress, for commands that wait (`serve`, `up --hold`). */
export interface InProcessRun {
  /** What the command wrote to stdout so far. */
  stdout(): string;
  /** What the command wrote to stderr so far. */
  stderr(): string;
  /** Resolves when `main` returns. */
  readonly done: Promise<RunResult>;
  /**
   * Waits until `check` holds.
   *
   * @throws {Error} When the command ends first, or after `ms`.
   */
  until(what: string, check: () => boolean, ms?: number): Promise<void>;
  /**
   * Hands the command `signal` ({@linkcode deliverInterrupt}) once it waits
   * for one, and waits for it to end; at once when it has already ended.
   *
   * @throws {Error} When it neither waits nor ends within `ms`.
   */
  stop(signal: Deno.Signal, ms?: number): Promise<RunResult>;
}

function checkCwd(cwd: string): void {
  const actual = Deno.realPathSync(Deno.cwd());
  const wanted = Deno.realPathSync(cwd);
  if (actual !== wanted) {
    throw new Error(
      `The CLI runs in-process in this process's working directory ${actual}, ` +
        `but these arguments are relative to ${wanted}: run the tests from there`,
    );
  }
}

/**
 * Starts `main(args, io)` and returns at once.
 *
 * @param args The CLI's arguments.
 * @param options The directory relative paths are relative to.
 * @returns The run: its output so far, and its result.
 */
export function startRvhvInProcess(
  args: readonly string[],
  options: InProcessOptions = {},
): InProcessRun {
  checkCwd(options.cwd ?? ROOT.pathname);
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    out(text) {
      stdout += text;
    },
    err(text) {
      stderr += text;
    },
    stdin: ReadableStream.from([new TextEncoder().encode(options.stdin ?? "")]),
  };
  let ended = false;
  const done = main([...args], io).then((code) => {
    ended = true;
    return { code, stdout, stderr };
  });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    async until(what, check, ms = scaled(10_000)) {
      const deadline = performance.now() + ms;
      while (!check()) {
        if (ended) throw new Error(`The command ended before ${what}: ${stderr}`);
        if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async stop(signal, ms = scaled(30_000)) {
      const deadline = performance.now() + ms;
      while (!ended && !deliverInterrupt(signal)) {
        if (performance.now() > deadline) {
          throw new Error(`The command did not wait for ${signal} within ${ms} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return await done;
    },
  };
}

/**
 * Runs the CLI in-process and waits for it.
 *
 * @param args The CLI's arguments.
 * @param options The directory relative paths are relative to.
 * @returns Exit code, stdout and stderr.
 */
export async function rvhvInProcess(
  args: readonly string[],
  options: InProcessOptions = {},
): Promise<RunResult> {
  return await startRvhvInProcess(args, options).done;
}

/**
 * SIGINT/SIGTERM for the CLI: a signal closes whatever a command registered
 * (the booted system: harts restored, QEMU ended) and exits 130 or 143; a
 * command holding the system open (`up --hold`) receives the signal instead
 * and ends normally. Anything a signal interrupts before a command could
 * register it (a QEMU still starting) is ended and reaped through the
 * core's child-process registry, which also kills anything left when
 * `Deno.exit` runs.
 *
 * @module
 */

import { stopAllChildProcesses } from "../hal/child_processes.ts";
import type { CliIo } from "./io.ts";

/**
 * The exit code after a signal ended the CLI: 128 + its number (130 for
 * SIGINT, 143 for SIGTERM), as shells report it.
 *
 * @param signal The signal.
 * @returns The exit code.
 */
export function signalExitCode(signal: Deno.Signal): number {
  return signal === "SIGINT" ? 130 : 143;
}

/** The signals that end the CLI. */
export const END_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];

const cleanups = new Set<() => Promise<void>>();
const waiters = new Set<(signal: Deno.Signal) => void>();
/** How long a signal waits for the cleanups before exiting anyway. */
const CLEANUP_LIMIT_MS = 5000;

/**
 * Registers what a signal must close before the CLI exits.
 *
 * @param cleanup Closes the resource.
 * @returns A function that unregisters it.
 */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * Resolves on the next SIGINT or SIGTERM; while someone waits, the signal
 * does not exit the CLI.
 *
 * @returns The signal.
 */
export function nextInterrupt(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const waiter = (signal: Deno.Signal) => {
      waiters.delete(waiter);
      resolve(signal);
    };
    waiters.add(waiter);
  });
}

/**
 * Hands a signal to the commands waiting in {@linkcode nextInterrupt}, as the
 * handlers do first; also how in-process tests end `serve` and `up --hold`
 * without installing process-wide handlers.
 *
 * @param signal The signal.
 * @returns Whether a command was waiting (then the CLI does not exit).
 */
export function deliverInterrupt(signal: Deno.Signal): boolean {
  if (waiters.size === 0) return false;
  for (const waiter of [...waiters]) waiter(signal);
  return true;
}

/**
 * Installs the handlers (once, by the CLI entry point).
 *
 * @param io Where to say what happens.
 */
export function installSignalHandlers(io: CliIo): void {
  for (const signal of END_SIGNALS) {
    try {
      Deno.addSignalListener(signal, () => void handle(signal, io));
    } catch {
      // Signals are not available on this platform.
    }
  }
}

let ending = false;

async function handle(signal: Deno.Signal, io: CliIo): Promise<void> {
  if (deliverInterrupt(signal)) return;
  if (ending) {
    io.err(`rvhv: ${signal} again: exiting now\n`);
    Deno.exit(signalExitCode(signal));
  }
  ending = true;
  io.err(`rvhv: ${signal}: closing the backend\n`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    (async () => {
      await Promise.allSettled([...cleanups].map((cleanup) => cleanup()));
      // A process still starting belongs to no system yet: end and reap it too.
      await stopAllChildProcesses();
    })(),
    new Promise((resolve) => (timer = setTimeout(resolve, CLEANUP_LIMIT_MS))),
  ]);
  clearTimeout(timer);
  Deno.exit(signalExitCode(signal));
}

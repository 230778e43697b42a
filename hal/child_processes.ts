/**
 * The processes a backend started and has not yet reaped, in one registry
 * the whole program shares: a CLI ending on SIGINT/SIGTERM stops them all
 * (even one still starting that no HAL owns yet), and when the program
 * exits anything left is killed, so no backend leaves a process behind.
 * Backends register what they spawn; nothing here knows which backend.
 *
 * @module
 */

/**
 * What the registry needs of a child process a backend started.
 *
 * @example Usage
 * ```ts
 * import { trackChildProcess } from "@rvhv/percpu";
 * import { type TrackedProcess } from "./child_processes.ts";
 *
 * const child = new Deno.Command("sleep", { args: ["60"] }).spawn();
 * const handle: TrackedProcess = {
 *   stop: async () => {
 *     child.kill();
 *     await child.status;
 *   },
 *   killNow: () => child.kill("SIGKILL"),
 * };
 * const untrack = trackChildProcess(handle);
 * await handle.stop();
 * untrack();
 * ```
 */
export type TrackedProcess = Parameters<typeof trackChildProcess>[0];

const LIVE = new Set<TrackedProcess>();
let unloadHooked = false;

/**
 * Registers a process a backend started; call the returned function once it
 * has been reaped.
 *
 * @example Usage
 * ```ts
 * import { trackChildProcess } from "@rvhv/percpu";
 *
 * const untrack = trackChildProcess({ stop: () => Promise.resolve(), killNow() {} });
 * untrack(); // reaped
 * ```
 *
 * @param process The process.
 * @returns A function that removes it from the registry.
 */
export function trackChildProcess(process: {
  /** Ends the process and waits until it is reaped and its files are gone. */
  stop(): Promise<unknown>;
  /** Kills it at once, synchronously: all that is possible while exiting. */
  killNow(): void;
}): () => void {
  LIVE.add(process);
  if (!unloadHooked) {
    unloadHooked = true;
    globalThis.addEventListener("unload", () => {
      for (const live of LIVE) live.killNow();
    });
  }
  return () => LIVE.delete(process);
}

/**
 * Stops every registered process and waits until each is reaped: what a
 * program that handles SIGINT/SIGTERM itself does before it exits.
 *
 * @example Usage
 * ```ts
 * import { stopAllChildProcesses } from "@rvhv/percpu";
 *
 * await stopAllChildProcesses(); // nothing running: resolves at once
 * ```
 *
 * @returns When every process has ended.
 */
export async function stopAllChildProcesses(): Promise<void> {
  await Promise.allSettled([...LIVE].map((process) => process.stop()));
}

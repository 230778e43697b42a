/**
 * How CLI commands boot a manifest: through `boot`, with the system
 * registered for the CLI's SIGINT/SIGTERM handling (so a signal restores the
 * harts, ends QEMU and finishes a recording before the CLI exits): the
 * library itself installs no signal handlers.
 *
 * @module
 */

import { boot, type BootOptions, type System } from "../manifest/boot.ts";
import type { Manifest } from "../manifest/schema.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { type CliIo, UsageError } from "./io.ts";
import { onInterrupt } from "./signals.ts";

/** Boot options as the CLI has them. */
export interface CliBootOptions extends BootOptions {
  /** Called with each backend once it is up (see {@linkcode reportBackend}). */
  readonly onBackend?: (hal: AxVCpuHal) => void;
  /**
   * Set by {@linkcode forSeveral} when a command boots several manifests:
   * `qemuArgs` then go to those on the qemu backend only.
   */
  readonly qemuArgsToQemuOnly?: boolean;
}

/**
 * Boots a manifest for a CLI command; `close()` also unregisters it.
 *
 * @param manifest The manifest.
 * @param options Boot options.
 * @returns The system.
 */
export async function bootForCli(
  manifest: Manifest,
  options: CliBootOptions = {},
): Promise<System> {
  const { onBackend, qemuArgsToQemuOnly, ...bootOptions } = options;
  if (qemuArgsToQemuOnly && manifest.backend.plugin !== "qemu") delete bootOptions.qemuArgs;
  const system = await boot(manifest, bootOptions);
  onBackend?.(system.hal);
  const unregister = onInterrupt(() => system.close());
  return Object.freeze({
    ...system,
    close(): Promise<void> {
      unregister();
      return system.close();
    },
  });
}

/**
 * Boot options for several manifests booted together (`diff`): extra QEMU
 * arguments go to each manifest on the qemu backend.
 *
 * @param manifests The manifests.
 * @param options The command's boot options.
 * @returns The options for {@linkcode bootForCli}.
 * @throws {UsageError} When QEMU arguments are given and no manifest is on the qemu backend.
 */
export function forSeveral(
  manifests: readonly Manifest[],
  options: CliBootOptions,
): CliBootOptions {
  if (options.qemuArgs === undefined || options.qemuArgs.length === 0) return options;
  if (!manifests.some((manifest) => manifest.backend.plugin === "qemu")) {
    throw new UsageError(
      `--qemu-arg is for the qemu backend, and none of ${
        manifests.map((m) => m.file).join(", ")
      } uses it`,
    );
  }
  return { ...options, qemuArgsToQemuOnly: true };
}

/**
 * What the CLI says of a backend once it is up, on stderr: where QEMU's own
 * log goes, when `--qemu-arg` asked for one (it stays after QEMU ends).
 *
 * @param hal The backend.
 * @param io Where to say it.
 */
export function reportBackend(hal: AxVCpuHal, io: CliIo): void {
  const log = hal.info().log;
  if (typeof log === "string") io.err(`rvhv: QEMU's log: ${log} (kept after QEMU ends)\n`);
}

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
import { onInterrupt } from "./signals.ts";

/**
 * Boots a manifest for a CLI command; `close()` also unregisters it.
 *
 * @param manifest The manifest.
 * @param options Boot options.
 * @returns The system.
 */
export async function bootForCli(manifest: Manifest, options: BootOptions = {}): Promise<System> {
  const system = await boot(manifest, options);
  const unregister = onInterrupt(() => system.close());
  return Object.freeze({
    ...system,
    close(): Promise<void> {
      unregister();
      return system.close();
    },
  });
}

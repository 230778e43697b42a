/**
 * The manifest's shape: what `parseManifest` produces and `boot` consumes.
 *
 * ```yaml
 * version: 1
 * backend:
 *   plugin: emulator            # emulator, or a module specifier
 *   options: { harts: 4 }       # the plugin's own options
 * percpu:                       # optional; defaults shown
 *   harts: all                  # or a list of hart ids
 *   policy: arceos              # arceos | kvm | { hedeleg, hideleg, hcounteren, sie }
 *   enable: true
 * record: traces/run.jsonl      # optional
 * server: { listen: "127.0.0.1:8787" }   # optional
 * ```
 *
 * @module
 */

import type { HartId } from "../hal/types.ts";
import type { CustomPolicySpec } from "../percpu/policy.ts";

/** The manifest format version this release reads. */
export const MANIFEST_VERSION = 1;

/** The `backend` section. */
export interface ManifestBackend {
  /** A built-in plugin name or a module specifier. */
  readonly plugin: string;
  /** The plugin's raw options (validated by the plugin at boot). */
  readonly options: unknown;
}

/** The `percpu` section. */
export interface ManifestPerCpu {
  /** `"all"` or the hart ids to set up. */
  readonly harts: "all" | readonly HartId[];
  /** The set-up policy. */
  readonly policy: "arceos" | "kvm" | CustomPolicySpec;
  /** Whether `boot` enables the harts after setting them up. */
  readonly enable: boolean;
}

/** The `server` section. */
export interface ManifestServer {
  /** `host:port` to listen on. */
  readonly listen: string;
}

/** A validated manifest. */
export interface Manifest {
  /** Format version: 1. */
  readonly version: 1;
  /** Where the manifest came from (a path, or `<manifest>` for text without one). */
  readonly file: string;
  /** The backend and its options. */
  readonly backend: ManifestBackend;
  /** The per-CPU set-up. */
  readonly percpu: ManifestPerCpu;
  /** Where to record a trace of every CSR access, if anywhere. */
  readonly record?: string;
  /** The HTTP server's address, if one is wanted. */
  readonly server?: ManifestServer;
}

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

/**
 * The manifest format version this release reads.
 *
 * @example Usage
 * ```ts
 * import { parseManifest } from "@rvhv/percpu";
 * import { MANIFEST_VERSION } from "./schema.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const manifest = parseManifest(`version: ${MANIFEST_VERSION}\nbackend: { plugin: emulator }\n`);
 * strictEqual(manifest.version, MANIFEST_VERSION);
 * ```
 */
export const MANIFEST_VERSION = 1;

/**
 * A validated manifest.
 *
 * @example Usage
 * ```ts
 * import { type Manifest, parseManifest } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const manifest: Manifest = parseManifest(
 *   "version: 1\nbackend: { plugin: emulator }\nrecord: traces/run.jsonl\n",
 *   { file: "rvhv.yaml" },
 * );
 * strictEqual(manifest.file, "rvhv.yaml");
 * strictEqual(manifest.record, "traces/run.jsonl"); // boot resolves it against the manifest's folder
 * strictEqual(manifest.server, undefined);
 * ```
 */
export interface Manifest {
  /** Format version: 1. */
  readonly version: 1;
  /** Where the manifest came from (a path, or `<manifest>` for text without one). */
  readonly file: string;
  /** The backend and its options. */
  readonly backend: {
    /** A built-in plugin name or a module specifier. */
    readonly plugin: string;
    /** The plugin's raw options (validated by the plugin at boot). */
    readonly options: unknown;
  };
  /** The per-CPU set-up. */
  readonly percpu: {
    /** `"all"` or the hart ids to set up. */
    readonly harts: "all" | readonly HartId[];
    /** The set-up policy. */
    readonly policy: "arceos" | "kvm" | "kvm-6.12" | CustomPolicySpec;
    /** Whether `boot` enables the harts after setting them up. */
    readonly enable: boolean;
  };
  /**
   * vCPUs to create, set up and bind once the per-CPU set-up is enabled:
   * one per hart at most.
   */
  readonly vcpus: readonly {
    /** The hart the vCPU is bound on. */
    readonly hart: HartId;
    /** The VM it belongs to. */
    readonly vm: number;
  }[];
  /** Where to record a trace of every CSR access, if anywhere. */
  readonly record?: string;
  /** The HTTP server's address, if one is wanted. */
  readonly server?: {
    /** `host:port` to listen on. */
    readonly listen: string;
  };
}

/** The backend part of a {@linkcode Manifest}. */
export type ManifestBackend = Manifest["backend"];
/** The per-CPU part of a {@linkcode Manifest}. */
export type ManifestPerCpu = Manifest["percpu"];

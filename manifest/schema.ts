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
 * import { MANIFEST_VERSION, parseManifest } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const manifest = parseManifest(`version: ${MANIFEST_VERSION}\nbackend: { plugin: emulator }\n`);
 * strictEqual(manifest.version, MANIFEST_VERSION);
 * ```
 */
export const MANIFEST_VERSION = 1;

/**
 * The `backend` section.
 *
 * @example Usage
 * ```ts
 * import { type ManifestBackend, parseManifest } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const { backend } = parseManifest(
 *   "version: 1\nbackend:\n  plugin: emulator\n  options: { harts: 2, profile: qemu-7.2 }\n",
 * );
 * const section: ManifestBackend = backend;
 * strictEqual(section.plugin, "emulator");
 * deepStrictEqual(section.options, { harts: 2, profile: "qemu-7.2" }); // checked by the plugin at boot
 * ```
 */
export interface ManifestBackend {
  /** A built-in plugin name or a module specifier. */
  readonly plugin: string;
  /** The plugin's raw options (validated by the plugin at boot). */
  readonly options: unknown;
}

/**
 * The `percpu` section.
 *
 * @example Usage
 * ```ts
 * import { type ManifestPerCpu, parseManifest } from "@rvhv/percpu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const text = "version: 1\nbackend: { plugin: emulator }\n";
 * const defaults: ManifestPerCpu = parseManifest(text).percpu;
 * deepStrictEqual(defaults, { harts: "all", policy: "arceos", enable: true });
 * const chosen = parseManifest(`${text}percpu: { harts: [0, 2], policy: kvm, enable: false }\n`);
 * deepStrictEqual(chosen.percpu, { harts: [0, 2], policy: "kvm", enable: false });
 * ```
 */
export interface ManifestPerCpu {
  /** `"all"` or the hart ids to set up. */
  readonly harts: "all" | readonly HartId[];
  /** The set-up policy. */
  readonly policy: "arceos" | "kvm" | CustomPolicySpec;
  /** Whether `boot` enables the harts after setting them up. */
  readonly enable: boolean;
}

/**
 * The `server` section.
 *
 * @example Usage
 * ```ts
 * import { type ManifestServer, parseManifest } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const manifest = parseManifest(
 *   'version: 1\nbackend: { plugin: emulator }\nserver: { listen: "127.0.0.1:8787" }\n',
 * );
 * const server: ManifestServer | undefined = manifest.server;
 * strictEqual(server?.listen, "127.0.0.1:8787");
 * ```
 */
export interface ManifestServer {
  /** `host:port` to listen on. */
  readonly listen: string;
}

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
  readonly backend: ManifestBackend;
  /** The per-CPU set-up. */
  readonly percpu: ManifestPerCpu;
  /** Where to record a trace of every CSR access, if anywhere. */
  readonly record?: string;
  /** The HTTP server's address, if one is wanted. */
  readonly server?: ManifestServer;
}

/**
 * The manifest's shape: what `parseManifest` checks and produces, and
 * `boot` consumes. {@linkcode MANIFEST_SHAPE} is the one description of
 * every key: the validator checks it and the JSON Schema
 * (`manifest/rvhv-manifest.schema.json`) is generated from it.
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
import { Exception, Interrupt } from "../hal/trap_bits.ts";
import {
  boolean,
  choice,
  either,
  integer,
  list,
  map,
  type MapShape,
  type Shape,
  text,
  u64,
} from "../hal/_shape.ts";
import { BUILTIN_PLUGINS, SPECIFIER_REGEXP } from "./registry.ts";
import { closest } from "../hal/_suggest.ts";

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

/** The named policies a manifest may give. */
export const POLICY_NAMES: readonly ["arceos", "kvm", "kvm-6.12"] = ["arceos", "kvm", "kvm-6.12"];

/** What a manifest's `percpu:` is when it leaves a key out. */
export const PERCPU_DEFAULTS: ManifestPerCpu = Object.freeze({
  harts: "all",
  policy: "arceos",
  enable: true,
});

/**
 * `host:port`: a name or `[IPv6]`, and a port from 0 to 65535 (the port's
 * range spelled out, so the schema's pattern says all the validator does).
 */
const LISTEN_REGEXP =
  /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/;

/** The largest id a manifest may give (what YAML carries exactly). */
const MAX_ID = Number.MAX_SAFE_INTEGER;

/** A trap cause: a spec name (any case) or a number from 0 to 63. */
function cause(kind: "exception" | "interrupt"): Shape {
  const names = Object.keys(kind === "exception" ? Exception : Interrupt);
  const example = kind === "exception" ? "ILLEGAL_INSTRUCTION" : "SUPERVISOR_EXTERNAL";
  return either(`an ${kind} name (e.g. "${example}") or a cause number from 0 to 63`, [
    integer(0, 63),
    choice(names, { ignoreCase: true }),
  ]);
}

const builtins = [...BUILTIN_PLUGINS.keys()];

/**
 * Every key of a manifest, its form, default and meaning: what
 * `parseManifest` checks (then it checks what a shape cannot say: no two
 * vCPUs on one hart), and what the JSON Schema says. A plugin's own
 * options are checked by the plugin at boot.
 *
 * @example Usage
 * ```ts
 * import { MANIFEST_SHAPE } from "./schema.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(Object.keys(MANIFEST_SHAPE.properties), [
 *   "version", "backend", "percpu", "vcpus", "record", "server",
 * ]);
 * ```
 */
export const MANIFEST_SHAPE: MapShape = map({
  version: choice([MANIFEST_VERSION], {
    description: "The manifest format; this release reads 1.",
    mismatch: (got, value) =>
      `unsupported manifest version ${
        JSON.stringify(value) ?? got
      }; this release reads version ${MANIFEST_VERSION}`,
  }),
  backend: map({
    plugin: either(`a built-in plugin or a module specifier`, [
      choice(builtins),
      text({ pattern: SPECIFIER_REGEXP }),
    ], {
      description:
        `A built-in plugin (${
          builtins.join(", ")
        }) or a module specifier (./x.ts, file:, npm:, jsr:, https:) whose default export is a ` +
        `HalPlugin; a relative path resolves against the manifest's folder.`,
      mismatch: (got, value) => {
        const close = typeof value === "string" ? closest(value, builtins) : undefined;
        return `unknown plugin ${got}${
          close === undefined ? "" : ` (did you mean "${close}"?)`
        }; ` +
          `built-in plugins: ${builtins.map((n) => `"${n}"`).join(", ")}, ` +
          `or a module specifier such as "./my_backend.ts"`;
      },
    }),
    options: map({}, {
      values: "any",
      nullable: true,
      expected: "a map of plugin options",
      description: "The plugin's own options, checked by the plugin at boot.",
    }),
  }, {
    required: ["plugin"],
    hints: { plugin: 'add "plugin: emulator"' },
    description: "The backend: a plugin and its options.",
  }),
  percpu: map({
    harts: either(`"all" or a list of hart ids`, [
      choice(["all"]),
      list(integer(0, MAX_ID, { expected: "a hart id (an integer ≥ 0)" }), {
        unique: (id) => `hart ${id} is listed twice`,
      }),
    ], { default: PERCPU_DEFAULTS.harts, description: "The harts to set up." }),
    policy: either(`${POLICY_NAMES.map((n) => `"${n}"`).join(", ")} or a custom policy map`, [
      choice(POLICY_NAMES),
      map({
        hedeleg: list(cause("exception"), {
          description: "Exceptions delegated to VS-mode, by name or number.",
        }),
        hideleg: list(cause("interrupt"), {
          description: "Interrupts delegated to VS-mode, by name or number.",
        }),
        hcounteren: u64({ description: 'The counters VS-mode may read ("0x…").' }),
        sie: list(cause("interrupt"), { description: "Interrupts enabled in sie." }),
        guestPageTableLevels: choice([3, 4, 5], {
          default: 3,
          description: "G-stage page-table levels (Sv39x4, Sv48x4, Sv57x4).",
        }),
        delegation: choice(["per-cpu", "per-vcpu"], {
          default: "per-cpu",
          description: "Delegation written by the per-CPU set-up (per-cpu) or by each vCPU's " +
            "bind (per-vcpu, as Linux KVM ≥ 7.1).",
        }),
      }, { required: ["hedeleg", "hideleg", "hcounteren", "sie"] }),
    ], { default: PERCPU_DEFAULTS.policy, description: "The set-up policy." }),
    enable: boolean({
      default: PERCPU_DEFAULTS.enable,
      description: "Enable the harts after setting them up.",
    }),
  }, { nullable: true, description: "The per-CPU set-up; every key has a default." }),
  vcpus: list(
    map({
      hart: integer(0, MAX_ID, { description: "The hart it is bound on." }),
      vm: integer(0, MAX_ID, { description: "The VM it belongs to." }),
    }, { required: ["hart", "vm"] }),
    {
      nullable: true,
      description: "vCPUs created, set up and bound once the harts are enabled; one per hart.",
    },
  ),
  record: text({
    description: "Record every CSR access to this trace (relative to the manifest's folder).",
  }),
  server: map({
    listen: text({
      pattern: LISTEN_REGEXP,
      expected: '"host:port" such as "127.0.0.1:8787"',
      description: "Where rvhv serve listens (127.0.0.1:8787 without server:); " +
        "a non-loopback address needs a token.",
    }),
  }, { required: ["listen"], description: "The HTTP server (rvhv serve)." }),
}, {
  required: ["version", "backend"],
  hints: {
    version: `add "version: ${MANIFEST_VERSION}"`,
    backend: 'add "backend: { plugin: emulator }"',
  },
});

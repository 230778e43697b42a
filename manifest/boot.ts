/**
 * `boot`: a manifest to a running system (backend plus per-CPU states).
 *
 * @module
 */

import { dirname, isAbsolute, join } from "node:path";
import { addRollbackErrors, AxError } from "../hal/errors.ts";
import type { AxVCpuHal, HalPlugin } from "../hal/types.ts";
import { PerCpuSet, releaseAll } from "../percpu/percpu_set.ts";
import { RISCVVCpu } from "../percpu/riscv_vcpu.ts";
import { recordHal } from "../trace/recorder.ts";
import { isModuleSpecifier, loadPlugin } from "./registry.ts";
import { checkTraceTarget } from "./trace_target.ts";
import type { Manifest } from "./schema.ts";
import { manifestError } from "./source.ts";

/**
 * A booted system.
 *
 * @example Usage
 * ```ts
 * import { AxError, boot, CSR, parseManifest, type System } from "@rvhv/percpu";
 * import { rejects, strictEqual } from "node:assert/strict";
 *
 * const system: System = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
 * strictEqual(system.plugin.name, "emulator");
 * strictEqual(system.percpus.get(0).state, "enabled");
 * await system.close(); // disables the harts, then closes the backend
 * await system.close(); // idempotent
 * await rejects(
 *   system.hal.csr.read(0, CSR.hedeleg),
 *   (e) => e instanceof AxError && e.kind === "BadState",
 * );
 * ```
 */
export interface System {
  /** The backend. */
  readonly hal: AxVCpuHal;
  /** The per-CPU states. */
  readonly percpus: PerCpuSet;
  /** The vCPUs the manifest's `vcpus:` bound, in its order. */
  readonly vcpus: readonly RISCVVCpu[];
  /** The manifest it was booted from. */
  readonly manifest: Manifest;
  /** The plugin that made the backend. */
  readonly plugin: HalPlugin<unknown>;
  /**
   * Unbinds every bound vCPU, disables the enabled harts (restoring their
   * prior values, as the reference's `Drop` does) and closes the backend.
   * Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Options of {@linkcode boot}.
 *
 * @example Usage
 * ```ts
 * import { boot, CSR, parseManifest } from "@rvhv/percpu";
 * import { type BootOptions } from "./boot.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const manifest = parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n");
 * const held: BootOptions = { noEnable: true };
 * const system = await boot(manifest, held);
 * strictEqual(system.percpus.get(1).state, "initialized");
 * await system.close();
 *
 * const bare = await boot(manifest, { halOnly: true }); // the backend alone, nothing written
 * deepStrictEqual(bare.percpus.harts, []);
 * strictEqual(await bare.hal.csr.read(1, CSR.hedeleg), 0n);
 * await bare.close();
 * ```
 */
export type BootOptions = NonNullable<Parameters<typeof boot>[1]>;

function optionPath(error: unknown): string[] | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const path = (error as { path?: unknown }).path;
  return Array.isArray(path) ? path.map(String) : undefined;
}

/** Throws a `ManifestError` at the first listed hart the backend does not have. */
function checkHarts(manifest: Manifest, hal: AxVCpuHal): void {
  const wanted = manifest.percpu.harts;
  if (wanted === "all") return;
  const known = new Set(hal.harts);
  const missing = wanted.findIndex((hart) => !known.has(hart));
  if (missing >= 0) {
    throw manifestError(
      manifest,
      ["percpu", "harts", missing],
      `hart ${wanted[missing]} does not exist; the backend has harts ${
        hal.harts.length > 8 ? `${hal.harts[0]} to ${hal.harts.at(-1)}` : hal.harts.join(", ")
      }`,
    );
  }
}

/**
 * A path written in a manifest (`record:`), resolved against the manifest's
 * folder; an absolute path, and any path of a manifest without a file, as
 * written.
 *
 * @example Usage
 * ```ts
 * import { manifestRelative } from "./boot.ts";
 * import { parseManifest } from "./parse.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const text = "version: 1\nbackend: { plugin: emulator }\n";
 * const manifest = parseManifest(text, { file: "lab/m.yaml" });
 * strictEqual(manifestRelative(manifest, "run.jsonl"), "lab/run.jsonl");
 * ```
 *
 * @param manifest The manifest.
 * @param path The path as the manifest writes it.
 * @returns The path to use from the working directory.
 */
export function manifestRelative(manifest: Manifest, path: string | undefined): string | undefined {
  if (path === undefined || isAbsolute(path) || manifest.file.startsWith("<")) return path;
  return join(dirname(manifest.file), path);
}

/**
 * Closes a backend after a failed boot step without hiding that step's
 * error: a failure to close is attached to it as `rollbackErrors`.
 */
async function closeAfterFailure(hal: AxVCpuHal, error: unknown): Promise<void> {
  try {
    await hal.close();
  } catch (closeError) {
    addRollbackErrors(error, [closeError]);
  }
}

/**
 * Loads and validates the plugin's options into a backend.
 *
 * @param manifest The manifest.
 * @param options Which module plugins may load; extra QEMU arguments.
 * @returns The plugin and its backend.
 */
export async function createBackend(
  manifest: Manifest,
  options: Pick<BootOptions, "allowPlugins" | "qemuArgs"> = {},
): Promise<{ plugin: HalPlugin<unknown>; hal: AxVCpuHal }> {
  const specifier = manifest.backend.plugin;
  const qemuArgs = options.qemuArgs ?? [];
  if (isModuleSpecifier(specifier) && !pluginAllowed(specifier, options.allowPlugins)) {
    throw manifestError(
      manifest,
      ["backend", "plugin"],
      `plugin ${
        JSON.stringify(specifier)
      } is a module: its code would run with every permission this ` +
        `program has, so it loads only when you allow it: pass --allow-plugin (or ` +
        `--allow-plugin=${specifier}) on the command line, or { allowPlugins: true } to boot()`,
    );
  }
  let plugin: HalPlugin<unknown>;
  try {
    plugin = await loadPlugin(specifier, manifest.file);
  } catch (error) {
    throw manifestError(manifest, ["backend", "plugin"], (error as Error).message, error);
  }
  const atOption = (error: unknown, what: string) => {
    const path = optionPath(error);
    return manifestError(
      manifest,
      ["backend", "options", ...(path ?? [])],
      `plugin "${plugin.name}" ${what}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  };
  let parsed: unknown;
  try {
    parsed = plugin.parseOptions(manifest.backend.options);
  } catch (error) {
    // Whatever the plugin throws, the user's fix is in the options.
    throw atOption(error, "rejected its options");
  }
  if (qemuArgs.length > 0) {
    if (plugin.withProcessArgs === undefined) {
      throw new AxError(
        "InvalidInput",
        `Cannot pass QEMU arguments (--qemu-arg) to the backend of ${manifest.file}: ` +
          `it uses plugin ${JSON.stringify(plugin.name)}, which runs no process of its own`,
      );
    }
    parsed = plugin.withProcessArgs(parsed, qemuArgs);
  }
  try {
    return { plugin, hal: await plugin.create(parsed) };
  } catch (error) {
    // An option found wrong only when the backend starts is still the option's line; a
    // backend that fails to start (QEMU missing, a socket) is a backend failure.
    if (optionPath(error) !== undefined || error instanceof TypeError) {
      throw atOption(error, "cannot start with its options");
    }
    if (error instanceof AxError) throw error;
    // A third-party plugin's own failure: say whose, and where the manifest names it.
    const { line } = manifestError(manifest, ["backend", "plugin"], "");
    throw new AxError(
      "Io",
      `Cannot start the backend of ${manifest.file}:${line} (plugin "${plugin.name}"): ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}

/** Whether `allowPlugins` lets a module plugin load. */
function pluginAllowed(specifier: string, allow: BootOptions["allowPlugins"]): boolean {
  return allow === true || (Array.isArray(allow) && allow.includes(specifier));
}

/**
 * Boots a manifest: loads the plugin, validates its options, creates the
 * backend, sets up the harts (and enables them unless the manifest says
 * `enable: false`). Nothing starts when the manifest is invalid, and nothing
 * is left running when a later step fails.
 *
 * With `record: <path>` (or the `record` option) the backend is wrapped by
 * the replay plugin's `recordHal` once the manifest is known to be valid:
 * every CSR access of the run goes to `<path>.partial`, and the system's
 * `close()` (also after a failed set-up) renames it to `<path>`. The trace's
 * header records the manifest, so `rvhv replay` can re-run it. A relative
 * `record:` resolves against the manifest's folder (as `plugin:` does); the
 * `record` option against the working directory.
 *
 * Needs the permissions of the chosen plugin; recording also needs
 * `--allow-write` and `--allow-read` for the trace's folder.
 *
 * @example Usage
 * ```ts
 * import { boot, CSR, parseManifest } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\n"));
 * strictEqual(system.percpus.get(1).state, "enabled");
 * strictEqual(await system.hal.csr.read(1, CSR.hedeleg), 0xb10dn);
 * await system.close();
 * ```
 *
 * @param manifest A manifest from `parseManifest`/`loadManifest`.
 * @param options Boot variations.
 * @returns The system.
 * @throws {ManifestError} For an unknown plugin, invalid plugin options, hart ids the backend
 *   lacks, or a `record:` path that cannot be written.
 * @throws {AxError} From the backend or the set-up (after closing the backend).
 */
export async function boot(manifest: Manifest, options: {
  /** Set the harts up but do not enable them, whatever the manifest says. */
  noEnable?: boolean;
  /** Create the backend only; skip the per-CPU set-up (`percpus` is empty). */
  halOnly?: boolean;
  /**
   * Record every CSR access to this trace, in place of the manifest's
   * `record:` (what `rvhv record -o` uses).
   */
  record?: string;
  /**
   * Whether a plugin named by module specifier (`./backend.ts`, `file:`,
   * `npm:`, `jsr:`, `https:`) may be imported: `true` for any, or the
   * specifiers allowed, matched as written in the manifest. Such a module is
   * code: it runs with every permission this program has. Built-in plugins
   * always load. Default `false`.
   */
  allowPlugins?: boolean | readonly string[];
  /** Whether an existing trace file may be replaced by the recording. Default `false`. */
  force?: boolean;
  /**
   * Extra arguments for the QEMU the `qemu` plugin starts (what the CLI's
   * `--qemu-arg` gives; a manifest cannot): only `-d <items>`, `-D <file>`
   * (a plain name, written in the session's own folder) and `-trace
   * <pattern>`. Refused (`AxError` kind `"InvalidInput"`) for any other
   * plugin, for an attached QEMU, and for anything outside that list.
   */
  qemuArgs?: readonly string[];
} = {}): Promise<System> {
  const record = options.record ?? manifestRelative(manifest, manifest.record);
  if (record !== undefined) {
    // Checked before the backend exists: nothing runs against a target we would refuse.
    const problem = await checkTraceTarget(record, manifest.file, options.force ?? false);
    if (problem !== undefined) {
      if (options.record === undefined) {
        throw manifestError(manifest, ["record"], `cannot record to "${record}": ${problem}`);
      }
      throw new AxError("InvalidInput", `Cannot record to "${record}": ${problem}`);
    }
  }
  const created = await createBackend(manifest, options);
  const { plugin } = created;
  let hal = created.hal;
  try {
    checkHarts(manifest, hal);
  } catch (error) {
    await closeAfterFailure(hal, error);
    throw error;
  }
  if (record !== undefined) {
    try {
      hal = await recordHal(hal, { path: record, manifest });
    } catch (error) {
      await closeAfterFailure(hal, error);
      if (options.record !== undefined) throw error;
      throw manifestError(
        manifest,
        ["record"],
        `cannot record to "${record}": ${(error as Error).message}`,
        error,
      );
    }
  }
  let percpus: PerCpuSet | undefined;
  const vcpus: RISCVVCpu[] = [];
  try {
    const wanted = manifest.percpu.harts;
    percpus = await PerCpuSet.init(hal, {
      harts: options.halOnly ? [] : wanted === "all" ? hal.harts : wanted,
      policy: manifest.percpu.policy,
    });
    if (manifest.percpu.enable && !options.noEnable) await percpus.enableAll();
    if (!options.halOnly) {
      for (const [i, { hart, vm }] of manifest.vcpus.entries()) {
        vcpus.push(await bindVcpu(manifest, percpus, i, hart, vm));
      }
    }
  } catch (error) {
    if (percpus !== undefined) await teardown(percpus, error);
    await closeAfterFailure(hal, error);
    throw error;
  }
  const set = percpus;
  let closing: Promise<void> | undefined;
  return Object.freeze({
    hal,
    percpus: set,
    vcpus: Object.freeze(vcpus),
    manifest,
    plugin,
    close(): Promise<void> {
      closing ??= (async () => {
        try {
          await teardown(set);
        } catch (error) {
          // The first failure is the one to report; the backend is closed all the same.
          await closeAfterFailure(hal, error);
          throw error;
        }
        await hal.close();
      })();
      return closing;
    },
  });
}

/**
 * Creates, sets up and binds a manifest's vCPU: the hart must be one the
 * set-up enabled (the per-CPU gate), else a `ManifestError` at its line.
 */
async function bindVcpu(
  manifest: Manifest,
  percpus: PerCpuSet,
  index: number,
  hart: number,
  vm: number,
): Promise<RISCVVCpu> {
  const at = ["vcpus", index, "hart"];
  if (!percpus.harts.includes(hart)) {
    throw manifestError(
      manifest,
      at,
      `hart ${hart} is not set up, so no vCPU can be bound there; the set-up has ${
        percpus.harts.length === 0 ? "no harts" : `harts ${percpus.harts.join(", ")}`
      }`,
    );
  }
  const percpu = percpus.get(hart);
  if (!percpu.isEnabled()) {
    throw manifestError(
      manifest,
      at,
      `hart ${hart} is ${percpu.state}, and a vCPU is created only on an enabled hart ` +
        `(percpu.enable is false, or --no-enable was given)`,
    );
  }
  const vcpu = await RISCVVCpu.create(percpu, { vmId: vm });
  await vcpu.setup();
  await vcpu.bind();
  return vcpu;
}

/**
 * Leaves every hart as the set-up found it: bound vCPUs unbound, enabled
 * harts disabled, initialized ones restored. Every hart is attempted; the
 * first failure is thrown (after `error`, when one is being reported: then
 * failures only join its `rollbackErrors`).
 */
async function teardown(percpus: PerCpuSet, error?: unknown): Promise<void> {
  const failures = await releaseAll(percpus);
  if (failures.length === 0) return;
  if (error === undefined) throw failures[0];
  addRollbackErrors(error, failures);
}

/**
 * `parseManifest` and `loadManifest`: YAML text to a validated
 * {@linkcode Manifest}, every mistake a `ManifestError` with file, line,
 * column and key path.
 *
 * Reading YAML needs `--allow-env=LOG_TOKENS,LOG_STREAM` (the `yaml`
 * package reads them); `loadManifest` also needs `--allow-read`.
 *
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap } from "yaml";
import { ManifestError } from "../hal/errors.ts";
import { causeNumber } from "../hal/trap_bits.ts";
import { parseHex } from "../hal/hex.ts";
import type { CustomPolicySpec } from "../percpu/policy.ts";
import { BUILTIN_PLUGINS, isModuleSpecifier } from "./registry.ts";
import { type Manifest, MANIFEST_VERSION, type ManifestPerCpu } from "./schema.ts";
import { attachSource, ManifestSource } from "./source.ts";
import { closest } from "./suggest.ts";

type Path = (string | number)[];

const ROOT_KEYS = ["version", "backend", "percpu", "vcpus", "record", "server"] as const;
const VCPU_KEYS = ["hart", "vm"] as const;
const BACKEND_KEYS = ["plugin", "options"] as const;
const PERCPU_KEYS = ["harts", "policy", "enable"] as const;
const POLICY_KEYS = [
  "hedeleg",
  "hideleg",
  "hcounteren",
  "sie",
  "guestPageTableLevels",
  "delegation",
] as const;
const POLICY_NAMES = ["arceos", "kvm", "kvm-6.12"] as const;
const LISTEN_REGEXP = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d{1,5})$/i;

function suggestion(key: string, allowed: readonly string[]): string {
  const close = closest(key, allowed);
  return close === undefined ? "" : ` (did you mean "${close}"?)`;
}

function describe(node: unknown): string {
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return "nothing";
    // JSON quoting escapes control characters: a manifest's text never reaches a terminal raw.
    return typeof value === "string" ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
  }
  return "nothing";
}

/** Walks the YAML tree with the source at hand for errors. */
class Validator {
  constructor(readonly source: ManifestSource) {}

  fail(path: Path, detail: string, atKey = false): never {
    throw this.source.error(path, detail, undefined, atKey);
  }

  map(node: unknown, path: Path, allowed: readonly string[]): Map<string, unknown> {
    if (!isMap(node)) this.fail(path, `expected a map, got ${describe(node)}`);
    const out = new Map<string, unknown>();
    for (const pair of (node as YAMLMap).items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== "string") {
        this.fail(path, `keys must be strings, got ${describe(pair.key)}`);
      }
      if (!allowed.includes(key)) {
        const where = path.length === 0 ? "the manifest" : `"${path.join(".")}"`;
        this.fail(
          [...path, key],
          `unknown key ${JSON.stringify(key)} in ${where}${
            suggestion(key, allowed)
          }; expected one of ${allowed.map((k) => `"${k}"`).join(", ")}`,
          true,
        );
      }
      out.set(key, pair.value);
    }
    return out;
  }

  scalar(node: unknown, path: Path): unknown {
    if (!isScalar(node)) this.fail(path, `expected a value, got ${describe(node)}`);
    return (node as { value: unknown }).value;
  }

  string(node: unknown, path: Path): string {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== "string" || value.length === 0) {
      this.fail(path, `expected a non-empty string, got ${describe(node)}`);
    }
    return value;
  }

  list(node: unknown, path: Path): unknown[] {
    if (!isSeq(node)) this.fail(path, `expected a list, got ${describe(node)}`);
    return [...(node as { items: unknown[] }).items];
  }
}

function parseVersion(v: Validator, node: unknown): 1 {
  if (node === undefined) v.fail([], `missing key "version"; add "version: ${MANIFEST_VERSION}"`);
  const version = v.scalar(node, ["version"]);
  if (version !== MANIFEST_VERSION) {
    v.fail(
      ["version"],
      `unsupported manifest version ${
        JSON.stringify(version)
      }; this release reads version ${MANIFEST_VERSION}`,
    );
  }
  return 1;
}

function parseBackend(v: Validator, node: unknown): Manifest["backend"] {
  if (node === undefined) {
    v.fail([], 'missing key "backend"; add "backend: { plugin: emulator }"');
  }
  const backend = v.map(node, ["backend"], BACKEND_KEYS);
  if (!backend.has("plugin")) v.fail(["backend"], 'missing key "plugin" (e.g. "plugin: emulator")');
  const plugin = v.string(backend.get("plugin"), ["backend", "plugin"]);
  if (!BUILTIN_PLUGINS.has(plugin) && !isModuleSpecifier(plugin)) {
    v.fail(
      ["backend", "plugin"],
      `unknown plugin ${JSON.stringify(plugin)}${
        suggestion(plugin, [...BUILTIN_PLUGINS.keys()])
      }; ` +
        `built-in plugins: ${[...BUILTIN_PLUGINS.keys()].map((n) => `"${n}"`).join(", ")}, ` +
        `or a module specifier such as "./my_backend.ts"`,
    );
  }
  const optionsNode = backend.get("options");
  let options: unknown = undefined;
  if (optionsNode !== undefined && optionsNode !== null) {
    if (!isMap(optionsNode) && !(isScalar(optionsNode) && optionsNode.value === null)) {
      v.fail(
        ["backend", "options"],
        `expected a map of plugin options, got ${describe(optionsNode)}`,
      );
    }
    options = (optionsNode as { toJSON(): unknown }).toJSON();
  }
  return Object.freeze({ plugin, options });
}

function parseCauses(
  v: Validator,
  node: unknown,
  path: Path,
  kind: "exception" | "interrupt",
): (number | string)[] {
  return v.list(node, path).map((item, i) => {
    const value = v.scalar(item, [...path, i]);
    const cause = typeof value === "number" || typeof value === "string"
      ? causeNumber(value, kind)
      : undefined;
    if (cause === undefined || !Number.isInteger(cause) || cause < 0 || cause > 63) {
      v.fail(
        [...path, i],
        `${JSON.stringify(value)} is not an ${kind} name (e.g. "${
          kind === "exception" ? "ILLEGAL_INSTRUCTION" : "SUPERVISOR_EXTERNAL"
        }") or a cause number from 0 to 63`,
      );
    }
    return value as number | string;
  });
}

function parsePolicy(v: Validator, node: unknown): ManifestPerCpu["policy"] {
  const path = ["percpu", "policy"];
  if (node === undefined) return "arceos";
  if (isScalar(node)) {
    const value = node.value;
    if ((POLICY_NAMES as readonly unknown[]).includes(value)) {
      return value as (typeof POLICY_NAMES)[number];
    }
    v.fail(
      path,
      `unknown policy ${describe(node)}; expected ${
        POLICY_NAMES.map((n) => `"${n}"`).join(", ")
      } or a custom policy map`,
    );
  }
  const policy = v.map(node, path, POLICY_KEYS);
  for (const key of ["hedeleg", "hideleg", "hcounteren", "sie"]) {
    if (!policy.has(key)) v.fail(path, `a custom policy needs "${key}"`);
  }
  const hcounterenNode = policy.get("hcounteren");
  const hcounteren = v.scalar(hcounterenNode, [...path, "hcounteren"]);
  if (typeof hcounteren === "string") {
    try {
      parseHex(hcounteren);
    } catch (error) {
      v.fail([...path, "hcounteren"], (error as Error).message);
    }
  } else if (
    typeof hcounteren !== "number" || !Number.isSafeInteger(hcounteren) || hcounteren < 0
  ) {
    v.fail([...path, "hcounteren"], `expected a "0x…" value, got ${describe(hcounterenNode)}`);
  }
  const custom: CustomPolicySpec = {
    hedeleg: parseCauses(v, policy.get("hedeleg"), [...path, "hedeleg"], "exception"),
    hideleg: parseCauses(v, policy.get("hideleg"), [...path, "hideleg"], "interrupt"),
    hcounteren: hcounteren as string | number,
    sie: parseCauses(v, policy.get("sie"), [...path, "sie"], "interrupt"),
  };
  const levelsNode = policy.get("guestPageTableLevels");
  if (levelsNode !== undefined) {
    const levels = v.scalar(levelsNode, [...path, "guestPageTableLevels"]);
    if (levels !== 3 && levels !== 4 && levels !== 5) {
      v.fail([...path, "guestPageTableLevels"], `expected 3, 4 or 5, got ${describe(levelsNode)}`);
    }
    custom.guestPageTableLevels = levels;
  }
  const delegationNode = policy.get("delegation");
  if (delegationNode !== undefined) {
    const delegation = v.scalar(delegationNode, [...path, "delegation"]);
    if (delegation !== "per-cpu" && delegation !== "per-vcpu") {
      v.fail(
        [...path, "delegation"],
        `expected "per-cpu" or "per-vcpu", got ${describe(delegationNode)}`,
      );
    }
    custom.delegation = delegation;
  }
  return Object.freeze(custom);
}

function parsePerCpu(v: Validator, node: unknown): ManifestPerCpu {
  if (node === undefined || (isScalar(node) && node.value === null)) {
    return Object.freeze({ harts: "all", policy: "arceos", enable: true });
  }
  const percpu = v.map(node, ["percpu"], PERCPU_KEYS);
  let harts: ManifestPerCpu["harts"] = "all";
  const hartsNode = percpu.get("harts");
  if (hartsNode !== undefined && !(isScalar(hartsNode) && hartsNode.value === "all")) {
    if (!isSeq(hartsNode)) {
      v.fail(
        ["percpu", "harts"],
        `expected "all" or a list of hart ids, got ${describe(hartsNode)}`,
      );
    }
    const seen = new Set<number>();
    harts = Object.freeze(
      v.list(hartsNode, ["percpu", "harts"]).map((item, i) => {
        const id = v.scalar(item, ["percpu", "harts", i]);
        if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
          v.fail(
            ["percpu", "harts", i],
            `expected a hart id (an integer ≥ 0), got ${describe(item)}`,
          );
        }
        if (seen.has(id)) v.fail(["percpu", "harts", i], `hart ${id} is listed twice`);
        seen.add(id);
        return id;
      }),
    );
  }
  let enable = true;
  const enableNode = percpu.get("enable");
  if (enableNode !== undefined) {
    const value = v.scalar(enableNode, ["percpu", "enable"]);
    if (typeof value !== "boolean") {
      v.fail(["percpu", "enable"], `expected true or false, got ${describe(enableNode)}`);
    }
    enable = value;
  }
  return Object.freeze({ harts, policy: parsePolicy(v, percpu.get("policy")), enable });
}

function parseVcpus(v: Validator, node: unknown): Manifest["vcpus"] {
  if (node === undefined || (isScalar(node) && node.value === null)) return Object.freeze([]);
  const harts = new Set<number>();
  return Object.freeze(
    v.list(node, ["vcpus"]).map((item, i) => {
      const entry = v.map(item, ["vcpus", i], VCPU_KEYS);
      const id = (key: "hart" | "vm"): number => {
        const valueNode = entry.get(key);
        if (valueNode === undefined) v.fail(["vcpus", i], `missing key "${key}"`);
        const value = v.scalar(valueNode, ["vcpus", i, key]);
        if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
          v.fail(["vcpus", i, key], `expected an integer ≥ 0, got ${describe(valueNode)}`);
        }
        return value;
      };
      const hart = id("hart");
      if (harts.has(hart)) {
        v.fail(["vcpus", i, "hart"], `hart ${hart} has a vCPU already; one vCPU is bound per hart`);
      }
      harts.add(hart);
      return Object.freeze({ hart, vm: id("vm") });
    }),
  );
}

function parseServer(v: Validator, node: unknown): { listen: string } {
  const server = v.map(node, ["server"], ["listen"]);
  const listen = v.string(server.get("listen"), ["server", "listen"]);
  const match = LISTEN_REGEXP.exec(listen);
  if (match === null || Number(match[2]) > 65535) {
    v.fail(["server", "listen"], `expected "host:port" such as "127.0.0.1:8787", got "${listen}"`);
  }
  return Object.freeze({ listen });
}

/**
 * Parses and validates a manifest. Synchronous; the plugin's own options are
 * validated later, by `boot`.
 *
 * @example Usage
 * ```ts
 * import { parseManifest } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const manifest = parseManifest(
 *   "version: 1\nbackend:\n  plugin: emulator\n  options: { harts: 4 }\n",
 *   { file: "rvhv.yaml" },
 * );
 * strictEqual(manifest.backend.plugin, "emulator");
 * strictEqual(manifest.percpu.policy, "arceos");
 * ```
 *
 * @param text The YAML text.
 * @param options The file name for errors.
 * @returns The manifest.
 * @throws {ManifestError} For YAML syntax errors, duplicate keys, unknown
 *   keys, wrong types and unknown plugins, naming file, line, column and key path.
 */
export function parseManifest(text: string, options: { file?: string } = {}): Manifest {
  const file = options.file ?? "<manifest>";
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const source = new ManifestSource(file, doc, lines);
  const problem = doc.errors[0];
  if (problem !== undefined) {
    const { line, column } = source.positionOf(problem.pos[0]);
    throw new ManifestError({
      file,
      line,
      column,
      path: [],
      detail: `YAML syntax error: ${problem.message.split("\n")[0]}`,
      cause: problem,
    });
  }
  const refused = source.firstRefusedNode();
  if (refused !== undefined) {
    const { line, column } = source.positionOf(refused.offset);
    throw new ManifestError({ file, line, column, path: refused.path, detail: refused.detail });
  }
  const v = new Validator(source);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    v.fail([], 'the manifest is empty; it needs at least "version: 1" and "backend:"');
  }
  const root = v.map(doc.contents, [], ROOT_KEYS);
  const manifest: Manifest = Object.freeze({
    version: parseVersion(v, root.get("version")),
    file,
    backend: parseBackend(v, root.get("backend")),
    percpu: parsePerCpu(v, root.get("percpu")),
    vcpus: parseVcpus(v, root.get("vcpus")),
    ...(root.has("record") ? { record: v.string(root.get("record"), ["record"]) } : {}),
    ...(root.has("server") ? { server: parseServer(v, root.get("server")) } : {}),
  });
  attachSource(manifest, source);
  return manifest;
}

/**
 * The largest manifest `loadManifest` reads: 256 KiB, checked before reading.
 * A real manifest is a few hundred bytes; the limit keeps a mistaken path
 * (a log, a device) from stalling the reader or eating memory.
 */
export const MAX_MANIFEST_BYTES = 256 * 1024;

/**
 * Reads and parses a manifest file. Only a regular file of at most 256 KiB
 * is read, both checked before reading (a FIFO, `/dev/zero` or a directory
 * is refused at once).
 *
 * Requires `--allow-read` for the file and `--allow-env=LOG_TOKENS,LOG_STREAM`.
 *
 * @example Usage
 * ```ts
 * import { loadManifest } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/rvhv.yaml`;
 * await Deno.writeTextFile(path, "version: 1\nbackend:\n  plugin: emulator\n  options: { harts: 4 }\n");
 * const manifest = await loadManifest(path);
 * strictEqual(manifest.file, path); // errors and relative paths refer to it
 * strictEqual(manifest.backend.plugin, "emulator");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param path The file.
 * @returns The manifest.
 * @throws {ManifestError} When the file is missing, not a regular file,
 *   larger than 256 KiB, unreadable or not a valid manifest.
 */
export async function loadManifest(path: string): Promise<Manifest> {
  const refuse = (detail: string, cause?: unknown) =>
    new ManifestError({ file: path, line: 0, column: 0, path: [], detail, cause });
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw refuse(
        `cannot read it as a manifest: it is ${
          info.isDirectory ? "a directory" : "not a regular file (a FIFO, socket or device)"
        }`,
      );
    }
    if (info.size > MAX_MANIFEST_BYTES) {
      throw refuse(
        `cannot read it as a manifest: it is ${info.size} bytes, and a manifest is at most ` +
          `${MAX_MANIFEST_BYTES} bytes (256 KiB)`,
      );
    }
    text = await readAtMost(path, MAX_MANIFEST_BYTES);
  } catch (error) {
    if (error instanceof ManifestError) throw error;
    throw refuse(`cannot read the file: ${(error as Error).message}`, error);
  }
  return parseManifest(text, { file: path });
}

/** Reads a file's text, refusing one that grew past `limit` bytes since it was checked. */
async function readAtMost(path: string, limit: number): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(limit + 1);
  let length = 0;
  while (length < buffer.length) {
    const read = await file.read(buffer.subarray(length));
    if (read === null) break;
    length += read;
  }
  if (length > limit) {
    throw new ManifestError({
      file: path,
      line: 0,
      column: 0,
      path: [],
      detail: `cannot read it as a manifest: it grew past ${limit} bytes (256 KiB) while read`,
    });
  }
  return new TextDecoder().decode(buffer.subarray(0, length));
}

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

import { isScalar, LineCounter, parseDocument } from "yaml";
import { ManifestError } from "../hal/errors.ts";
import { checkShape } from "../hal/_shape.ts";
import type { CustomPolicySpec } from "../percpu/policy.ts";
import {
  type Manifest,
  MANIFEST_SHAPE,
  MANIFEST_VERSION,
  type ManifestPerCpu,
  PERCPU_DEFAULTS,
} from "./schema.ts";
import { attachSource, ManifestSource } from "./source.ts";

/** A manifest's data as YAML gives it, once it has {@linkcode MANIFEST_SHAPE}. */
interface ManifestData {
  backend: { plugin: string; options?: unknown };
  percpu?: {
    harts?: "all" | number[];
    policy?: ManifestPerCpu["policy"];
    enable?: boolean;
  } | null;
  vcpus?: { hart: number; vm: number }[] | null;
  record?: string;
  server?: { listen: string };
}

/** The manifest a checked document describes, defaults filled in, frozen. */
function manifestOf(data: ManifestData, file: string, source: ManifestSource): Manifest {
  const percpu = data.percpu ?? {};
  const policy = percpu.policy ?? PERCPU_DEFAULTS.policy;
  const harts = new Set<number>();
  const vcpus = (data.vcpus ?? []).map(({ hart, vm }, i) => {
    // What a shape cannot say: one vCPU per hart.
    if (harts.has(hart)) {
      throw source.error(
        ["vcpus", i, "hart"],
        `hart ${hart} has a vCPU already; one vCPU is bound per hart`,
      );
    }
    harts.add(hart);
    return Object.freeze({ hart, vm });
  });
  return Object.freeze({
    version: MANIFEST_VERSION,
    file,
    backend: Object.freeze({
      plugin: data.backend.plugin,
      options: data.backend.options ?? undefined,
    }),
    percpu: Object.freeze({
      harts: Array.isArray(percpu.harts) ? Object.freeze(percpu.harts) : PERCPU_DEFAULTS.harts,
      policy: typeof policy === "string" ? policy : Object.freeze(policy as CustomPolicySpec),
      enable: percpu.enable ?? PERCPU_DEFAULTS.enable,
    }),
    vcpus: Object.freeze(vcpus),
    ...(data.record === undefined ? {} : { record: data.record }),
    ...(data.server === undefined ? {} : { server: Object.freeze({ listen: data.server.listen }) }),
  });
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
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw source.error([], 'the manifest is empty; it needs at least "version: 1" and "backend:"');
  }
  const data = doc.toJS();
  checkShape(MANIFEST_SHAPE, data, [], {
    noun: "key",
    fail: (path, detail, atKey) => {
      throw source.error(path, detail, undefined, atKey);
    },
  });
  const manifest = manifestOf(data as ManifestData, file, source);
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

/**
 * The manifest a command line names: a file, or `-` for standard input
 * (`cat lab.yaml | rvhv up -`). Standard input is not a regular file, so
 * only the size limit applies; relative `plugin:` and `record:` paths of a
 * manifest read from it resolve against the working directory.
 *
 * @module
 */

import { ManifestError } from "../hal/errors.ts";
import { loadManifest, MAX_MANIFEST_BYTES, parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";

/** The name standard input goes by in messages and in `manifest.file`. */
export const STDIN_MANIFEST = "<stdin>";

/**
 * Reads the manifest at `path`, or from standard input for `-`.
 *
 * @param path A manifest path, or `-`.
 * @param stdin Where `-` reads from. Default: the process's standard input.
 * @returns The manifest.
 * @throws {ManifestError} As `loadManifest` does; for standard input, when
 *   more than 256 KiB arrive.
 */
export async function readManifestArg(
  path: string,
  stdin?: ReadableStream<Uint8Array>,
): Promise<Manifest> {
  if (path !== "-") return await loadManifest(path);
  stdin ??= Deno.stdin.readable;
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    length += chunk.length;
    if (length > MAX_MANIFEST_BYTES) {
      throw new ManifestError({
        file: STDIN_MANIFEST,
        line: 0,
        column: 0,
        path: [],
        detail: `cannot read it as a manifest: more than ${MAX_MANIFEST_BYTES} bytes ` +
          `(256 KiB) arrived on standard input`,
      });
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return parseManifest(new TextDecoder().decode(bytes), { file: STDIN_MANIFEST });
}

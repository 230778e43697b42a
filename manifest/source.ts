/**
 * Where each value of a manifest came from, so errors found after parsing
 * (at boot, by a plugin) still point at file:line:column.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
} from "yaml";
import { ManifestError } from "../hal/errors.ts";
import type { Manifest } from "./schema.ts";

/** A 1-based position. */
export interface Position {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** A node {@linkcode ManifestSource.firstRefusedNode} found: where, and what is wrong. */
export interface RefusedNode {
  /** Its path in the document. */
  readonly path: (string | number)[];
  /** Its offset in the text. */
  readonly offset: number;
  /** What is wrong, for the message. */
  readonly detail: string;
}

/** The parsed YAML behind a manifest. */
export class ManifestSource {
  /** The file name. */
  readonly file: string;
  #doc: Document.Parsed;
  #lines: LineCounter;

  /**
   * Wraps a parsed document.
   *
   * @param file The file name.
   * @param doc The YAML document.
   * @param lines Its line counter.
   */
  constructor(file: string, doc: Document.Parsed, lines: LineCounter) {
    this.file = file;
    this.#doc = doc;
    this.#lines = lines;
  }

  /**
   * The position of an offset in the text.
   *
   * @param offset A character offset.
   * @returns Line and column, 1-based.
   */
  positionOf(offset: number): Position {
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }

  /**
   * The position of the value at `path`, or of the deepest part of it that
   * exists. Scalars point at the value; maps and lists at their key, which is
   * where a reader looks for them.
   *
   * @param path Keys and list indices from the root.
   * @param atKey Point at the last key itself, even for a scalar value.
   * @returns The position.
   */
  locate(path: readonly (string | number)[], atKey = false): Position {
    let node: unknown = this.#doc.contents;
    let keyOffset: number | undefined;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) =>
          isScalar(p.key) && String(p.key.value) === String(step)
        );
        if (pair === undefined) break;
        keyOffset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
        node = pair.value;
      } else if (isSeq(node) && typeof step === "number" && step < node.items.length) {
        node = node.items[step];
        keyOffset = undefined;
      } else {
        break;
      }
    }
    if (atKey && keyOffset !== undefined) return this.positionOf(keyOffset);
    if (isScalar(node) && node.range) return this.positionOf(node.range[0]);
    if (keyOffset !== undefined) return this.positionOf(keyOffset);
    const range = (node as Node | null)?.range;
    return this.positionOf(range?.[0] ?? 0);
  }

  /**
   * The first node manifests refuse, in one walk of the document: a YAML
   * alias (`*name`: a value is written where it is used, and aliases let a
   * small text expand into a huge one) or a key that repeats in its map (the
   * YAML parser's own check compares every key with every other one: 6.5 s
   * for 20,000 keys).
   *
   * @returns The node's path and offset, and what is wrong, or `undefined`.
   */
  firstRefusedNode(): RefusedNode | undefined {
    const walk = (node: unknown, path: (string | number)[]): RefusedNode | undefined => {
      if (isAlias(node)) {
        return {
          path,
          offset: node.range?.[0] ?? 0,
          detail: `YAML aliases (*${node.source}) are not read in manifests; write the value out`,
        };
      }
      if (isMap(node)) {
        const seen = new Set<string>();
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
          const keyPath = [...path, key ?? "?"];
          if (key !== undefined && seen.has(key)) {
            return {
              path: keyPath,
              offset: (pair.key as Node).range?.[0] ?? 0,
              detail: `duplicate key ${JSON.stringify(key)}: each key may appear once in a map`,
            };
          }
          if (key !== undefined) seen.add(key);
          const found = walk(pair.key, keyPath) ?? walk(pair.value, keyPath);
          if (found) return found;
        }
      } else if (isSeq(node)) {
        for (let i = 0; i < node.items.length; i++) {
          const found = walk(node.items[i], [...path, i]);
          if (found) return found;
        }
      }
      return undefined;
    };
    return walk(this.#doc.contents, []);
  }

  /**
   * A {@linkcode ManifestError} at `path`.
   *
   * @param path The offending value's path.
   * @param detail What is wrong.
   * @param cause The underlying error.
   * @param atKey Point at the key rather than its value (for unknown keys).
   * @returns The error.
   */
  error(
    path: readonly (string | number)[],
    detail: string,
    cause?: unknown,
    atKey = false,
  ): ManifestError {
    const { line, column } = this.locate(path, atKey);
    return new ManifestError({ file: this.file, line, column, path, detail, cause });
  }
}

const sources: WeakMap<Manifest, ManifestSource> = new WeakMap();

/**
 * Remembers where a manifest came from.
 *
 * @param manifest The manifest.
 * @param source Its YAML.
 */
export function attachSource(manifest: Manifest, source: ManifestSource): void {
  sources.set(manifest, source);
}

/**
 * A {@linkcode ManifestError} at `path` of a manifest: with file:line:column
 * when it was parsed from text, with line 0 otherwise.
 *
 * @param manifest The manifest.
 * @param path The offending value's path.
 * @param detail What is wrong.
 * @param cause The underlying error.
 * @returns The error.
 */
export function manifestError(
  manifest: Manifest,
  path: readonly (string | number)[],
  detail: string,
  cause?: unknown,
): ManifestError {
  const source = sources.get(manifest);
  if (source !== undefined) return source.error(path, detail, cause);
  return new ManifestError({ file: manifest.file, line: 0, column: 0, path, detail, cause });
}

/**
 * Manifests: parse and load a YAML manifest, and boot the system it
 * describes.
 *
 * @module
 */

export { loadManifest, parseManifest } from "./parse.ts";
export type { Manifest } from "./schema.ts";
export { boot, type System } from "./boot.ts";

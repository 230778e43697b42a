/**
 * Manifests: YAML that wires a backend and its options to the harts,
 * validated with file:line:column errors, and booted into a system.
 *
 * @module
 */

export { loadManifest, parseManifest, type ParseManifestOptions } from "./parse.ts";
export {
  type Manifest,
  MANIFEST_VERSION,
  type ManifestBackend,
  type ManifestPerCpu,
  type ManifestServer,
} from "./schema.ts";
export { boot, type BootOptions, type System } from "./boot.ts";
export { BUILTIN_PLUGINS, isModuleSpecifier, loadPlugin } from "./registry.ts";

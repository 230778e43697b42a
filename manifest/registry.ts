/**
 * The plugin registry: built-in backends by name, imported lazily, and
 * third-party backends by module specifier.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { HalPlugin } from "../hal/types.ts";

/**
 * The built-in backends: name → lazy import of the plugin. Importing the core
 * never loads a backend that is not used.
 *
 * @example Usage
 * ```ts
 * import { BUILTIN_PLUGINS } from "./registry.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const plugin = await BUILTIN_PLUGINS.get("emulator")!();
 * strictEqual(plugin.name, "emulator");
 * ```
 */
export const BUILTIN_PLUGINS: ReadonlyMap<string, () => Promise<HalPlugin<unknown>>> = new Map([
  [
    "emulator",
    async () => (await import("../plugins/emulator/mod.ts")).default as HalPlugin<unknown>,
  ],
  [
    "replay",
    async () => (await import("../plugins/replay/mod.ts")).default as HalPlugin<unknown>,
  ],
  [
    "qemu",
    async () => (await import("../plugins/qemu/mod.ts")).default as HalPlugin<unknown>,
  ],
]);

/**
 * How a module specifier starts (a relative or absolute path, `file:`,
 * `npm:`, `jsr:`, `http:` or `https:`), as opposed to a built-in name.
 *
 * @example Usage
 * ```ts
 * import { SPECIFIER_REGEXP } from "./registry.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(SPECIFIER_REGEXP.test("npm:@acme/rvhv-backend") && !SPECIFIER_REGEXP.test("qemu"));
 * ```
 */
export const SPECIFIER_REGEXP: RegExp = /^(?:\.{1,2}\/|\/|file:|npm:|jsr:|https?:)/;

/**
 * Whether a `backend.plugin` value is a module specifier rather than a
 * built-in name: a relative or absolute path, or a `file:`, `npm:`, `jsr:`,
 * `http:` or `https:` URL.
 *
 * @example Usage
 * ```ts
 * import { isModuleSpecifier } from "./registry.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isModuleSpecifier("./my_backend.ts"), true);
 * strictEqual(isModuleSpecifier("emulator"), false);
 * ```
 *
 * @param plugin The value.
 * @returns `true` for a specifier.
 */
export function isModuleSpecifier(plugin: string): boolean {
  return SPECIFIER_REGEXP.test(plugin);
}

/**
 * Checks that a module's default export is a {@linkcode HalPlugin}.
 *
 * @param value The default export.
 * @returns What is wrong, or `undefined` when it is a plugin.
 */
export function whyNotPlugin(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") {
    return "its default export is not a HalPlugin object";
  }
  const plugin = value as Record<string, unknown>;
  if (typeof plugin.name !== "string") return 'its default export has no string "name"';
  if (typeof plugin.describe !== "string") return 'its default export has no string "describe"';
  if (
    !Array.isArray(plugin.permissions) || !plugin.permissions.every((p) => typeof p === "string")
  ) {
    return 'its default export has no string array "permissions"';
  }
  if (typeof plugin.parseOptions !== "function") {
    return 'its default export has no "parseOptions" function';
  }
  if (typeof plugin.create !== "function") return 'its default export has no "create" function';
  return undefined;
}

/**
 * Loads a plugin: a built-in by name, or a module's default export.
 * Relative paths resolve against `baseFile`'s folder.
 *
 * Importing a module specifier needs the permissions to read (or fetch) it.
 *
 * @example Usage
 * ```ts
 * import { loadPlugin } from "./registry.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual((await loadPlugin("emulator")).name, "emulator");
 * ```
 *
 * @param plugin A built-in name or a module specifier.
 * @param baseFile The manifest's path, for relative specifiers.
 * @returns The plugin.
 * @throws {Error} With a message saying what is wrong (unknown name, failed
 *   import, not a plugin); `boot` turns it into a `ManifestError`.
 */
export async function loadPlugin(plugin: string, baseFile?: string): Promise<HalPlugin<unknown>> {
  const builtin = BUILTIN_PLUGINS.get(plugin);
  if (builtin !== undefined) return await builtin();
  if (!isModuleSpecifier(plugin)) {
    throw new Error(
      `unknown plugin "${plugin}"; built-in plugins: ${
        [...BUILTIN_PLUGINS.keys()].map((n) => `"${n}"`).join(", ")
      }, or give a module specifier (./backend.ts, npm:…, jsr:…)`,
    );
  }
  let url = plugin;
  if (plugin.startsWith(".") || plugin.startsWith("/")) {
    const base = baseFile === undefined || baseFile.startsWith("<") ? "." : resolve(baseFile, "..");
    url = pathToFileURL(isAbsolute(plugin) ? plugin : resolve(base, plugin)).href;
  }
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    // Deno's message quotes the offending source line: for a file that is not a module
    // (a text file, a config) that would print its content. Keep the first line and where.
    const lines = String((error as Error).message).split("\n");
    const where = lines.find((line) => line.trim().startsWith("at "))?.trim();
    throw new Error(
      `cannot import plugin module ${JSON.stringify(plugin)}: ${lines[0]}${
        where === undefined ? "" : ` (${where})`
      }; is it a JavaScript or TypeScript module?`,
      { cause: error },
    );
  }
  const why = whyNotPlugin(module.default);
  if (why !== undefined) {
    throw new Error(`module ${JSON.stringify(plugin)} is not a HalPlugin: ${why}`);
  }
  return module.default as HalPlugin<unknown>;
}

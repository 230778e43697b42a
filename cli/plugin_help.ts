/**
 * What `--help` adds when a command is given a manifest (or a trace): the
 * chosen backend plugin, what it is, and the Deno permissions it needs on
 * top of the CLI's own.
 *
 * @module
 */

import { isModuleSpecifier, loadPlugin } from "../manifest/registry.ts";
import { loadManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import { readTraceHeader } from "../trace/reader.ts";
import type { HalPlugin } from "../hal/types.ts";

/** The permissions every command needs (manifests and the YAML parser). */
export const CLI_PERMISSIONS: readonly string[] = Object.freeze([
  "--allow-read=<the manifest's folder>",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
]);

/**
 * One paragraph per plugin: its name, description and permissions.
 *
 * @param plugin The plugin.
 * @param source Where it was chosen (a manifest path).
 * @returns The text.
 */
export function describePlugin(plugin: HalPlugin<unknown>, source?: string): string {
  const permissions = plugin.permissions.length > 0 ? plugin.permissions.join(" ") : "none";
  return `${
    source === undefined ? "" : `Backend of ${source}: `
  }${plugin.name}: ${plugin.describe}\n` +
    `  permissions it needs: ${permissions}\n`;
}

async function manifestOf(path: string): Promise<Manifest> {
  if (path.endsWith(".jsonl")) {
    // A trace: its header holds the manifest it was recorded from.
    const manifest = readTraceHeader(path).manifest as Manifest | undefined;
    if (manifest === undefined) throw new Error("the trace's header records no manifest");
    return manifest;
  }
  return await loadManifest(path);
}

/**
 * The `--help` addendum for the manifests (or traces) on a command line:
 * each one's backend plugin and the permissions it needs. Problems loading
 * them are reported in the text, not thrown: help always works.
 *
 * @param paths Manifest or trace paths given to the command.
 * @returns The text (empty without paths).
 */
export async function pluginHelp(paths: readonly string[]): Promise<string> {
  let text = "";
  for (const path of paths) {
    if (path === "-") {
      text += "\nBackend of the manifest on standard input: not read by --help\n";
      continue;
    }
    try {
      const manifest = await manifestOf(path);
      const specifier = manifest.backend.plugin;
      if (isModuleSpecifier(specifier)) {
        // Importing it would run its code: help describes it without loading it.
        text +=
          `\nBackend of ${path}: the module plugin ${
            JSON.stringify(specifier)
          }, not loaded here (its code runs only with --allow-plugin); ` +
          `it runs with every permission the command is given\n`;
        continue;
      }
      const plugin = await loadPlugin(specifier, manifest.file);
      text += "\n" + describePlugin(plugin, path);
    } catch (error) {
      text += `\nBackend of ${path}: cannot tell (${(error as Error).message})\n`;
    }
  }
  if (text !== "") text += `  and the CLI itself: ${CLI_PERMISSIONS.join(" ")}\n`;
  return text;
}

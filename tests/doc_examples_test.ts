/**
 * The documentation rule (docs/development.md, "Documentation is tested"), checked on what
 * `deno doc` sees: every entry point's `@module` doc and every symbol it
 * exports carry a titled `@example` (`@example Usage`, or a more specific
 * title) with a code block, and every `@module` doc says which permissions
 * the entry point needs. `deno test --doc` runs the blocks, so together
 * they keep every example true.
 */

import { deepStrictEqual } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The entry points held to the rule; adding one is one line. */
const ENTRY_POINTS: readonly string[] = [
  "mod.ts",
  "plugins/replay/mod.ts",
  "testing/mod.ts",
  "http/mod.ts",
  "plugins/emulator/mod.ts",
  "plugins/qemu/mod.ts",
];

/** The parts of `deno doc --json` (format version 2) this test reads. */
interface DocTag {
  kind: string;
  doc?: string;
}
interface DocJson {
  version: number;
  nodes: Record<string, {
    module_doc?: { doc?: string; tags?: DocTag[] };
    symbols: { name: string; declarations: { jsDoc?: { tags?: DocTag[] } }[] }[];
  }>;
}

/** Whether a tag is an `@example` with a title on its first line and a code block after it. */
function isTitledExample(tag: DocTag): boolean {
  if (tag.kind !== "example" || tag.doc === undefined) return false;
  const [title = "", ...rest] = tag.doc.split("\n");
  return title.trim() !== "" && !title.trimStart().startsWith("```") &&
    rest.some((line) => line.trimStart().startsWith("```"));
}

async function denoDoc(entries: readonly string[]): Promise<DocJson> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...entries],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`Cannot run deno doc: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

Deno.test("every entry point's module doc and exported symbols have a titled @example", async () => {
  const doc = await denoDoc(ENTRY_POINTS);
  deepStrictEqual(doc.version, 2, "deno doc's JSON format changed; update this test");
  const missing: string[] = [];
  const seen: string[] = [];
  // A name exported from two entry points (recordHal from the core and from
  // ./replay) carries its declarations in one of them only.
  const documentedSomewhere = new Set<string>();
  for (const node of Object.values(doc.nodes)) {
    for (const symbol of node.symbols) {
      if (
        symbol.declarations.some((d) => (d.jsDoc?.tags ?? []).some(isTitledExample))
      ) documentedSomewhere.add(symbol.name);
    }
  }
  for (const [specifier, node] of Object.entries(doc.nodes)) {
    const entry = specifier.slice(ROOT.href.length);
    seen.push(entry);
    if (!(node.module_doc?.tags ?? []).some(isTitledExample)) missing.push(`${entry}: @module`);
    if (!/permission/i.test(node.module_doc?.doc ?? "")) {
      missing.push(`${entry}: @module (no word on permissions)`);
    }
    for (const symbol of node.symbols) {
      const documented = symbol.declarations.some((declaration) =>
        (declaration.jsDoc?.tags ?? []).some(isTitledExample)
      );
      if (!documented && !documentedSomewhere.has(symbol.name)) {
        missing.push(`${entry}: ${symbol.name}`);
      }
    }
  }
  deepStrictEqual(seen.sort(), [...ENTRY_POINTS].sort(), "deno doc documented other files");
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} lack a doc comment with a titled @example (or a word on permissions):\n  ${
        missing.join("\n  ")
      }`,
    );
  }
});

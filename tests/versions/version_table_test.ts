/**
 * docs/qemu-versions.md's tables are generated from the profiles: the
 * committed file must equal what scripts/version_table.ts generates now, so
 * a change to a profile that is not written down fails here.
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { probeDifferences, regenerateAll, updateDoc } from "../../scripts/version_table.ts";

Deno.test("docs/qemu-versions.md's tables equal what scripts/version_table.ts generates now", async () => {
  const files = await regenerateAll();
  deepStrictEqual(files.map((f) => f.path), ["docs/qemu-versions.md"]);
  for (const { path, now, wanted } of files) {
    if (wanted === now) continue;
    const a = now.split("\n");
    const b = wanted.split("\n");
    const line = a.findIndex((text, i) => text !== b[i]);
    throw new Error(
      `${path} is stale (first difference at line ${line + 1}): run "deno task version-table"\n` +
        `  committed: ${a[line]}\n  generated: ${b[line]}`,
    );
  }
});

Deno.test("the version table's generated sections are between their markers, and only there", () => {
  const doc = "intro\n<!-- generated:probes -->\nold\n<!-- end generated:probes -->\noutro\n";
  strictEqual(
    updateDoc(doc, new Map([["probes", "new\n"]])),
    "intro\n<!-- generated:probes -->\nnew\n<!-- end generated:probes -->\noutro\n",
  );
  throws(
    () =>
      updateDoc("no markers\n", new Map([["modes", "x\n"]]), ["modes"], "docs/qemu-versions.md"),
    /Cannot update docs\/qemu-versions\.md: the markers of section "modes" are missing/,
  );
});

Deno.test("every read-back difference in the table names the behaviour that causes it", () => {
  const differences = probeDifferences();
  ok(differences.length > 40, `${differences.length} differences`);
  deepStrictEqual(
    differences.filter((d) => d.because.length === 0).map((d) => d.probe.label),
    [],
  );
});

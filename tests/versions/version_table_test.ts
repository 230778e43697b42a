/**
 * docs/qemu-versions.md is generated from the profiles: the committed file
 * must equal what scripts/version_table.ts generates now, so a change to a
 * profile that is not written down fails here.
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { DOC_PATH, probeDifferences, regenerate, updateDoc } from "../../scripts/version_table.ts";

const DOC = new URL(`../../${DOC_PATH}`, import.meta.url);

Deno.test("docs/qemu-versions.md equals what scripts/version_table.ts generates now", async () => {
  const committed = await Deno.readTextFile(DOC);
  const generated = await regenerate(committed);
  if (generated !== committed) {
    const a = committed.split("\n");
    const b = generated.split("\n");
    const line = a.findIndex((text, i) => text !== b[i]);
    throw new Error(
      `${DOC_PATH} is stale (first difference at line ${
        line + 1
      }): run "deno task version-table"\n` +
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
    () => updateDoc("no markers\n", new Map([["modes", "x\n"]])),
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

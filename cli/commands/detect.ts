/**
 * `detect`: probe every hart of a manifest's backend for the H extension.
 *
 * @module
 */

import { detectReport } from "../../detect/h_extension.ts";
import { createBackend } from "../../manifest/boot.ts";
import { readManifestArg } from "../manifest_arg.ts";
import { type Command, EXIT, renderTable, UsageError } from "../io.ts";
import { defineCommand } from "../command_line.ts";
import { onInterrupt } from "../signals.ts";

const HELP = `Usage: rvhv detect <manifest> [--json] [--hart N]

Creates the manifest's backend (no set-up is run) and probes each hart for the
H extension as the reference does: read hgatp (0x680); an illegal-instruction
trap means "absent". The answer is cross-checked against misa bit 7.

Options:
  --hart N      probe only hart N
  --json        print JSON instead of a table
  -h, --help    show this help

Exit codes: 0 every probed hart has H (and misa agrees), 1 some hart lacks H
or its probe and misa disagree, 2 usage or manifest error, 3 backend failure.
`;

/** The `detect` command. */
export const detectCommand: Command = defineCommand({
  name: "detect",
  summary: "probe each hart for the H extension (hgatp trap probe, misa cross-check)",
  help: HELP,
  options: {
    hart: { type: "string" },
  },
  takes: "manifest",
  async run({ values, path, trust }, io): Promise<number> {
    let only: number | undefined;
    if (values.hart !== undefined) {
      only = Number(values.hart);
      if (!Number.isInteger(only) || only < 0) {
        throw new UsageError(`--hart needs a hart id, got "${values.hart}"`);
      }
    }
    const manifest = await readManifestArg(path, io.stdin);
    const { hal } = await createBackend(manifest, trust);
    trust.onBackend(hal);
    const unregister = onInterrupt(() => hal.close());
    try {
      const harts = only === undefined ? hal.harts : [only];
      if (only !== undefined && !hal.harts.includes(only)) {
        throw new UsageError(`--hart ${only}: the backend has harts ${hal.harts.join(", ")}`);
      }
      const reports = [];
      for (const hart of harts) reports.push(await detectReport(hal, hart));
      if (values.json) {
        io.out(JSON.stringify({ backend: hal.info(), harts: reports }, null, 2) + "\n");
      } else {
        io.out(renderTable(
          ["hart", "H", "probe", "misa.H", "agree"],
          reports.map((r) => [
            String(r.hart),
            r.present ? "yes" : "no",
            r.probeTrap === undefined ? "hgatp read" : `trap ${r.probeTrap}`,
            r.misaH === undefined ? "?" : r.misaH ? "yes" : "no",
            r.agree ? "yes" : "NO",
          ]),
        ));
      }
      return reports.every((r) => r.present && r.agree) ? EXIT.ok : EXIT.check;
    } finally {
      await hal.close();
      unregister();
    }
  },
});

#!/usr/bin/env -S deno run --allow-read --allow-write=tests/fixtures/traces --allow-env=LOG_TOKENS,LOG_STREAM
/**
 * Records the reference traces under `tests/fixtures/traces/`: the per-CPU
 * set-up, enable and restore of QEMU 7.2's `virt` machine with 4 harts
 * (firmware `none` and `opensbi`) and of an H-less CPU.
 *
 * Until the QEMU backend exists the traces come from the emulator's
 * `qemu-7.2` profile (what QEMU 7.2 reads back, quirks included); once it
 * does, run with `--backend qemu` (and QEMU's permissions) to replace them
 * with recordings of the real thing:
 *
 * ```sh
 * deno run --allow-read --allow-write=tests/fixtures/traces --allow-env=LOG_TOKENS,LOG_STREAM \
 *   scripts/record_fixtures.ts [--backend emulator|qemu] [--out tests/fixtures/traces]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { boot } from "../manifest/boot.ts";
import { parseManifest } from "../manifest/parse.ts";

/** One fixture: a machine and what the trace is called. */
interface Fixture {
  readonly name: string;
  readonly describe: string;
  readonly harts: number;
  readonly isa: string;
  readonly firmware: "none" | "opensbi";
}

const FIXTURES: readonly Fixture[] = [
  {
    name: "qemu72_4harts_none",
    describe: "4 harts with H, M-mode reset state (no firmware)",
    harts: 4,
    isa: "rv64imafdch",
    firmware: "none",
  },
  {
    name: "qemu72_4harts_opensbi",
    describe: "4 harts with H, as OpenSBI 1.1 leaves them",
    harts: 4,
    isa: "rv64imafdch",
    firmware: "opensbi",
  },
  {
    name: "qemu72_no_h",
    describe: "4 harts without H: every hart's hgatp probe traps, nothing is written",
    harts: 4,
    isa: "rv64imafdc",
    firmware: "opensbi",
  },
];

/** The manifest of a fixture on a backend, as YAML. */
function manifestText(fixture: Fixture, backend: string): string {
  const options = backend === "emulator"
    ? `{ harts: ${fixture.harts}, isa: ${fixture.isa}, profile: qemu-7.2, firmware: ${fixture.firmware} }`
    : `{ harts: ${fixture.harts}, isa: ${fixture.isa}, firmware: ${fixture.firmware} }`;
  return `# ${fixture.describe}
version: 1
backend:
  plugin: ${backend}
  options: ${options}
percpu:
  harts: all
  policy: arceos
  enable: true
`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backend: { type: "string", default: "emulator" },
      out: { type: "string", default: "tests/fixtures/traces" },
    },
    strict: true,
  });
  for (const fixture of FIXTURES) {
    const manifest = parseManifest(manifestText(fixture, values.backend), {
      file: `scripts/record_fixtures.ts#${fixture.name}`,
    });
    const path = `${values.out}/${fixture.name}.jsonl`;
    let outcome = "set up, enabled and restored";
    try {
      const system = await boot(manifest, { record: path });
      await system.close();
    } catch (error) {
      // A failing set-up (the H-less CPU) is what that fixture records.
      outcome = `failed as expected: ${(error as Error).message}`;
      if (fixture.isa.includes("h")) throw error;
    }
    console.log(`${path}: ${fixture.describe}; ${outcome}`);
  }
}

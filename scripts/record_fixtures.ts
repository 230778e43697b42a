#!/usr/bin/env -S deno run --allow-read --allow-write=tests/fixtures/traces --allow-env --allow-run --allow-net
/**
 * Records the reference traces under `tests/fixtures/traces/`: the per-CPU
 * set-up, enable and restore of a `virt` machine with 4 harts (firmware
 * `none` and `opensbi`) and of an H-less CPU, for each QEMU version the
 * emulator models: `qemu72_*` (QEMU 7.2, OpenSBI 1.1) and `qemu10_*` (QEMU
 * 10.0, OpenSBI 1.6).
 *
 * With `--backend qemu` (the committed fixtures) the traces are recordings
 * of the real binaries: QEMU 7.2 is `RVHV_QEMU` or `qemu-system-riscv64`,
 * QEMU 10.0 is `RVHV_QEMU10` or the launcher `scripts/install-qemu10.sh`
 * installs; `--qemu` overrides the binary when one version is recorded. The
 * recorded manifests name no binary (the script passes it as `RVHV_QEMU`),
 * so a trace replays anywhere. With `--backend emulator` (the default) the
 * same runs come from the matching emulator profile.
 *
 * ```sh
 * deno run --allow-read --allow-write=tests/fixtures/traces --allow-env --allow-run --allow-net \
 *   scripts/record_fixtures.ts --backend qemu [--version 7.2|10.0] [--qemu <binary>] \
 *   [--out tests/fixtures/traces]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { boot } from "../manifest/boot.ts";
import { parseManifest } from "../manifest/parse.ts";

/** One QEMU version: its fixtures' prefix, emulator profile and default binary. */
interface FixtureVersion {
  readonly version: "7.2" | "10.0";
  readonly prefix: string;
  readonly profile: string;
  readonly opensbi: string;
  readonly binary: () => string;
}

/** The versions fixtures are recorded for. */
export const FIXTURE_VERSIONS: readonly FixtureVersion[] = [
  {
    version: "7.2",
    prefix: "qemu72",
    profile: "qemu-7.2",
    opensbi: "OpenSBI 1.1",
    binary: () => Deno.env.get("RVHV_QEMU") || "qemu-system-riscv64",
  },
  {
    version: "10.0",
    prefix: "qemu10",
    profile: "qemu-10.0",
    opensbi: "OpenSBI 1.6",
    binary: () =>
      Deno.env.get("RVHV_QEMU10") ||
      `${Deno.env.get("HOME") ?? "/root"}/.cache/rvhv/qemu-10.0/qemu-system-riscv64`,
  },
];

/** One fixture: a machine and what the trace is called. */
export interface Fixture {
  readonly name: string;
  readonly describe: string;
  readonly version: FixtureVersion;
  readonly harts: number;
  readonly isa: string;
  readonly firmware: "none" | "opensbi";
}

/** Every fixture, version by version. */
export const FIXTURES: readonly Fixture[] = FIXTURE_VERSIONS.flatMap((version) => [
  {
    name: `${version.prefix}_4harts_none`,
    describe: `QEMU ${version.version}: 4 harts with H, M-mode reset state (no firmware)`,
    version,
    harts: 4,
    isa: "rv64imafdch",
    firmware: "none" as const,
  },
  {
    name: `${version.prefix}_4harts_opensbi`,
    describe: `QEMU ${version.version}: 4 harts with H, as ${version.opensbi} leaves them`,
    version,
    harts: 4,
    isa: "rv64imafdch",
    firmware: "opensbi" as const,
  },
  {
    name: `${version.prefix}_no_h`,
    describe: `QEMU ${version.version}: 4 harts without H: every hart's hgatp probe traps, ` +
      "nothing is written",
    version,
    harts: 4,
    isa: "rv64imafdc",
    firmware: "opensbi" as const,
  },
]);

/** The manifest of a fixture on a backend, as YAML. */
function manifestText(fixture: Fixture, backend: string): string {
  const options = backend === "emulator"
    ? `{ harts: ${fixture.harts}, isa: ${fixture.isa}, profile: ${fixture.version.profile}, firmware: ${fixture.firmware} }`
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
      version: { type: "string" },
      qemu: { type: "string" },
      out: { type: "string", default: "tests/fixtures/traces" },
    },
    strict: true,
  });
  const versions = FIXTURE_VERSIONS.filter((v) =>
    values.version === undefined || v.version === values.version
  );
  if (versions.length === 0) {
    throw new TypeError(`Cannot record fixtures: unknown --version "${values.version}"`);
  }
  if (values.qemu !== undefined && versions.length > 1) {
    throw new TypeError("Cannot record fixtures: --qemu needs --version (one binary per version)");
  }
  for (const fixture of FIXTURES.filter((f) => versions.includes(f.version))) {
    if (values.backend === "qemu") {
      // The manifest names no binary: the QEMU plugin takes it from RVHV_QEMU.
      Deno.env.set("RVHV_QEMU", values.qemu ?? fixture.version.binary());
    }
    const manifest = parseManifest(manifestText(fixture, values.backend), {
      file: `scripts/record_fixtures.ts#${fixture.name}`,
    });
    const path = `${values.out}/${fixture.name}.jsonl`;
    let outcome = "set up, enabled and restored";
    try {
      const system = await boot(manifest, { record: path });
      const found = String(system.hal.info().profile ?? system.hal.info().version);
      await system.close();
      if (found !== fixture.version.profile) {
        throw new Error(
          `Cannot record ${fixture.name}: the backend is ${found}, not ${fixture.version.profile}`,
        );
      }
    } catch (error) {
      // A failing set-up (the H-less CPU) is what that fixture records.
      outcome = `failed as expected: ${(error as Error).message}`;
      if (fixture.isa.includes("h")) throw error;
    }
    console.log(`${path}: ${fixture.describe}; ${outcome}`);
  }
}

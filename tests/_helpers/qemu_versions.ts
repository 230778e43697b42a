/**
 * The QEMU binaries a test can run per version: QEMU 7.2 (the host's,
 * `RVHV_QEMU` or `qemu-system-riscv64`) and QEMU 10.0 (`RVHV_QEMU10`, else
 * the launcher `scripts/install-qemu10.sh` writes by default).
 *
 * A version whose binary is not there is skipped with the reason printed.
 * Under `RVHV_REQUIRE_QEMU=1` the host's QEMU must work; QEMU 10.0 must work
 * whenever `RVHV_QEMU10` names it (CI sets it once it installs QEMU 10).
 */

import { QEMU_BINARY, REQUIRE_QEMU } from "./qemu.ts";

/** One QEMU binary and what it said it is. */
export interface QemuVersion {
  /** `major.minor`, e.g. `"7.2"`. */
  version: string;
  /** The binary. */
  binary: string;
  /** `--version`'s first line, or why it cannot run. */
  detail: string;
  /** Whether it runs. */
  available: boolean;
  /** Whether a missing or broken binary must fail the test instead of skipping it. */
  required: boolean;
}

function probe(binary: string): { available: boolean; detail: string; version?: string } {
  try {
    const out = new Deno.Command(binary, { args: ["--version"], stdout: "piped", stderr: "piped" })
      .outputSync();
    const first = new TextDecoder().decode(out.stdout).split("\n")[0] ?? "";
    const match = /version (\d+)\.(\d+)/.exec(first);
    if (!out.success || match === null) {
      return { available: false, detail: `"${binary} --version" failed (exit ${out.code})` };
    }
    return { available: true, detail: first, version: `${match[1]}.${match[2]}` };
  } catch (error) {
    return {
      available: false,
      detail: error instanceof Deno.errors.NotFound
        ? `"${binary}" is not installed`
        : `"${binary}" cannot be run: ${(error as Error).message}`,
    };
  }
}

function defaultQemu10(): string | undefined {
  const home = Deno.env.get("HOME");
  if (home === undefined) return undefined;
  const launcher = `${home}/.cache/rvhv/qemu-10.0/qemu-system-riscv64`;
  try {
    return Deno.statSync(launcher).isFile ? launcher : undefined;
  } catch {
    return undefined;
  }
}

let cached: QemuVersion[] | undefined;
const printed = new Set<string>();

/**
 * The two versions the native oracle runs on, in order 7.2, 10.0. The
 * host binary counts as whichever version it reports.
 */
export function qemuVersions(): QemuVersion[] {
  if (cached !== undefined) return cached;
  const host = probe(QEMU_BINARY);
  const named10 = Deno.env.get("RVHV_QEMU10") || undefined;
  const binary10 = named10 ?? defaultQemu10();
  const ten = binary10 === undefined
    ? {
      available: false,
      detail: "QEMU 10.0 is not installed (set RVHV_QEMU10, or run scripts/install-qemu10.sh)",
    }
    : probe(binary10);
  const versions: QemuVersion[] = [
    {
      version: "7.2",
      binary: QEMU_BINARY,
      detail: host.detail,
      available: host.available && host.version === "7.2",
      required: REQUIRE_QEMU,
    },
    {
      version: "10.0",
      binary: binary10 ?? "qemu-system-riscv64 (10.0)",
      detail: ten.detail,
      available: ten.available && ten.version === "10.0",
      required: named10 !== undefined,
    },
  ];
  // The host binary may itself be a QEMU 10.0.
  if (host.available && host.version === "10.0" && !versions[1]!.available) {
    versions[1] = { ...versions[1]!, binary: QEMU_BINARY, detail: host.detail, available: true };
  }
  for (const entry of versions) {
    if (!entry.available && entry.detail.startsWith("QEMU emulator")) {
      entry.detail = `${entry.binary} is not QEMU ${entry.version}: ${entry.detail}`;
    }
  }
  cached = versions;
  return versions;
}

/**
 * Registers a test for one QEMU version: run when its binary is there,
 * otherwise skipped with the reason in its name (printed), or failing when
 * the version is required.
 */
export function qemuVersionTest(
  entry: QemuVersion,
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  const full = `QEMU ${entry.version}: ${name}`;
  const sanitize = { sanitizeOps: true, sanitizeResources: true } as const;
  if (entry.available) {
    Deno.test({ name: full, fn, ...sanitize });
  } else if (entry.required) {
    Deno.test({
      name: full,
      fn() {
        throw new Error(`QEMU ${entry.version} is required but ${entry.detail}`);
      },
    });
  } else {
    if (!printed.has(entry.version)) {
      printed.add(entry.version);
      console.error(`QEMU ${entry.version} tests skipped: ${entry.detail}`);
    }
    Deno.test({ name: `${full} (skipped: ${entry.detail})`, ignore: true, fn });
  }
}

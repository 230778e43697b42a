/**
 * Whether QEMU tests can run here, and how they behave when they cannot:
 * skipped with a printed reason locally, failing under `RVHV_REQUIRE_QEMU=1`
 * (which `.ci/run` sets), so CI can never pass by skipping them.
 *
 * Two QEMU versions are tested: 7.2 (`RVHV_QEMU`, else `qemu-system-riscv64`:
 * Debian 12's package) and 10.0 (`RVHV_QEMU10`, else the launcher
 * `scripts/install-qemu10.sh` writes to `$HOME/.cache/rvhv/qemu-10.0`). Each
 * is checked to be the version its tests expect.
 */

import {
  DEFAULT_QEMU_BOOT_TIMEOUT_MS,
  DEFAULT_QEMU_TIMEOUT_MS,
} from "../../plugins/qemu/options.ts";
import { scaled } from "./time_scale.ts";

/** The binary the 7.2 tests use: `RVHV_QEMU`, else `qemu-system-riscv64`. */
export const QEMU_BINARY: string = Deno.env.get("RVHV_QEMU") || "qemu-system-riscv64";

/** Where `scripts/install-qemu10.sh` puts its launcher by default. */
export const DEFAULT_QEMU10_LAUNCHER: string = `${
  Deno.env.get("HOME") ?? "/root"
}/.cache/rvhv/qemu-10.0/qemu-system-riscv64`;

/** The binary the 10.0 tests use: `RVHV_QEMU10`, else the default launcher path. */
export const QEMU10_BINARY: string = Deno.env.get("RVHV_QEMU10") || DEFAULT_QEMU10_LAUNCHER;

/** Whether QEMU tests must run (CI). */
export const REQUIRE_QEMU: boolean = Deno.env.get("RVHV_REQUIRE_QEMU") === "1";

/** One QEMU version under test: its binary and the emulator profile that models it. */
export interface QemuTarget {
  /** `major.minor`, e.g. "10.0". */
  readonly version: "7.2" | "10.0";
  /** The binary. */
  readonly binary: string;
  /** The emulator profile that models this version. */
  readonly profile: "qemu-7.2" | "qemu-10.0";
  /** How to get the binary, for skip messages. */
  readonly install: string;
  /** Extensions off by default that the profile models, for an ISA with more than the defaults. */
  readonly extraExtensions: readonly string[];
}

/** QEMU 7.2, the default binary. */
export const QEMU_7_2: QemuTarget = Object.freeze({
  version: "7.2",
  binary: QEMU_BINARY,
  profile: "qemu-7.2",
  install: "apt-get install --no-install-recommends qemu-system-misc",
  extraExtensions: ["sscofpmf", "svpbmt"],
});

/** QEMU 10.0, installed by the project's script. */
export const QEMU_10_0: QemuTarget = Object.freeze({
  version: "10.0",
  binary: QEMU10_BINARY,
  profile: "qemu-10.0",
  install: "scripts/install-qemu10.sh, or set RVHV_QEMU10",
  extraExtensions: ["svpbmt"],
});

/** Both versions, in order: the matrix of the differential, conformance and fixture tests. */
export const QEMU_TARGETS: readonly QemuTarget[] = Object.freeze([QEMU_7_2, QEMU_10_0]);

/** What `qemuStatus()` found. */
export interface QemuStatus {
  available: boolean;
  /** `qemu-system-riscv64 --version`'s first line, when it runs. */
  version?: string;
  /** Why QEMU tests cannot run, when not available. */
  reason?: string;
}

const cached = new Map<string, QemuStatus>();
const printed = new Set<string>();

/** Probes a target's binary once (`--version`) and checks its version. */
export function qemuStatus(target: QemuTarget = QEMU_7_2): QemuStatus {
  const known = cached.get(target.binary + target.version);
  if (known !== undefined) return known;
  let status: QemuStatus;
  try {
    const out = new Deno.Command(target.binary, {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const first = new TextDecoder().decode(out.stdout).split("\n")[0] ?? "";
    const found = /version (\d+\.\d+)/.exec(first)?.[1];
    status = !out.success
      ? { available: false, reason: `"${target.binary} --version" failed (exit ${out.code})` }
      : found !== target.version
      ? {
        available: false,
        version: first,
        reason: `"${target.binary}" is QEMU ${found ?? "of an unknown version"}, ` +
          `not ${target.version} (${target.install})`,
      }
      : { available: true, version: first };
  } catch (error) {
    status = {
      available: false,
      reason: error instanceof Deno.errors.NotFound
        ? `QEMU ${target.version} ("${target.binary}") is not installed (${target.install})`
        : `"${target.binary}" cannot be run: ${(error as Error).message}`,
    };
  }
  cached.set(target.binary + target.version, status);
  return status;
}

function printSkip(target: QemuTarget, reason: string): void {
  if (printed.has(target.version)) return;
  printed.add(target.version);
  console.error(
    `QEMU ${target.version} tests skipped: ${reason} (set RVHV_REQUIRE_QEMU=1 to make this a failure)`,
  );
}

/** Sanitizers on: these tests own sockets and processes. */
const SANITIZE = { sanitizeOps: true, sanitizeResources: true } as const;

/**
 * Registers a test that needs QEMU (7.2 unless a target is given): run when
 * that QEMU is there; otherwise skipped with the reason in its name (and
 * printed once), or failing under `RVHV_REQUIRE_QEMU=1`.
 */
export function qemuTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
  target: QemuTarget = QEMU_7_2,
): void {
  const status = qemuStatus(target);
  if (status.available) {
    Deno.test({ name, fn, ...SANITIZE });
  } else if (REQUIRE_QEMU) {
    Deno.test({
      name,
      fn() {
        throw new Error(
          `QEMU ${target.version} is required (RVHV_REQUIRE_QEMU=1) but ${status.reason}`,
        );
      },
    });
  } else {
    printSkip(target, status.reason!);
    Deno.test({ name: `${name} (skipped: ${status.reason})`, ignore: true, fn });
  }
}

/**
 * For suites that register their own tests (the conformance kit): `undefined`
 * when the target's tests can run; otherwise the reason to skip with (printed
 * once), or, under `RVHV_REQUIRE_QEMU=1`, an error to throw from every test.
 */
export function qemuUnavailable(
  target: QemuTarget = QEMU_7_2,
): { skip: string } | { fail: Error } | undefined {
  const status = qemuStatus(target);
  if (status.available) return undefined;
  if (REQUIRE_QEMU) {
    return {
      fail: new Error(
        `QEMU ${target.version} is required (RVHV_REQUIRE_QEMU=1) but ${status.reason}`,
      ),
    };
  }
  printSkip(target, status.reason!);
  return { skip: status.reason! };
}

/**
 * The QEMU backend's time limits (per exchange, and for native access's
 * boot), stretched by how loaded this machine is now (`time_scale.ts`):
 * what tests give `createQemuHal` and their QEMU manifests, so a busy CI
 * machine does not fail them.
 */
export const QEMU_TEST_TIMEOUTS: { readonly timeoutMs: number; readonly bootTimeoutMs: number } =
  Object.freeze({
    timeoutMs: scaled(DEFAULT_QEMU_TIMEOUT_MS),
    bootTimeoutMs: scaled(DEFAULT_QEMU_BOOT_TIMEOUT_MS),
  });

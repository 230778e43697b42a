/**
 * Whether QEMU tests can run here, and how they behave when they cannot:
 * skipped with a printed reason locally, failing under `RVHV_REQUIRE_QEMU=1`
 * (which `.ci/run` sets), so CI can never pass by skipping them.
 */

/** The binary the tests use: `RVHV_QEMU`, else `qemu-system-riscv64`. */
export const QEMU_BINARY: string = Deno.env.get("RVHV_QEMU") || "qemu-system-riscv64";

/** Whether QEMU tests must run (CI). */
export const REQUIRE_QEMU: boolean = Deno.env.get("RVHV_REQUIRE_QEMU") === "1";

/** What `qemuStatus()` found. */
export interface QemuStatus {
  available: boolean;
  /** `qemu-system-riscv64 --version`'s first line, when available. */
  version?: string;
  /** Why QEMU tests cannot run, when not available. */
  reason?: string;
}

let cached: QemuStatus | undefined;
let printed = false;

/** Probes the QEMU binary once (`--version`). */
export function qemuStatus(): QemuStatus {
  if (cached !== undefined) return cached;
  try {
    const out = new Deno.Command(QEMU_BINARY, {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const first = new TextDecoder().decode(out.stdout).split("\n")[0] ?? "";
    cached = out.success
      ? { available: true, version: first }
      : { available: false, reason: `"${QEMU_BINARY} --version" failed (exit ${out.code})` };
  } catch (error) {
    cached = {
      available: false,
      reason: error instanceof Deno.errors.NotFound
        ? `"${QEMU_BINARY}" is not installed (apt-get install --no-install-recommends qemu-system-misc)`
        : `"${QEMU_BINARY}" cannot be run: ${(error as Error).message}`,
    };
  }
  return cached;
}

/** The QEMU version as `major.minor` ("7.2"), when available. */
export function qemuMajorMinor(): string | undefined {
  const match = /version (\d+)\.(\d+)/.exec(qemuStatus().version ?? "");
  return match === null ? undefined : `${match[1]}.${match[2]}`;
}

function printSkip(reason: string): void {
  if (printed) return;
  printed = true;
  console.error(`QEMU tests skipped: ${reason} (set RVHV_REQUIRE_QEMU=1 to make this a failure)`);
}

/** Sanitizers on: these tests own sockets and processes. */
const SANITIZE = { sanitizeOps: true, sanitizeResources: true } as const;

/**
 * Registers a test that needs QEMU: run when QEMU is there; otherwise
 * skipped with the reason in its name (and printed once), or failing under
 * `RVHV_REQUIRE_QEMU=1`.
 */
export function qemuTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  const status = qemuStatus();
  if (status.available) {
    Deno.test({ name, fn, ...SANITIZE });
  } else if (REQUIRE_QEMU) {
    Deno.test({
      name,
      fn() {
        throw new Error(`QEMU is required (RVHV_REQUIRE_QEMU=1) but ${status.reason}`);
      },
    });
  } else {
    printSkip(status.reason!);
    Deno.test({ name: `${name} (skipped: ${status.reason})`, ignore: true, fn });
  }
}

/**
 * For suites that register their own tests (the conformance kit): `undefined`
 * when QEMU tests can run; otherwise the reason to skip with (printed once),
 * or, under `RVHV_REQUIRE_QEMU=1`, an error to throw from every test.
 */
export function qemuUnavailable(): { skip: string } | { fail: Error } | undefined {
  const status = qemuStatus();
  if (status.available) return undefined;
  if (REQUIRE_QEMU) {
    return { fail: new Error(`QEMU is required (RVHV_REQUIRE_QEMU=1) but ${status.reason}`) };
  }
  printSkip(status.reason!);
  return { skip: status.reason! };
}

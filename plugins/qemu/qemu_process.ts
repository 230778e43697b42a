/**
 * Owning a `qemu-system-riscv64` process: spawning it held at `-S` with QMP
 * and the gdbstub on unix sockets in a private temporary directory (its
 * session folder), telling how it ended, and ending it (politely, then by
 * force) without leaving an orphan or a socket behind.
 *
 * The folder holds `qmp.sock` (this program's QMP connection),
 * `qmp-user.sock` (a second QMP monitor, free for the user's own tools:
 * QEMU serves one client per socket), `gdb.sock` (the gdbstub, one client
 * at a time), and, when asked for, QEMU's log (`-D`), which is kept when
 * the rest of the folder is removed.
 *
 * Every live process is also remembered by the module: when the Deno process
 * exits (`unload`, which `Deno.exit` fires too), any QEMU still running is
 * killed and its directory removed, so even an interrupted program leaves no
 * orphan.
 *
 * Needs `--allow-run=<binary>` and `--allow-write`/`--allow-read` for the
 * temporary directory.
 *
 * @module
 */

import { trackChildProcess } from "../../hal/child_processes.ts";
import { AxError } from "../../hal/errors.ts";

/**
 * What {@linkcode QemuProcess.spawn} starts.
 *
 * @example Usage
 * ```ts
 * import { qemuArguments, type QemuSpawnOptions } from "./qemu_process.ts";
 * import { ok } from "node:assert/strict";
 *
 * const options: QemuSpawnOptions = { binary: "qemu-system-riscv64", harts: 4, cpu: "rv64,h=true", memory: "64M" };
 * const args = qemuArguments(options, "/tmp/rvhv-qemu-1");
 * ok(args.includes("-smp") && args.includes("64M"));
 * ```
 */
export interface QemuSpawnOptions {
  /** The binary (a name looked up on PATH, or a path). */
  binary: string;
  /** Number of harts (`-smp`). */
  harts: number;
  /** The `-cpu` argument. */
  cpu: string;
  /** Guest RAM (`-m`). Default `"128M"`. */
  memory?: string;
  /**
   * Each hart's ACLINT `mtimecmp` at reset, written through MMIO by a
   * `-device loader` per hart (the gdbstub cannot: its memory writes skip
   * MMIO). `undefined` keeps QEMU's reset value 0.
   */
  mtimecmp?: bigint | undefined;
  /** More arguments, appended as given (e.g. `-device loader,…` to place guest code). */
  extraArgs?: readonly string[];
  /** QEMU's logging and tracing (`-d`, `-D`, `-trace`), its log file in the session folder. */
  logging?: QemuLogging | undefined;
  /** `-bios`: `"none"` (default: nothing runs before the host writes state) or `"default"` (QEMU's OpenSBI). */
  bios?: string;
  /**
   * `-kernel`: a path, or the bytes of an ELF, which `spawn` writes into the
   * private directory as `kernel.elf` (next to the sockets).
   */
  kernel?: string | Uint8Array;
}

/**
 * QEMU's own logging and tracing, as the command line may ask for it
 * (`rvhv --qemu-arg`): log items (`-d`), trace event patterns (`-trace`),
 * and the log file's name in the session folder (`-D`; `qemu.log` when
 * items or patterns are given without one).
 *
 * @example Usage
 * ```ts
 * import { qemuArguments, type QemuLogging } from "./qemu_process.ts";
 * import { ok } from "node:assert/strict";
 *
 * const logging: QemuLogging = { items: "int,guest_errors", trace: ["gdbstub_io_*"] };
 * const args = qemuArguments({ binary: "qemu-system-riscv64", harts: 1, cpu: "rv64", logging }, "/t");
 * ok(args.join(" ").includes("-d int,guest_errors -D /t/qemu.log -trace enable=gdbstub_io_*"));
 * ```
 */
export interface QemuLogging {
  /** `-d`: QEMU's log items, comma-separated (`int,guest_errors`). */
  readonly items?: string | undefined;
  /** `-trace`: trace event patterns (`gdbstub_io_*`), each enabled. */
  readonly trace: readonly string[];
  /** `-D`: the log file's name, in the session folder. */
  readonly file?: string | undefined;
}

/** The log file's name when logging is asked for without `-D`. */
export const DEFAULT_LOG_FILE = "qemu.log";

/**
 * The files of a session folder, by what they are.
 *
 * @example Usage
 * ```ts
 * import { SESSION_FILES } from "./qemu_process.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(SESSION_FILES.gdb, "gdb.sock");
 * ```
 */
export const SESSION_FILES: Readonly<
  { qmp: string; userQmp: string; gdb: string; kernel: string }
> = Object.freeze({
  qmp: "qmp.sock",
  userQmp: "qmp-user.sock",
  gdb: "gdb.sock",
  kernel: "kernel.elf",
});

/** The log file of a session's logging, when it asks for one. */
function logFileOf(logging: QemuLogging | undefined): string | undefined {
  if (logging === undefined) return undefined;
  if (logging.file !== undefined) return logging.file;
  return logging.items !== undefined || logging.trace.length > 0 ? DEFAULT_LOG_FILE : undefined;
}

/**
 * Where hart 0's `mtimecmp` sits on `virt` (CLINT base 0x200_0000 + 0x4000; 8 bytes per hart).
 *
 * @example Usage
 * ```ts
 * import { VIRT_MTIMECMP_BASE } from "./qemu_process.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * // Hart 3's mtimecmp on the virt machine's ACLINT.
 * strictEqual(VIRT_MTIMECMP_BASE + 8n * 3n, 0x200_4018n);
 * ```
 */
export const VIRT_MTIMECMP_BASE = 0x200_4000n;

/**
 * The arguments that hold the machine at reset with nothing attached but
 * the sockets of the session folder (and, with `mtimecmp`, one loader
 * device per hart; with `logging`, QEMU's log in the folder).
 *
 * @example Usage
 * ```ts
 * import { qemuArguments } from "./qemu_process.ts";
 * import { ok } from "node:assert/strict";
 *
 * const args = qemuArguments({ binary: "qemu-system-riscv64", harts: 2, cpu: "rv64,h=true" }, "/t");
 * ok(args.includes("-S") && args.includes("unix:/t/qmp.sock,server=on,wait=off"));
 * ```
 *
 * @param options Harts, `-cpu`, RAM, mtimecmp, logging.
 * @param dir The session folder.
 * @returns The command line after the binary.
 */
export function qemuArguments(options: QemuSpawnOptions, dir: string): string[] {
  const escape = (path: string) => path.replaceAll(",", ",,");
  const socket = (name: string) => `unix:${escape(`${dir}/${name}`)},server=on,wait=off`;
  const kernel = options.kernel === undefined ? [] : [
    "-kernel",
    typeof options.kernel === "string" ? options.kernel : `${dir}/${SESSION_FILES.kernel}`,
  ];
  const { logging } = options;
  const logFile = logFileOf(logging);
  const log = [
    ...(logging?.items === undefined ? [] : ["-d", logging.items]),
    ...(logFile === undefined ? [] : ["-D", `${dir}/${logFile}`]),
    ...(logging?.trace ?? []).flatMap((pattern) => ["-trace", `enable=${pattern}`]),
  ];
  const loaders: string[] = [];
  if (options.mtimecmp !== undefined) {
    const data = `0x${BigInt.asUintN(64, options.mtimecmp).toString(16)}`;
    for (let hart = 0; hart < options.harts; hart++) {
      const addr = `0x${(VIRT_MTIMECMP_BASE + 8n * BigInt(hart)).toString(16)}`;
      loaders.push("-device", `loader,addr=${addr},data=${data},data-len=8`);
    }
  }
  return [
    "-machine",
    "virt",
    "-cpu",
    options.cpu,
    "-smp",
    String(options.harts),
    "-m",
    options.memory ?? "128M",
    "-bios",
    options.bios ?? "none",
    "-S",
    "-nodefaults",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "none",
    "-parallel",
    "none",
    // One TCG thread for every hart: nothing runs at -S, and 64 or 512
    // vCPU threads only cost start-up time.
    "-accel",
    "tcg,thread=single",
    "-qmp",
    socket(SESSION_FILES.qmp),
    // A second monitor for the user's own tools while a session is held.
    "-qmp",
    socket(SESSION_FILES.userQmp),
    "-gdb",
    socket(SESSION_FILES.gdb),
    ...kernel,
    ...loaders,
    ...log,
    ...(options.extraArgs ?? []),
  ];
}

const STDERR_LIMIT = 64 * 1024;

function describeStatus(status: Deno.CommandStatus): string {
  return status.signal !== null
    ? `was killed by ${status.signal}`
    : `exited with code ${status.code}`;
}

/**
 * A running QEMU this program started.
 *
 * @example Usage
 * ```ts ignore
 * import { QemuProcess } from "./qemu_process.ts";
 *
 * const qemu = await QemuProcess.spawn({ binary: "qemu-system-riscv64", harts: 2, cpu: "rv64,h=true" });
 * console.log(qemu.pid, qemu.qmpPath, qemu.userQmpPath, qemu.gdbPath);
 * await qemu.stop();
 * ```
 */
export class QemuProcess {
  /** The process id. */
  readonly pid: number;
  /** The command line after the binary. */
  readonly args: readonly string[];
  /** The binary. */
  readonly binary: string;
  /** The session folder: a private directory holding the sockets (and the log). */
  readonly socketDir: string;
  /** The QMP socket this program connects to. */
  readonly qmpPath: string;
  /** The second QMP socket, for the user's own tools. */
  readonly userQmpPath: string;
  /** The gdbstub socket. */
  readonly gdbPath: string;
  /** QEMU's log file (`-D`), when logging was asked for; kept when the folder is removed. */
  readonly logPath: string | undefined;
  /** Settles when the process has ended (and has been reaped). */
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #exit: Deno.CommandStatus | undefined;
  #stderr = "";
  #stderrDone: Promise<void>;
  #stopping: Promise<Deno.CommandStatus> | undefined;
  #dirRemoved = false;

  private constructor(
    binary: string,
    args: string[],
    dir: string,
    logFile: string | undefined,
    child: Deno.ChildProcess,
  ) {
    this.binary = binary;
    this.args = Object.freeze(args);
    this.socketDir = dir;
    this.qmpPath = `${dir}/${SESSION_FILES.qmp}`;
    this.userQmpPath = `${dir}/${SESSION_FILES.userQmp}`;
    this.gdbPath = `${dir}/${SESSION_FILES.gdb}`;
    this.logPath = logFile === undefined ? undefined : `${dir}/${logFile}`;
    this.#child = child;
    this.pid = child.pid;
    this.#stderrDone = this.#collectStderr(child.stderr);
    // On a signal there is no grace period: the CLI is about to exit.
    const untrack = trackChildProcess({ stop: () => this.stop(0), killNow: () => this.killNow() });
    this.status = child.status.then((status) => {
      this.#exit = status;
      untrack();
      return status;
    });
  }

  /**
   * Creates a private directory and starts QEMU in it, held at `-S`.
   *
   * Needs `--allow-run` for the binary and write access to the temporary directory.
   *
   * @example Usage
   * ```ts ignore
   * const qemu = await QemuProcess.spawn({ binary: "qemu-system-riscv64", harts: 4, cpu: "rv64,h=true" });
   * await qemu.stop();
   * ```
   *
   * @param options Binary, harts, `-cpu`.
   * @returns The process (not yet known to be listening).
   * @throws {AxError} Kind `"NotFound"` when the binary does not exist (the
   *   message says how to install it), `"BadState"` when Deno may not run it,
   *   `"Io"` for other spawn failures.
   */
  static async spawn(options: QemuSpawnOptions): Promise<QemuProcess> {
    const dir = await Deno.makeTempDir({ prefix: "rvhv-qemu-" });
    const args = qemuArguments(options, dir);
    let child: Deno.ChildProcess;
    try {
      if (options.kernel instanceof Uint8Array) {
        await Deno.writeFile(`${dir}/${SESSION_FILES.kernel}`, options.kernel, { mode: 0o600 });
      }
      child = new Deno.Command(options.binary, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw spawnError(options.binary, error);
    }
    return new QemuProcess(options.binary, args, dir, logFileOf(options.logging), child);
  }

  async #collectStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        if (this.#stderr.length < STDERR_LIMIT) {
          this.#stderr += decoder.decode(chunk, { stream: true });
        }
      }
    } catch {
      // The pipe broke: keep what arrived.
    }
  }

  /** What QEMU wrote to stderr so far (at most 64 KiB). */
  get stderr(): string {
    return this.#stderr;
  }

  /** How the process ended, or `undefined` while it runs. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#exit;
  }

  /**
   * Waits until the process has ended and its stderr is read, then says how
   * it ended, stderr included.
   *
   * @returns E.g. `exited with code 1: qemu-system-riscv64: …`.
   */
  async describeExit(): Promise<string> {
    const status = await this.status;
    await this.#stderrDone;
    const text = this.#stderr.trim();
    return `${describeStatus(status)}${text === "" ? "" : `: ${text}`}`;
  }

  /**
   * Ends the process: waits up to `graceMs` for it to exit on its own (after a
   * QMP `quit`, say), then sends SIGTERM, then SIGKILL; reaps it, finishes
   * reading stderr and removes the session folder (all but QEMU's log, when
   * there is one). Idempotent.
   *
   * @param graceMs How long to wait before each signal. Default 1000.
   * @returns How it ended.
   */
  stop(graceMs = 1000): Promise<Deno.CommandStatus> {
    this.#stopping ??= (async () => {
      for (const signal of [undefined, "SIGTERM", "SIGKILL"] as const) {
        if (signal !== undefined && this.#exit === undefined) {
          try {
            this.#child.kill(signal);
            // A stopped (SIGSTOP) QEMU would hold SIGTERM until continued.
            if (signal === "SIGTERM") this.#child.kill("SIGCONT");
          } catch {
            // Already gone.
          }
        }
        const ended = await Promise.race([
          this.status.then(() => true),
          new Promise<false>((resolve) => {
            const timer = setTimeout(() => resolve(false), signal === "SIGKILL" ? 10_000 : graceMs);
            this.status.finally(() => clearTimeout(timer));
          }),
        ]);
        if (ended) break;
      }
      const status = await this.status;
      await this.#stderrDone;
      await this.#removeDir();
      return status;
    })();
    return this.#stopping;
  }

  async #removeDir(): Promise<void> {
    if (this.#dirRemoved) return;
    this.#dirRemoved = true;
    if (this.logPath === undefined) {
      await Deno.remove(this.socketDir, { recursive: true }).catch(() => {});
      return;
    }
    for (const name of Object.values(SESSION_FILES)) {
      await Deno.remove(`${this.socketDir}/${name}`).catch(() => {});
    }
  }

  /**
   * Kills the process at once (SIGKILL) and removes its session folder (all
   * but QEMU's log), synchronously: the `unload` path. Prefer
   * {@linkcode QemuProcess.stop}.
   */
  killNow(): void {
    if (this.#exit === undefined) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    if (!this.#dirRemoved) {
      this.#dirRemoved = true;
      const paths = this.logPath === undefined
        ? [this.socketDir]
        : Object.values(SESSION_FILES).map((name) => `${this.socketDir}/${name}`);
      for (const path of paths) {
        try {
          Deno.removeSync(path, { recursive: true });
        } catch {
          // Already removed.
        }
      }
    }
  }
}

/** Turns a spawn failure into an error that says what to do. */
function spawnError(binary: string, error: unknown): AxError {
  if (error instanceof Deno.errors.NotFound) {
    return new AxError(
      "NotFound",
      `Cannot start QEMU: "${binary}" was not found; install it with ` +
        `"apt-get install --no-install-recommends qemu-system-misc" (Debian, Ubuntu), ` +
        `or give its path in the "qemu" option or the RVHV_QEMU environment variable`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    return new AxError(
      "BadState",
      `Cannot start QEMU: Deno may not run "${binary}"; grant --allow-run=${binary}`,
      { cause: error },
    );
  }
  return new AxError("Io", `Cannot start QEMU "${binary}": ${(error as Error).message}`, {
    cause: error,
  });
}

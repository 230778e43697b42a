/**
 * A session with one QEMU: the process (when started here, held at `-S`),
 * the QMP connection (life cycle, discovery, run state) and the gdb
 * connection. It discovers the harts, their H extension, misa and the QEMU
 * version; tracks whether the VM runs (QMP `STOP`/`RESUME` events, and no
 * gdb packet while it does); notices when QEMU or a socket goes away
 * unasked; lends the gdbstub (one client at a time) to another debugger
 * and takes it back; and ends QEMU (or, attached, leaves it as it was found).
 *
 * Needs `--allow-run` for the binary, `--allow-read`, `--allow-write` and
 * `--allow-net` for the unix sockets.
 *
 * @module
 */

import { CSR } from "../../hal/csr_numbers.ts";
import { misaBit } from "../../hal/isa.ts";
import { AxError, CsrTrap, GdbProtocolError } from "../../hal/errors.ts";
import type { RamRegion } from "../../hal/frame_allocator.ts";
import type { HartId } from "../../hal/types.ts";
import { GdbClient } from "./_gdb_client.ts";
import { QmpClient } from "./_qmp_client.ts";
import { connectUnixSocket } from "./_transport.ts";
import type { ResolvedQemuOptions } from "./options.ts";
import { QemuProcess, type QemuSpawnOptions } from "./qemu_process.ts";

/** misa's H bit: which harts have the hypervisor extension. */
const MISA_H = misaBit("h");

/** The guest RAM a started QEMU gets (`-m`), where frames come from under debugger access. */
export const GUEST_RAM: RamRegion = Object.freeze({ base: 0x8000_0000n, size: 128n << 20n });

/** What a start adds to the options' command line: native access's boot, the loader-written mtimecmp. */
export type SessionSpawn = Pick<QemuSpawnOptions, "bios" | "kernel" | "mtimecmp">;

/** One entry of `query-cpus-fast`. */
interface CpuInfoFast {
  "cpu-index": number;
  "qom-path": string;
}

/** `query-status`. */
interface StatusInfo {
  status: string;
  running: boolean;
}

/** What `open` found out, and the clients it connected. */
interface Discovered {
  readonly process: QemuProcess | undefined;
  readonly qmp: QmpClient;
  readonly gdb: GdbClient;
  readonly run: { running: boolean };
  readonly wasRunning: boolean;
  readonly harts: readonly HartId[];
  readonly hasH: readonly boolean[];
  readonly misa: bigint;
}

/**
 * One QEMU, reached over QMP and the gdbstub.
 *
 * @example Usage
 * ```ts ignore
 * import { QemuSession } from "./_session.ts";
 * import { parseQemuOptions } from "./options.ts";
 *
 * const session = await QemuSession.open(parseQemuOptions({ harts: 2 }), {});
 * console.log(session.version, session.harts, session.hasH);
 * await session.close(); // quits QEMU, removes its sockets
 * ```
 */
export class QemuSession {
  /** The process, when this session started QEMU. */
  readonly process: QemuProcess | undefined;
  /** The QMP connection. */
  readonly qmp: QmpClient;
  /** Attached: whether the VM ran before this session stopped it (and runs again on close). */
  readonly wasRunning: boolean;
  /** QEMU's version, `major.minor.micro`. */
  readonly version: string;
  /** The distribution's package string. */
  readonly package: string;
  /** The harts: QEMU's cpu-index, which equals mhartid on `virt`. */
  readonly harts: readonly HartId[];
  /** Whether each hart has the H extension. */
  readonly hasH: readonly boolean[];
  /** Hart 0's misa. */
  readonly misa: bigint;
  /** `performance.now()` when the session began to start QEMU. */
  readonly openedAt: number;
  #options: ResolvedQemuOptions;
  #spawn: SessionSpawn;
  #gdb: GdbClient;
  /** While the gdbstub is lent out: the connection being taken back, once asked for. */
  #lent: { retaking: Promise<void> | undefined } | undefined;
  #run: { running: boolean };
  #resumed: Promise<string> | undefined;
  #lost: AxError | undefined;
  /** Marks the session lost (set up by `#watch`). */
  #lose: ((why: string, cause?: unknown) => void) | undefined;
  #closing = false;

  private constructor(
    options: ResolvedQemuOptions,
    spawn: SessionSpawn,
    openedAt: number,
    found: Discovered,
  ) {
    this.#options = options;
    this.#spawn = spawn;
    this.openedAt = openedAt;
    this.process = found.process;
    this.qmp = found.qmp;
    this.#gdb = found.gdb;
    this.#run = found.run;
    this.wasRunning = found.wasRunning;
    this.harts = found.harts;
    this.hasH = found.hasH;
    this.misa = found.misa;
    const { major, minor, micro } = found.qmp.greeting.version.qemu;
    this.version = `${major}.${minor}.${micro}`;
    this.package = found.qmp.greeting.version.package;
    this.#watch();
  }

  /**
   * Starts QEMU (or attaches to it) and discovers its harts.
   *
   * @param options The backend's options.
   * @param spawn What a start adds to the command line.
   * @returns The session, the VM stopped.
   * @throws {AxError} Kind `"NotFound"` when the binary is missing, `"Io"`
   *   when QEMU fails to start (how it ended included), `"Timeout"` when a
   *   socket does not answer.
   */
  static async open(options: ResolvedQemuOptions, spawn: SessionSpawn): Promise<QemuSession> {
    const openedAt = performance.now();
    return new QemuSession(options, spawn, openedAt, await discover(options, spawn));
  }

  /**
   * Opens a session and prepares it (applies the firmware, boots the
   * agent); a session whose preparation fails is closed again.
   *
   * @typeParam T What the preparation makes.
   * @param options The backend's options.
   * @param spawn What a start adds to the command line.
   * @param prepare Makes the session ready for CSR access.
   * @returns The session and what `prepare` made.
   */
  static async start<T>(
    options: ResolvedQemuOptions,
    spawn: SessionSpawn,
    prepare: (session: QemuSession) => Promise<T>,
  ): Promise<{ session: QemuSession; prepared: T }> {
    const session = await QemuSession.open(options, spawn);
    try {
      return { session, prepared: await prepare(session) };
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  /**
   * The gdb connection. While the gdbstub is lent out
   * ({@linkcode QemuSession.lendGdbstub}) this is the closed one: take it
   * back first ({@linkcode QemuSession.retakeGdbstub}).
   */
  get gdb(): GdbClient {
    return this.#gdb;
  }

  /** Where the gdbstub listens. */
  get gdbPath(): string {
    return this.process?.gdbPath ?? this.#options.attach!.gdb;
  }

  /** Whether the gdbstub is lent out. */
  get gdbLent(): boolean {
    return this.#lent !== undefined;
  }

  /**
   * Lends the gdbstub to another debugger: QEMU serves one gdb client at a
   * time, so this session's connection is closed (without `D`, which would
   * resume the VM). Call it with no exchange in flight; until
   * {@linkcode QemuSession.retakeGdbstub}, nothing may be sent. Idempotent.
   */
  async lendGdbstub(): Promise<void> {
    if (this.#lent !== undefined) return;
    this.#lent = { retaking: undefined };
    await this.#gdb.close();
  }

  /**
   * Takes a lent gdbstub back: stops the VM over QMP if the other debugger
   * left it running (a gdb `continue`, or a `detach`), then connects again
   * and reads the target description afresh. Does nothing when nothing is
   * lent; concurrent calls share one connect.
   *
   * @throws {AxError} Kind `"Timeout"` when the stub does not answer (most
   *   likely the other debugger is still connected); the gdbstub stays lent.
   */
  retakeGdbstub(): Promise<void> {
    const lent = this.#lent;
    if (lent === undefined) return Promise.resolve();
    lent.retaking ??= (async () => {
      if (this.#run.running) {
        await this.qmp.execute("stop");
        this.#run.running = false;
      }
      try {
        this.#gdb = await connectGdb(this.gdbPath, this.#options, this.#run);
      } catch (error) {
        lent.retaking = undefined;
        if (error instanceof AxError && error.kind === "Timeout") {
          throw new AxError(
            "Timeout",
            `Cannot take the gdbstub back: ${error.message} (it serves one client: ` +
              `end the other debugger's session, with "disconnect" in gdb)`,
            { cause: error },
          );
        }
        throw error;
      }
      this.#lent = undefined;
      this.#watchGdb(this.#gdb);
    })();
    return lent.retaking;
  }

  /** Whether the VM runs. */
  get running(): boolean {
    return this.#run.running;
  }

  /** Why the session ended without being asked to, or `undefined`. */
  get lost(): AxError | undefined {
    return this.#lost;
  }

  /**
   * Resumes the VM with gdb's `c`, which QEMU reads after everything sent
   * before it, acknowledgements included (resuming over QMP raced with the
   * acknowledgement of the last gdb reply, and a `+` arriving while the VM
   * runs stops it again). Send no gdb packet until {@linkcode QemuSession.stop}.
   *
   * @param forMs How long the VM may run before the stop reply is overdue.
   */
  resume(forMs: number): void {
    const stopped = this.gdb.resume({ timeoutMs: forMs + 10_000 });
    stopped.catch(() => {}); // surfaced by stop()
    this.#resumed = stopped;
    this.#run.running = true;
  }

  /** Stops the VM over QMP, and waits for the stop reply of a `c` that resumed it. */
  async stop(): Promise<void> {
    const resumed = this.#resumed;
    if (!this.#run.running && resumed === undefined) return;
    await this.qmp.execute("stop");
    this.#run.running = false;
    this.#resumed = undefined;
    if (resumed !== undefined) await resumed;
  }

  /**
   * Adds what happened to QEMU to an I/O failure of an access: how the
   * process ended, or that the backend was closed meanwhile.
   *
   * @param hart The hart accessed.
   * @param error What the access failed with.
   * @param backendClosed Whether the backend has been closed.
   * @returns The error to report.
   */
  async explain(hart: HartId, error: unknown, backendClosed: boolean): Promise<unknown> {
    if (!(error instanceof AxError) || error instanceof CsrTrap) return error;
    if (error.kind !== "Io" || error instanceof GdbProtocolError) return error;
    const process = this.process;
    if (process !== undefined && !this.#closing && process.exitStatus === undefined) {
      // The socket usually reports a dead QEMU before the process is reaped.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        process.status,
        new Promise((resolve) => (timer = setTimeout(resolve, 1000))),
      ]);
      clearTimeout(timer);
      if (process.exitStatus !== undefined) await process.describeExit();
    }
    if (backendClosed && this.#closing) {
      return new AxError("BadState", `Cannot access hart ${hart}: the qemu backend was closed`, {
        hart,
        cause: error,
      });
    }
    const lost = this.#lost;
    if (lost !== undefined) {
      return new AxError("Io", `Cannot access hart ${hart}: ${lost.message}`, {
        hart,
        cause: error,
      });
    }
    return error;
  }

  /**
   * Ends this QEMU and starts it again with the same command line, then
   * prepares the new one (`system_reset` would keep the H CSRs and
   * mstatus.MPP, so a reset is a relaunch). When that fails, this session
   * stays lost, saying why.
   *
   * @typeParam T What the preparation makes.
   * @param prepare Makes the new session ready for CSR access.
   * @returns The new session and what `prepare` made.
   * @throws {AxError} Kind `"InvalidData"` when the new QEMU has another hart count; what opening or preparing threw.
   */
  async relaunch<T>(
    prepare: (session: QemuSession) => Promise<T>,
  ): Promise<{ session: QemuSession; prepared: T }> {
    await this.close();
    let next: QemuSession | undefined;
    try {
      next = await QemuSession.open(this.#options, this.#spawn);
      if (next.harts.length !== this.harts.length) {
        throw new AxError(
          "InvalidData",
          `Cannot reset QEMU: the relaunched machine has ${next.harts.length} harts, not ${this.harts.length}`,
        );
      }
      return { session: next, prepared: await prepare(next) };
    } catch (error) {
      await next?.close();
      this.#lost = new AxError("Io", `relaunching QEMU failed: ${(error as Error).message}`, {
        cause: error,
      });
      throw error;
    }
  }

  /**
   * Ends the session: a QEMU started here is asked to `quit`, then
   * signalled if it does not exit, reaped, and its socket directory
   * removed; an attached QEMU is left running as it was found (resumed if
   * it was running) and only the sockets are closed. Never detaches with
   * `D` (that resumes the VM). Idempotent.
   */
  async close(): Promise<void> {
    this.#closing = true;
    const { process, qmp } = this;
    // Closing the gdb socket leaves the run state alone; `D` would resume the VM.
    await this.#gdb.close();
    if (process !== undefined) {
      // Ask politely when QMP is up; otherwise signal at once.
      const asked = process.exitStatus === undefined && qmp.runstate === "running" &&
        await qmp.execute("quit", undefined, { timeoutMs: 1000 }).then(() => true, () => false);
      await qmp.close();
      await process.stop(asked ? 1000 : 0);
    } else {
      if (this.wasRunning && qmp.runstate === "running" && this.#lost === undefined) {
        await qmp.execute("cont").catch(() => {});
      }
      await qmp.close();
    }
  }

  /** Marks the session lost when QEMU or a socket goes away unasked. */
  #watch(): void {
    const lose = (why: string, cause?: unknown, overwrite = false) => {
      if (this.#closing || (this.#lost !== undefined && !overwrite)) return;
      this.#lost = new AxError("Io", why, { cause });
      // Close both connections so every pending call rejects now.
      void this.#gdb.close();
      void this.qmp.close();
    };
    const process = this.process;
    // How the process ended says more than the socket error it caused.
    process?.status.then(async () => {
      lose(`QEMU (pid ${process.pid}) ${await process.describeExit()}`, undefined, true);
    });
    this.#lose = lose;
    this.#watchGdb(this.#gdb);
    this.qmp.closed.then((reason) => {
      if (reason !== undefined) lose(`the QMP connection to QEMU ended: ${reason.message}`, reason);
    });
  }

  /** Marks the session lost when this gdb connection goes away unasked. */
  #watchGdb(gdb: GdbClient): void {
    gdb.closed.then((reason) => {
      if (reason !== undefined && gdb === this.#gdb) {
        this.#lose?.(`the gdb connection to QEMU ended: ${reason.message}`, reason);
      }
    });
  }
}

/** Connects to a gdbstub and reads its target description, refusing to send while the VM runs. */
async function connectGdb(
  path: string,
  options: ResolvedQemuOptions,
  run: { running: boolean },
  signal?: AbortSignal,
): Promise<GdbClient> {
  const timeoutMs = options.timeoutMs;
  return await GdbClient.connect(
    await connectUnixSocket(path, { retryForMs: timeoutMs, ...(signal ? { signal } : {}) }),
    {
      timeoutMs,
      beforeSend: () => {
        if (run.running) {
          throw new AxError(
            "BadState",
            "Cannot send a gdb packet: the VM is running (it would swallow the packet); stop it first",
          );
        }
      },
    },
  );
}

/** Connects to QEMU (starting it unless attaching) and discovers its harts. */
async function discover(options: ResolvedQemuOptions, spawn: SessionSpawn): Promise<Discovered> {
  const timeoutMs = options.timeoutMs;
  let process: QemuProcess | undefined;
  let qmp: QmpClient | undefined;
  let gdb: GdbClient | undefined;
  const exitAbort = new AbortController();
  // Attach mode: whether this start-up stopped a running VM (to undo on failure).
  let stoppedHere = false;
  try {
    let qmpPath: string;
    let gdbPath: string;
    if (options.attach === undefined) {
      process = await QemuProcess.spawn({
        binary: options.qemu,
        harts: options.harts,
        cpu: options.cpu,
        memory: `${GUEST_RAM.size >> 20n}M`,
        logging: options.logging,
        ...spawn,
      });
      const started = process;
      started.status.then(async () => {
        exitAbort.abort(
          new AxError("Io", `Cannot start QEMU: ${started.binary} ${await started.describeExit()}`),
        );
      });
      qmpPath = process.qmpPath;
      gdbPath = process.gdbPath;
    } else {
      qmpPath = options.attach.qmp;
      gdbPath = options.attach.gdb;
    }
    // A starting QEMU creates its sockets within tens of ms (and an attached
    // one may have been started just now): retry for up to the time-out.
    const retryForMs = timeoutMs;
    // QEMU serves one client per socket: an attached QEMU whose QMP or gdb
    // socket already has a client never answers this one.
    const busy = (what: string) => (error: unknown): never => {
      if (options.attach !== undefined && error instanceof AxError && error.kind === "Timeout") {
        throw new AxError(
          "Timeout",
          `${error.message} (QEMU serves one client per socket: is another ${what} client connected to it?)`,
          { cause: error },
        );
      }
      throw error;
    };
    qmp = await QmpClient.connect(
      await connectUnixSocket(qmpPath, { retryForMs, signal: exitAbort.signal }),
      { timeoutMs },
    ).catch(busy("QMP"));
    const status = await qmp.execute<StatusInfo>("query-status");
    const run = { running: status.running };
    qmp.addEventListener(() => (run.running = true), ["RESUME"]);
    qmp.addEventListener(() => (run.running = false), ["STOP"]);
    if (run.running) {
      await qmp.execute("stop");
      run.running = false;
      stoppedHere = true;
    }
    // The VM is stopped now (a gdb client connecting would stop it too, so this waited for
    // query-status): the gdb connection and its handshake overlap the QMP query of the CPUs.
    const [listed, connected] = await Promise.allSettled([
      qmp.execute<CpuInfoFast[]>("query-cpus-fast"),
      connectGdb(gdbPath, options, run, exitAbort.signal),
    ]);
    if (connected.status === "fulfilled") gdb = connected.value;
    if (listed.status === "rejected") throw listed.reason;
    const client = connected.status === "fulfilled"
      ? connected.value
      : busy("gdb")(connected.reason);
    const cpus = listed.value;
    cpus.sort((a, b) => a["cpu-index"] - b["cpu-index"]);
    const harts = cpus.map((cpu) => cpu["cpu-index"]);
    // Every hart's misa in one pipelined exchange says which have H: the architectural
    // answer, and 64 harts' QMP qom-get of "h" took 15 ms where this takes one round trip.
    const misas = await Promise.all(harts.map((hart) => client.readCsr(hart, CSR.misa)));
    const hasH = misas.map((misa) => (misa & MISA_H) !== 0n);
    const misa = misas[0]!;
    if (process !== undefined && harts.length !== options.harts) {
      throw new AxError(
        "InvalidData",
        `Cannot use QEMU: it reports ${harts.length} harts, ${options.harts} were asked for`,
      );
    }
    return {
      process,
      qmp,
      gdb: client,
      run,
      wasRunning: status.running,
      harts: Object.freeze(harts),
      hasH: Object.freeze(hasH),
      misa,
    };
  } catch (error) {
    await gdb?.close();
    if (process !== undefined) {
      // Prefer saying how QEMU died over the socket error it caused.
      if (qmp !== undefined && process.exitStatus === undefined) {
        await qmp.execute("quit", undefined, { timeoutMs: 500 }).catch(() => {});
      }
      await qmp?.close();
      await process.stop(process.exitStatus !== undefined ? 0 : 200);
      if (!(error instanceof AxError && error.message.startsWith("Cannot start QEMU:"))) {
        throw new AxError(
          "Io",
          `Cannot start QEMU: ${(error as Error).message}; QEMU ${await process.describeExit()}`,
          { cause: error },
        );
      }
    } else {
      // An attached QEMU is left as it was found.
      if (stoppedHere && qmp?.runstate === "running") await qmp.execute("cont").catch(() => {});
      await qmp?.close();
    }
    throw error;
  }
}

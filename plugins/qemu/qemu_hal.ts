/**
 * The QEMU backend's {@linkcode AxVCpuHal}: the harts of a real
 * `qemu-system-riscv64`, reached through QMP (life cycle, discovery) and the
 * gdbstub (every CSR access).
 *
 * Needs `--allow-run` for the QEMU binary, `--allow-read`, `--allow-write`
 * and `--allow-net` for its unix sockets, and optionally
 * `--allow-env=RVHV_QEMU,RVHV_DEBUG`.
 *
 * @module
 */

import { ALL_ONES } from "../../hal/csr_fields.ts";
import { CSR, isReadOnlyCsr } from "../../hal/csr_numbers.ts";
import { AxError, CsrTrap, GdbProtocolError } from "../../hal/errors.ts";
import { type FirmwarePreset, resolveFirmware } from "../../hal/firmware.ts";
import { HostMemory } from "../../hal/host_memory.ts";
import { hex } from "../../hal/hex.ts";
import type {
  AxVCpuHal,
  CsrNum,
  CsrOp,
  CsrPort,
  CsrResult,
  HalInfo,
  HartId,
} from "../../hal/types.ts";
import { GdbClient } from "./_gdb_client.ts";
import { ILLEGAL_INSTRUCTION_TRAP } from "./_gdb_codec.ts";
import { joinReads, readPackets, writePackets } from "./native/memory.ts";
import { parseQemuOptions, type QemuOptions, type ResolvedQemuOptions } from "./options.ts";
import { QemuProcess, VIRT_MTIMECMP_BASE } from "./qemu_process.ts";
import { QmpClient } from "./_qmp_client.ts";
import { connectUnixSocket } from "./_transport.ts";
import {
  agentFor,
  NativeAccess,
  nativeSpawnOptions,
  type NativeStats,
  type RoutedCsrResult,
} from "./native/native_access.ts";

/** Guest RAM QEMU is started with, and where frames come from. */
const RAM_BASE = 0x8000_0000n;
const RAM_SIZE: bigint = 128n << 20n;
const RAM_ARG = "128M";
/** Frames under native access: RAM clear of OpenSBI, the agent and the FDT. */
const NATIVE_FRAMES = { base: 0x8400_0000n, size: 48n << 20n };
/** ArceOS's riscv64 linear-map offset (as the emulator). */

type OpName = "read" | "write" | "set" | "clear";

/** One entry of `query-cpus-fast`. */
interface CpuInfoFast {
  "cpu-index": number;
  "qom-path": string;
  "thread-id"?: number;
}

/** `query-status`. */
interface StatusInfo {
  status: string;
  running: boolean;
}

/** A connection set to one QEMU: its process (when started here), QMP, gdb. */
interface Session {
  readonly process: QemuProcess | undefined;
  readonly qmp: QmpClient;
  readonly gdb: GdbClient;
  /** Whether the VM runs (tracked through STOP/RESUME events). */
  running: boolean;
  /** Attach mode: whether the VM ran before this backend stopped it. */
  readonly wasRunning: boolean;
  readonly version: string;
  readonly package: string;
  readonly harts: readonly HartId[];
  readonly qomPaths: readonly string[];
  readonly hasH: readonly boolean[];
  readonly misa: bigint;
  /** Set when the session ended without being asked to. */
  lost: AxError | undefined;
  /** What became of the firmware's mtimecmp (shown in `info()`). */
  mtimecmp?: string;
  closing: boolean;
}

/** Validates one value and folds it into 64 bits (so `-1n` means all ones). */
function toXlen(value: unknown, where: string): bigint {
  if (typeof value !== "bigint") {
    throw new AxError(
      "InvalidInput",
      `Cannot use ${where}: CSR values are bigint, got ${typeof value}`,
    );
  }
  return value < 0n || value > ALL_ONES ? BigInt.asUintN(64, value) : value;
}

function checkCsrNumber(csr: unknown, where: string): asserts csr is CsrNum {
  if (typeof csr !== "number" || !Number.isInteger(csr) || csr < 0 || csr > 0xfff) {
    throw new AxError(
      "InvalidInput",
      `Cannot use ${where}: CSR number ${String(csr)} is not an integer from 0x000 to 0xfff`,
    );
  }
}

/** The ISA string misa describes (`rv64` + its single-letter extensions). */
function isaOfMisa(misa: bigint): string {
  let letters = "";
  for (const letter of "imafdqcbvh") {
    if ((misa >> BigInt(letter.charCodeAt(0) - 97)) & 1n) letters += letter;
  }
  return `rv64${letters}`;
}

/** The emulator profile that models a QEMU version (`major.minor` must match), when there is one. */
function profileOf(version: string): string | undefined {
  const majorMinor = version.split(".").slice(0, 2).join(".");
  return majorMinor === "7.2" || majorMinor === "10.0" ? `qemu-${majorMinor}` : undefined;
}

/** The OpenSBI preset that ships with a QEMU version (7.x/8.x → 1.1, ≥ 9 → 1.6). */
function opensbiOf(version: string): "opensbi-1.1" | "opensbi-1.6" {
  return Number(version.split(".")[0]) >= 9 ? "opensbi-1.6" : "opensbi-1.1";
}

/** A batch checked and turned into (csr, op, value) triples. */
interface CheckedOp {
  readonly op: OpName;
  readonly csr: CsrNum;
  readonly value: bigint;
}

/**
 * The harts of a real QEMU as an {@linkcode AxVCpuHal}.
 *
 * @example Usage
 * ```ts ignore
 * import { createQemuHal } from "@rvhv/percpu/qemu";
 * import { CSR } from "@rvhv/percpu";
 *
 * await using hal = await createQemuHal({ harts: 2, firmware: "none" });
 * const [old, kept] = await hal.csr.batch(1, [
 *   { op: "write", csr: CSR.hedeleg, value: -1n },
 *   { op: "read", csr: CSR.hedeleg },
 * ]);
 * console.log(old, kept); // { ok: true, value: 0n } { ok: true, value: 0xb1ffn }
 * console.log(hal.stats()); // packets sent and replies received so far
 * ```
 *
 * CSR semantics over the debugger:
 * - `read` is one `p`. `E14` is the hart refusing the access (`CsrTrap`, cause 2).
 * - `write` is `p` then `P`, pipelined: QEMU answers `OK` to every `P`, so the
 *   old value (what `csrrw` returns) comes from the read before it. A write
 *   whose read trapped did not happen either: QEMU checks the same predicate.
 * - Writes to read-only CSR addresses (bits 11:10 = `0b11`) trap locally with
 *   cause 2, as the instruction would, and nothing is sent (QEMU would
 *   answer `OK` and ignore it).
 * - `set`/`clear` are read-modify-write: `p`, then `P` of the new value. That
 *   is not atomic towards the guest, and not QEMU's own `csrrs` either (QEMU
 *   writes the whole register, not just the mask bits, and CSRs whose read
 *   view differs from their storage, such as mip with a pending VS timer,
 *   may end differently); the guest is stopped for every access.
 * - `batch` pipelines: every packet up to the first `set`/`clear` goes out in
 *   one write; each `set`/`clear` costs one round trip for its own hart while
 *   other harts' batches keep the pipe full. Batches on one hart run in
 *   order; batches on different harts overlap.
 *
 * Under native access (`access: "native"`) the harts execute the CSR
 * instructions themselves, in HS-mode under QEMU's real OpenSBI, and only
 * machine-level CSRs go through the debugger (see `./native/native_access.ts`
 * and {@linkcode QemuHal.batchVia}).
 */
export class QemuHal implements AxVCpuHal {
  #options: ResolvedQemuOptions;
  #session: Session;
  #harts: readonly HartId[];
  #hartSet: ReadonlySet<HartId>;
  #firmware: FirmwarePreset | undefined;
  #native: NativeAccess | undefined;
  #info: HalInfo;
  #memory: HostMemory;
  #closed = false;
  #closing: Promise<void> | undefined;
  #resetting: Promise<void> | undefined;
  #locks = new Map<HartId, Promise<void>>();
  #inflight = 0;
  #idle: (() => void) | undefined;
  /** CSR access to the harts. */
  readonly csr: CsrPort;

  private constructor(
    options: ResolvedQemuOptions,
    session: Session,
    firmware: FirmwarePreset | undefined,
    native?: NativeAccess,
  ) {
    this.#options = options;
    this.#session = session;
    this.#harts = session.harts;
    this.#hartSet = new Set(session.harts);
    this.#firmware = firmware;
    this.#native = native;
    this.#memory = new HostMemory(
      native === undefined ? { base: RAM_BASE, size: RAM_SIZE } : NATIVE_FRAMES,
    );
    this.#info = this.#describe();
    this.#watch(session);
    const port: CsrPort = {
      read: (hart, csr) => this.#one("read", hart, csr, 0n),
      write: (hart, csr, value) => this.#one("write", hart, csr, value),
      set: (hart, csr, mask) => this.#one("set", hart, csr, mask),
      clear: (hart, csr, mask) => this.#one("clear", hart, csr, mask),
      batch: (hart, ops) => this.#batch(hart, ops),
    };
    this.csr = Object.freeze(port);
  }

  /**
   * Starts (or attaches to) QEMU and applies the firmware preset; prefer
   * {@linkcode createQemuHal}.
   *
   * @param options Validated options.
   * @returns The backend.
   */
  static async start(options: ResolvedQemuOptions): Promise<QemuHal> {
    const spawnedAt = performance.now();
    const session = await openSession(options);
    try {
      if (options.access === "native") {
        const ref: { hal?: QemuHal } = {};
        const native = await QemuHal.#bootNative(session, options, spawnedAt, ref);
        return (ref.hal = new QemuHal(options, session, undefined, native));
      }
      const firmware = firmwareFor(options, session.version);
      await applyFirmware(session, firmware, options);
      return new QemuHal(options, session, firmware);
    } catch (error) {
      await closeSession(session);
      throw error;
    }
  }

  /**
   * Native access: runs the VM until every hart has parked in the agent.
   * Machine-level operations go through `ref.hal`'s debugger path.
   */
  static #bootNative(
    session: Session,
    options: ResolvedQemuOptions,
    spawnedAt: number,
    ref: { hal?: QemuHal },
  ): Promise<NativeAccess> {
    return NativeAccess.boot(session, {
      layout: agentFor(options.harts).layout,
      timeoutMs: options.timeoutMs,
      bootTimeoutMs: options.bootTimeoutMs,
      spawnedAt,
      debugger: (hart, ops) => ref.hal!.#execute(ref.hal!.#session, hart, ops, () => {}),
    });
  }

  /** The harts (QEMU's cpu-index, which equals mhartid on `virt`). */
  get harts(): readonly HartId[] {
    return this.#harts;
  }

  /** Describes the backend: pid, QEMU version, ISA, firmware, the equivalent emulator profile. */
  info(): HalInfo {
    return this.#info;
  }

  #describe(): HalInfo {
    const session = this.#session;
    const options = this.#options;
    const attached = options.attach !== undefined;
    const profile = profileOf(session.version);
    return Object.freeze({
      backend: "qemu",
      isa: attached && !options.isaGiven ? isaOfMisa(session.misa) : options.isa.text,
      ...(profile === undefined ? {} : { profile }),
      version: session.version,
      package: session.package,
      ...(this.#firmware === undefined ? {} : { firmware: this.#firmware.name }),
      ...(session.process === undefined ? {} : { pid: session.process.pid }),
      harts: session.harts.length,
      h: session.hasH.every(Boolean),
      misa: hex(session.misa),
      access: options.access,
      ...(attached
        ? { attached: true, sockets: { qmp: options.attach!.qmp, gdb: options.attach!.gdb } }
        : { attached: false, cpu: options.cpu, binary: options.qemu }),
      csrRegnumBase: session.gdb.codec.csrBase,
      // A started QEMU gets the preset's mtimecmp from loader devices; an
      // attached one through gdb memory writes, which reach the CLINT on QEMU
      // 10.0 but not on 7.2.
      ...(session.mtimecmp === undefined ? {} : { mtimecmp: session.mtimecmp }),
      // Native access: the real firmware (from SBI), the agent, boot times.
      ...this.#native?.describe(),
    });
  }

  /** Marks the session lost when QEMU or a socket goes away unasked. */
  #watch(session: Session): void {
    const lose = (why: string, cause?: unknown, overwrite = false) => {
      if (session.closing || (session.lost !== undefined && !overwrite)) return;
      session.lost = new AxError("Io", why, { cause });
      // Close both connections so every pending call rejects now.
      void session.gdb.close();
      void session.qmp.close();
    };
    // How the process ended says more than the socket error it caused.
    session.process?.status.then(async () => {
      lose(
        `QEMU (pid ${session.process!.pid}) ${await session.process!.describeExit()}`,
        undefined,
        true,
      );
    });
    session.gdb.closed.then((reason) => {
      if (reason !== undefined) lose(`the gdb connection to QEMU ended: ${reason.message}`, reason);
    });
    session.qmp.closed.then((reason) => {
      if (reason !== undefined) lose(`the QMP connection to QEMU ended: ${reason.message}`, reason);
    });
  }

  /** Throws when nothing can be sent: closed, QEMU gone, unknown hart. */
  #checkHart(hart: HartId, what: string): void {
    if (this.#closed) {
      throw new AxError("BadState", `Cannot ${what} on hart ${hart}: the QEMU HAL is closed`, {
        hart,
      });
    }
    const lost = this.#session.lost;
    if (lost !== undefined && this.#resetting === undefined) {
      throw new AxError("Io", `Cannot ${what} on hart ${hart}: ${lost.message}`, {
        hart,
        cause: lost,
      });
    }
    if (!this.#hartSet.has(hart)) {
      const harts = this.#harts;
      throw new AxError(
        "NotFound",
        `Cannot ${what} on hart ${hart}: QEMU has harts ${harts[0]} to ${harts[harts.length - 1]}`,
        { hart },
      );
    }
  }

  #one(op: OpName, hart: HartId, csr: CsrNum, value: bigint): Promise<bigint> {
    let checked: CheckedOp;
    try {
      const where = `CSR ${op} on hart ${hart}`;
      this.#checkHart(hart, `${op} a CSR`);
      checkCsrNumber(csr, where);
      checked = { op, csr, value: op === "read" ? 0n : toXlen(value, where) };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run(hart, [checked], false).then(([result]) => {
      if (result!.ok) return result!.value;
      throw new CsrTrap({ hart, csr, trapCause: result!.trapCause, op });
    });
  }

  #batch(hart: HartId, ops: readonly CsrOp[], via = false): Promise<CsrResult[]> {
    let checked: CheckedOp[];
    try {
      this.#checkHart(hart, "run a CSR batch");
      if (!Array.isArray(ops)) {
        throw new AxError(
          "InvalidInput",
          `Cannot run a CSR batch on hart ${hart}: ops is not an array`,
        );
      }
      checked = ops.map((op, i) => {
        const where = `operation ${i} of a CSR batch on hart ${hart}`;
        if (
          op === null || typeof op !== "object" ||
          !["read", "write", "set", "clear"].includes(op.op)
        ) {
          throw new AxError(
            "InvalidInput",
            `Cannot run ${where}: op must be read, write, set or clear`,
          );
        }
        checkCsrNumber(op.csr, where);
        return { op: op.op, csr: op.csr, value: op.op === "read" ? 0n : toXlen(op.value, where) };
      });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run(hart, checked, via);
  }

  /**
   * Like `csr.batch`, with each result saying which path produced it:
   * `"native"` (the hart executed the instruction, native access) or
   * `"debugger"` (gdbstub access with the VM stopped: every operation under
   * debugger access, machine-level CSRs under native access).
   *
   * @example Usage
   * ```ts ignore
   * import { createQemuHal } from "@rvhv/percpu/qemu";
   * import { CSR } from "@rvhv/percpu";
   *
   * const hal = await createQemuHal({ harts: 2, access: "native" });
   * const [hedeleg, mideleg] = await hal.batchVia(1, [
   *   { op: "read", csr: CSR.hedeleg },
   *   { op: "read", csr: CSR.mideleg },
   * ]);
   * console.log(hedeleg.via, mideleg.via); // "native" "debugger"
   * await hal.close();
   * ```
   *
   * @param hart The hart.
   * @param ops The operations.
   * @returns One result per operation, with its path.
   */
  batchVia(hart: HartId, ops: readonly CsrOp[]): Promise<RoutedCsrResult[]> {
    return this.#batch(hart, ops, true) as Promise<RoutedCsrResult[]>;
  }

  /** Runs checked operations on one hart, in order, after earlier batches on that hart. */
  async #run(hart: HartId, ops: readonly CheckedOp[], via: boolean): Promise<CsrResult[]> {
    if (this.#resetting !== undefined) await this.#resetting;
    if (this.#closed) {
      throw new AxError("BadState", `Cannot access hart ${hart}: the QEMU HAL is closed`, { hart });
    }
    const session = this.#session;
    this.#inflight++;
    const previous = this.#locks.get(hart);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.#locks.set(hart, mine);
    try {
      if (previous !== undefined) await previous;
      const native = this.#native;
      if (native !== undefined) {
        const routed = await native.run(hart, ops);
        return via ? routed : routed.map(withoutVia);
      }
      const results = await this.#execute(session, hart, ops, release);
      return via ? results.map((result) => ({ ...result, via: "debugger" as const })) : results;
    } catch (error) {
      throw await this.#explain(session, hart, error);
    } finally {
      release();
      if (this.#locks.get(hart) === mine) this.#locks.delete(hart);
      if (--this.#inflight === 0) this.#idle?.();
    }
  }

  /** Adds what happened to QEMU to an I/O failure. */
  async #explain(session: Session, hart: HartId, error: unknown): Promise<unknown> {
    if (!(error instanceof AxError) || error instanceof CsrTrap) return error;
    if (error.kind !== "Io" || error instanceof GdbProtocolError) return error;
    const process = session.process;
    if (process !== undefined && !session.closing && process.exitStatus === undefined) {
      // The socket usually reports a dead QEMU before the process is reaped.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        process.status,
        new Promise((resolve) => (timer = setTimeout(resolve, 1000))),
      ]);
      clearTimeout(timer);
      if (process.exitStatus !== undefined) await process.describeExit();
    }
    if (this.#closed && session.closing) {
      return new AxError("BadState", `Cannot access hart ${hart}: the QEMU HAL was closed`, {
        hart,
        cause: error,
      });
    }
    const lost = session.lost;
    if (lost !== undefined) {
      return new AxError("Io", `Cannot access hart ${hart}: ${lost.message}`, {
        hart,
        cause: error,
      });
    }
    return error;
  }

  /** Makes sure the VM is stopped before gdb traffic (a packet to a running VM is swallowed). */
  async #ensureStopped(session: Session): Promise<void> {
    if (!session.running) return;
    await session.qmp.execute("stop");
    session.running = false;
  }

  async #execute(
    session: Session,
    hart: HartId,
    ops: readonly CheckedOp[],
    release: () => void,
  ): Promise<CsrResult[]> {
    const gdb = session.gdb;
    const { codec } = gdb;
    const results = new Array<CsrResult>(ops.length);
    let payloads: string[] = [];
    // Per payload: which op it belongs to and what it is.
    let owners: number[] = [];
    let kinds: ("p" | "P")[] = [];
    const send = async (last: boolean): Promise<void> => {
      if (session.running) await this.#ensureStopped(session);
      const sent = payloads;
      const sentOwners = owners;
      const sentKinds = kinds;
      payloads = [];
      owners = [];
      kinds = [];
      const pending = gdb.exchangeOnHart(hart, sent);
      if (last) release();
      const replies = await pending;
      for (let k = 0; k < replies.length; k++) {
        const i = sentOwners[k]!;
        const reply = replies[k]!;
        const op = ops[i]!;
        if (sentKinds[k] === "p") results[i] = codec.readResult(hart, op.csr, reply);
        else if (results[i]!.ok) codec.checkWrite(hart, op.csr, reply);
      }
    };
    for (let i = 0; i < ops.length; i++) {
      const { op, csr, value } = ops[i]!;
      const writes = op === "write" || value !== 0n;
      if (writes && isReadOnlyCsr(csr)) {
        results[i] = ILLEGAL_INSTRUCTION_TRAP;
        continue;
      }
      payloads.push(codec.read(csr));
      owners.push(i);
      kinds.push("p");
      if (!writes) continue;
      if (op === "write") {
        payloads.push(codec.write(csr, value));
        owners.push(i);
        kinds.push("P");
        continue;
      }
      // set/clear: the new value depends on the old one.
      await send(false);
      const old = results[i]!;
      if (!old.ok) continue;
      const next = op === "set" ? old.value | value : old.value & ~value;
      payloads.push(codec.write(csr, next));
      owners.push(i);
      kinds.push("P");
    }
    if (payloads.length > 0) await send(true);
    else release();
    return results;
  }

  /**
   * gdb traffic of the current connection: packets sent and replies
   * received (a diagnostic: how many exchanges an operation cost).
   *
   * @returns The counters.
   */
  stats(): { packets: number; replies: number; native?: NativeStats } {
    const native = this.#native?.stats();
    return { ...this.#session.gdb.stats, ...(native === undefined ? {} : { native }) };
  }

  /** Allocates one 4 KiB frame; `undefined` when none is left. */
  allocFrame(): bigint | undefined {
    return this.#memory.allocFrame();
  }

  /** Returns a frame. */
  deallocFrame(pa: bigint): void {
    this.#memory.deallocFrame(pa);
  }

  /** Host physical to host virtual address (ArceOS's riscv64 linear map). */
  physToVirt(pa: bigint): bigint {
    return this.#memory.physToVirt(pa);
  }

  /** Host virtual to host physical address. */
  virtToPhys(va: bigint): bigint {
    return this.#memory.virtToPhys(va);
  }

  /** No host interrupt is ever pending on a machine held at `-S`: always 0. */
  irqFetch(): number {
    return 0;
  }

  /** Waits until no CSR operation is in flight. */
  #drain(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = () => {
        this.#idle = undefined;
        resolve();
      };
    });
  }

  /**
   * Returns every hart to the firmware preset's state by relaunching QEMU
   * (`system_reset` would keep the H CSRs and mstatus.MPP), then applying
   * the preset again (under native access: booting OpenSBI and the agent
   * again). Operations already in flight finish on the old QEMU
   * first; operations started during the reset wait and run on the new one.
   * When the relaunch fails, later operations reject with kind `"Io"` saying
   * why.
   *
   * @throws {AxError} Kind `"Unsupported"` for an attached QEMU (it is not
   *   ours to relaunch), `"BadState"` after `close()`, `"Io"` (or
   *   `"NotFound"`) when QEMU cannot be started again.
   */
  reset(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new AxError("BadState", "Cannot reset the QEMU HAL: it is closed"));
    }
    if (this.#options.attach !== undefined) {
      return Promise.reject(
        new AxError(
          "Unsupported",
          "Cannot reset an attached QEMU: it is not this backend's to relaunch, and system_reset keeps the H CSRs",
        ),
      );
    }
    if (this.#resetting !== undefined) return this.#resetting;
    const resetting = (async () => {
      await this.#drain();
      const old = this.#session;
      old.closing = true;
      await closeSession(old);
      let session: Session | undefined;
      const relaunched = performance.now();
      try {
        session = await openSession(this.#options);
        if (session.harts.length !== this.#harts.length) {
          throw new AxError(
            "InvalidData",
            `Cannot reset QEMU: the relaunched machine has ${session.harts.length} harts, not ${this.#harts.length}`,
          );
        }
        if (this.#native !== undefined) {
          const ref: { hal?: QemuHal } = { hal: this };
          const booting = session;
          // Machine-level operations of the new engine go to the new session.
          this.#native = await QemuHal.#bootNative(booting, this.#options, relaunched, ref);
        } else {
          await applyFirmware(session, this.#firmware!, this.#options);
        }
      } catch (error) {
        if (session !== undefined) await closeSession(session);
        old.lost = new AxError("Io", `relaunching QEMU failed: ${(error as Error).message}`, {
          cause: error,
        });
        throw error;
      }
      this.#session = session;
      this.#watch(session);
      this.#info = this.#describe();
    })();
    this.#resetting = resetting;
    return resetting.finally(() => {
      this.#resetting = undefined;
    });
  }

  /**
   * Releases the backend. A QEMU started here is asked to `quit`, then
   * signalled if it does not exit, reaped, and its socket directory removed;
   * an attached QEMU is left running as it was found (resumed if it was
   * running) and only the sockets are closed. Never detaches with `D`.
   * Idempotent; pending calls reject.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      if (this.#resetting !== undefined) await this.#resetting.catch(() => {});
      const session = this.#session;
      session.closing = true;
      await closeSession(session);
    })();
    return this.#closing;
  }

  /** Closes the backend (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A result without its path. */
function withoutVia(result: RoutedCsrResult): CsrResult {
  return result.ok ? { ok: true, value: result.value } : { ok: false, trapCause: result.trapCause };
}

/**
 * The mtimecmp the loader devices write at start-up: the preset's. Both
 * OpenSBI presets program all ones, so the value is known before the QEMU
 * version (which picks between them) is.
 */
function spawnMtimecmp(options: ResolvedQemuOptions): bigint | undefined {
  const name = options.firmware ?? "opensbi";
  return resolveFirmware(name, "opensbi-1.1").mtimecmp;
}

/** Where a hart's mtimecmp sits in the CLINT of `virt`. */
function mtimecmpAddress(hart: HartId): number {
  return Number(VIRT_MTIMECMP_BASE) + 8 * hart;
}

/** Reads every hart's mtimecmp from the CLINT (gdb memory reads do reach MMIO). */
async function readMtimecmp(session: Session): Promise<bigint[]> {
  const replies = await session.gdb.exchangeOnHart(
    session.harts[0]!,
    session.harts.flatMap((hart) => readPackets(mtimecmpAddress(hart), 8)),
  );
  return replies.map((reply) => new DataView(joinReads([reply], 8).buffer).getBigUint64(0, true));
}

/** Chooses the firmware preset for these options and this QEMU. */
function firmwareFor(options: ResolvedQemuOptions, version: string): FirmwarePreset {
  const name = options.firmware ?? (options.attach !== undefined ? "none" : "opensbi");
  return resolveFirmware(name, opensbiOf(version));
}

/**
 * Writes a firmware preset into every hart (mideleg first: it gates sie)
 * and checks the mtimecmp the loader devices wrote.
 */
async function applyFirmware(
  session: Session,
  firmware: FirmwarePreset,
  options: ResolvedQemuOptions,
): Promise<void> {
  const gdb = session.gdb;
  if (session.process !== undefined) {
    const expected = spawnMtimecmp(options) ?? 0n;
    if ((firmware.mtimecmp ?? 0n) !== expected) {
      throw new AxError(
        "InvalidData",
        `Cannot apply firmware "${firmware.name}": its mtimecmp ${
          hex(firmware.mtimecmp ?? 0n)
        } differs from the ${hex(expected)} QEMU was started with`,
      );
    }
    if (firmware.mtimecmp !== undefined) {
      // A QEMU whose timer resets after the loader ran would keep 0: report
      // it (info().mtimecmp) rather than refuse to work.
      const found = await readMtimecmp(session);
      const wrong = found.findIndex((value) => value !== expected);
      session.mtimecmp = wrong < 0
        ? hex(expected)
        : `not applied (hart ${session.harts[wrong]} reads ${hex(found[wrong]!)})`;
    }
  } else if (firmware.mtimecmp !== undefined) {
    // An attached QEMU has no loader devices: write the CLINT over gdb. QEMU
    // 10.0's gdbstub reaches MMIO; 7.2's drops the write silently, so read back.
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigUint64(0, firmware.mtimecmp, true);
    await gdb.exchangeOnHart(
      session.harts[0]!,
      session.harts.flatMap((hart) => writePackets(mtimecmpAddress(hart), value)),
    );
    const found = await readMtimecmp(session);
    const wrong = found.findIndex((read) => read !== firmware.mtimecmp);
    session.mtimecmp = wrong < 0
      ? hex(firmware.mtimecmp)
      : `not applied (QEMU ${session.version} drops gdb writes to the CLINT; hart ${
        session.harts[wrong]
      } reads ${hex(found[wrong]!)})`;
  }
  await Promise.all(session.harts.map(async (hart, i) => {
    const writes = firmware.writes(session.hasH[i]!);
    if (writes.length === 0) return;
    const replies = await gdb.exchangeOnHart(
      hart,
      writes.map(({ csr, value }) => gdb.codec.write(csr, value)),
    );
    replies.forEach((reply, k) => gdb.codec.checkWrite(hart, writes[k]!.csr, reply));
  }));
}

/** Connects to QEMU (starting it unless attaching) and discovers its harts. */
async function openSession(options: ResolvedQemuOptions): Promise<Session> {
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
        memory: RAM_ARG,
        ...(options.access === "native"
          ? nativeSpawnOptions(options.harts)
          : { mtimecmp: spawnMtimecmp(options) }),
      });
      const started = process;
      started.status.then(async () => {
        exitAbort.abort(
          new AxError(
            "Io",
            `Cannot start QEMU: ${started.binary} ${await started.describeExit()}`,
          ),
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
    const busy = (what: string) => (error: unknown) => {
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
    const wasRunning = status.running;
    let running = status.running;
    const stopped = () => (running = false);
    qmp.addEventListener(() => {
      running = true;
    }, ["RESUME"]);
    qmp.addEventListener(stopped, ["STOP"]);
    if (running) {
      await qmp.execute("stop");
      running = false;
      stoppedHere = true;
    }
    const cpus = await qmp.execute<CpuInfoFast[]>("query-cpus-fast");
    cpus.sort((a, b) => a["cpu-index"] - b["cpu-index"]);
    const harts = cpus.map((cpu) => cpu["cpu-index"]);
    const qomPaths = cpus.map((cpu) => cpu["qom-path"]);
    const hasH = await Promise.all(
      qomPaths.map((path) => qmp!.execute<boolean>("qom-get", { path, property: "h" })),
    );
    gdb = await GdbClient.connect(
      await connectUnixSocket(gdbPath, { retryForMs, signal: exitAbort.signal }),
      {
        timeoutMs,
        beforeSend: () => {
          if (running) {
            throw new AxError(
              "BadState",
              "Cannot send a gdb packet: the VM is running (it would swallow the packet); stop it first",
            );
          }
        },
      },
    ).catch(busy("gdb"));
    const misa = await gdb.readCsr(harts[0]!, CSR.misa);
    if (process !== undefined && harts.length !== options.harts) {
      throw new AxError(
        "InvalidData",
        `Cannot use QEMU: it reports ${harts.length} harts, ${options.harts} were asked for`,
      );
    }
    const { major, minor, micro } = qmp.greeting.version.qemu;
    const full: Session = {
      process,
      qmp,
      gdb,
      get running() {
        return running;
      },
      set running(value: boolean) {
        running = value;
      },
      wasRunning,
      version: `${major}.${minor}.${micro}`,
      package: qmp.greeting.version.package,
      harts: Object.freeze(harts),
      qomPaths: Object.freeze(qomPaths),
      hasH: Object.freeze(hasH.map(Boolean)),
      misa,
      lost: undefined,
      closing: false,
    };
    return full;
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

/** Ends a session: quits (or, attached, restores the run state) and closes the sockets. */
async function closeSession(session: Session): Promise<void> {
  session.closing = true;
  const { process, qmp, gdb } = session;
  // Closing the gdb socket leaves the run state alone; `D` would resume the VM.
  await gdb.close();
  if (process !== undefined) {
    // Ask politely when QMP is up; otherwise signal at once.
    const asked = process.exitStatus === undefined && qmp.runstate === "running" &&
      await qmp.execute("quit", undefined, { timeoutMs: 1000 }).then(() => true, () => false);
    await qmp.close();
    await process.stop(asked ? 1000 : 0);
  } else {
    if (session.wasRunning && qmp.runstate === "running" && session.lost === undefined) {
      await qmp.execute("cont").catch(() => {});
    }
    await qmp.close();
  }
}

/**
 * Starts QEMU (or attaches to a running one) and returns its harts as a HAL.
 *
 * Needs `--allow-run` for the QEMU binary, `--allow-read`, `--allow-write`
 * and `--allow-net` for the unix sockets (Deno 2.9 checks all three for a
 * unix-socket connect), and optionally `--allow-env=RVHV_QEMU,RVHV_DEBUG`.
 *
 * @example Usage
 * ```ts ignore
 * import { createQemuHal } from "@rvhv/percpu/qemu";
 * import { CSR } from "@rvhv/percpu";
 *
 * const hal = await createQemuHal({ harts: 2 });
 * await hal.csr.write(1, CSR.hedeleg, -1n);
 * console.log(await hal.csr.read(1, CSR.hedeleg)); // 0xb1ffn on QEMU 7.2
 * await hal.close();
 * ```
 *
 * @param options Harts, ISA, firmware, binary, `-cpu` properties, attach, time-out.
 * @returns The HAL.
 * @throws {TypeError} For invalid options (with a `path` naming the option).
 * @throws {AxError} Kind `"NotFound"` when the binary is missing (the message
 *   says how to install it), `"Io"` when QEMU fails to start (its stderr
 *   included) or a socket cannot be reached.
 */
export function createQemuHal(options: QemuOptions = {}): Promise<QemuHal> {
  let resolved: ResolvedQemuOptions;
  try {
    resolved = parseQemuOptions(options);
  } catch (error) {
    return Promise.reject(error);
  }
  return QemuHal.start(resolved);
}

/**
 * The QEMU backend's `AxVCpuHal`: the harts of a real
 * `qemu-system-riscv64`, composed of a session (`./_session.ts`: the
 * process, QMP, the gdb connection) and an access strategy
 * (`./_csr_access.ts`: the debugger, or native access). Permissions: see
 * {@linkcode createQemuHal}.
 *
 * @module
 */

import { BackendHal, type CheckedCsrOp } from "../../hal/backend_hal.ts";
import { AxError } from "../../hal/errors.ts";
import type { RamRegion } from "../../hal/frame_allocator.ts";
import type { CsrOp, CsrResult, HalInfo, HartId } from "../../hal/types.ts";
import { type RoutedCsrResult, withoutPath } from "./_csr_access.ts";
import { describeQemu } from "./_info.ts";
import { ResetBarrier } from "./_reset_barrier.ts";
import { GUEST_RAM, QemuSession } from "./_session.ts";
import { accessSpawn, prepareAccess, type ReadySession } from "./_strategies.ts";
import type { NativeStats } from "./native/_native_access.ts";
import { parseQemuOptions, type QemuOptions, type ResolvedQemuOptions } from "./options.ts";

/** Frames under native access: RAM clear of OpenSBI, the agent and the FDT. */
const NATIVE_FRAMES: RamRegion = Object.freeze({ base: 0x8400_0000n, size: 48n << 20n });

/**
 * The harts of a real QEMU as an `AxVCpuHal`. Under debugger
 * access (the default) every CSR is read and written over the gdbstub with
 * the VM held at reset (`./_debugger_access.ts` says how each operation
 * maps to packets); under native access (`access: "native"`) the harts
 * execute the CSR instructions themselves, in HS-mode under QEMU's real
 * OpenSBI, and only machine-level CSRs go through the debugger
 * ({@linkcode QemuHal.batchVia} says which path served each operation).
 * `close()` quits a QEMU started here (signalling it if it does not exit)
 * and removes its sockets, or leaves an attached one as it was found; it
 * never detaches with `D`, which would resume the VM.
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
 * console.log(old, kept); // { ok: true, value: 0n } { ok: true, value: 45567n }: 0xb1ff kept
 * console.log(hal.stats()); // packets sent and replies received so far
 * ```
 */
export class QemuHal extends BackendHal {
  #options: ResolvedQemuOptions;
  #session: QemuSession;
  #ready: ReadySession;
  #info: HalInfo;
  #resetting: Promise<void> | undefined;
  /** During a reset: its place in each hart's queue. */
  #barrier: ResetBarrier | undefined;
  #inflight = 0;
  #idle: (() => void) | undefined;
  /** Each batch's results with their paths, for {@linkcode QemuHal.batchVia}. */
  #routes: WeakMap<readonly CsrResult[], RoutedCsrResult[]> = new WeakMap();

  private constructor(options: ResolvedQemuOptions, session: QemuSession, ready: ReadySession) {
    const self: { hal?: QemuHal } = {};
    super({
      name: "qemu",
      harts: session.harts,
      info: () => self.hal!.#info,
      run: (hart, ops, release) => self.hal!.#run(hart, ops, release),
      // While QEMU is relaunched, accesses wait for the new one instead.
      lost: () => self.hal!.#barrier === undefined ? self.hal!.#session.lost : undefined,
      ram: options.access === "native" ? NATIVE_FRAMES : GUEST_RAM,
      close: () => self.hal!.#close(),
    });
    self.hal = this;
    this.#options = options;
    this.#session = session;
    this.#ready = ready;
    this.#info = describeQemu(this.#options, this.#session, this.#ready);
  }

  /**
   * Starts (or attaches to) QEMU and makes it ready for CSR access; prefer
   * {@linkcode createQemuHal}.
   *
   * @param options Validated options.
   * @returns The backend.
   */
  static async start(options: ResolvedQemuOptions): Promise<QemuHal> {
    const { session, prepared } = await QemuSession.start(
      options,
      accessSpawn(options),
      (started) => prepareAccess(options, started),
    );
    return new QemuHal(options, session, prepared);
  }

  async #run(
    hart: HartId,
    ops: readonly CheckedCsrOp[],
    release: () => void,
  ): Promise<CsrResult[]> {
    if (ops.length === 0 && await this.#barrier?.pass(hart)) return [];
    this.checkHart(hart); // closed, or QEMU lost, while the batch waited its turn
    const session = this.#session;
    this.#inflight++;
    try {
      await session.retakeGdbstub();
      const routed = await this.#ready.strategy.run(hart, ops, release);
      const results = routed.map(withoutPath);
      this.#routes.set(results, routed);
      return results;
    } catch (error) {
      throw await session.explain(hart, error, this.closed);
    } finally {
      if (--this.#inflight === 0) this.#idle?.();
    }
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
   * console.log(hedeleg.via, mideleg.via); // native debugger
   * await hal.close();
   * ```
   *
   * @param hart The hart.
   * @param ops The operations.
   * @returns One result per operation, with its path.
   */
  async batchVia(hart: HartId, ops: readonly CsrOp[]): Promise<RoutedCsrResult[]> {
    return this.#routes.get(await this.csr.batch(hart, ops))!;
  }

  /**
   * gdb traffic of the current connection: packets sent and replies
   * received (a diagnostic: how many exchanges an operation cost), and
   * under native access its rounds and operations by path.
   *
   * @returns The counters.
   */
  stats(): { packets: number; replies: number; native?: NativeStats } {
    const native = this.#ready.strategy.stats?.();
    return { ...this.#session.gdb.stats, ...(native === undefined ? {} : { native }) };
  }

  /**
   * How this hart's accesses so far were served: `"debugger"`, `"native"`,
   * or, under native access once machine-level CSRs were involved,
   * `"native N, debugger M"`.
   *
   * @param hart The hart.
   * @returns The path, or both with their counts.
   */
  accessPath(hart: HartId): string {
    return this.#ready.strategy.accessPath?.(hart) ?? this.#options.access;
  }

  /**
   * Lends QEMU's gdbstub (one client at a time) to another debugger while
   * this backend is idle: its connection closes once the accesses in flight
   * are done, never detaching (`D` would resume the VM). The next CSR access
   * takes it back, stopping the VM over QMP if the other debugger left it
   * running; while that debugger is still connected, the access rejects
   * with kind `"Timeout"`.
   *
   * @example Usage
   * ```ts ignore
   * import { createQemuHal } from "@rvhv/percpu/qemu";
   *
   * const hal = await createQemuHal({ harts: 2 });
   * const { gdb, qmp } = await hal.lendGdbstub();
   * console.log(`gdb-multiarch -ex 'target remote ${gdb}'; QMP: ${qmp}`);
   * await hal.close(); // takes the gdbstub back first
   * ```
   *
   * @returns The gdbstub's socket and, for a QEMU this backend started, a
   *   QMP socket of the user's own.
   * @throws {AxError} Kind `"BadState"` after `close()`.
   */
  async lendGdbstub(): Promise<{ gdb: string; qmp?: string }> {
    if (this.closed) {
      throw new AxError("BadState", "Cannot lend the gdbstub: the qemu backend is closed");
    }
    if (this.#resetting !== undefined) await this.#resetting.catch(() => {});
    await this.#drained();
    const session = this.#session;
    await session.lendGdbstub();
    const qmp = session.process?.userQmpPath;
    return { gdb: session.gdbPath, ...(qmp === undefined ? {} : { qmp }) };
  }

  /**
   * Returns every hart to the firmware preset's state by relaunching QEMU
   * (`system_reset` would keep the H CSRs and mstatus.MPP), then applying
   * the preset again (under native access: booting OpenSBI and the agent
   * again). Operations called before the reset finish on the old QEMU
   * first; operations called during the reset wait and run on the new one.
   * When the relaunch fails, later operations reject with kind `"Io"` saying
   * why.
   *
   * @throws {AxError} Kind `"Unsupported"` for an attached QEMU (it is not
   *   ours to relaunch), `"BadState"` after `close()`, `"Io"` (or
   *   `"NotFound"`) when QEMU cannot be started again.
   */
  reset(): Promise<void> {
    if (this.closed) {
      return Promise.reject(new AxError("BadState", "Cannot reset the qemu backend: it is closed"));
    }
    if (this.#options.attach !== undefined) {
      return Promise.reject(
        new AxError(
          "Unsupported",
          "Cannot reset an attached QEMU: it is not this backend's to relaunch, and system_reset keeps the H CSRs",
        ),
      );
    }
    this.#resetting ??= (async () => {
      const barrier = new ResetBarrier();
      this.#barrier = barrier;
      try {
        await barrier.reached(this.harts, (hart) => this.csr.batch(hart, []));
        await this.#drained();
        const next = await this.#session.relaunch((fresh) => prepareAccess(this.#options, fresh));
        this.#session = next.session;
        this.#ready = next.prepared;
        this.#info = describeQemu(this.#options, this.#session, this.#ready);
      } finally {
        this.#barrier = undefined;
        barrier.finish();
      }
    })().finally(() => (this.#resetting = undefined));
    return this.#resetting;
  }

  /** When no batch is in flight. */
  async #drained(): Promise<void> {
    if (this.#inflight > 0) await new Promise<void>((idle) => (this.#idle = idle));
    this.#idle = undefined;
  }

  /** Ends the session once a reset has settled (see `QemuSession.close`). */
  async #close(): Promise<void> {
    if (this.#resetting !== undefined) await this.#resetting.catch(() => {});
    await this.#session.close();
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
 * import { CSR, hex } from "@rvhv/percpu";
 *
 * const hal = await createQemuHal({ harts: 2 });
 * await hal.csr.write(1, CSR.hedeleg, -1n);
 * console.log(hex(await hal.csr.read(1, CSR.hedeleg))); // 0xb1ff on QEMU 7.2
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

/**
 * Native access: CSR operations executed as real instructions by the harts
 * of a QEMU that booted the real OpenSBI and the guest agent
 * (`./_agent.ts`), in HS-mode (S-mode on harts without H).
 *
 * The engine collects the batches every hart asks for and serves them in
 * rounds, with the VM stopped except while harts run:
 *
 * The agent is booted by `./_boot.ts`; from then on:
 *
 * 1. Operations on machine-level CSRs (`mideleg`, `medeleg`, `mstatus`,
 *    `misa`, `mhartid`, …), which HS-mode code cannot reach, go through the
 *    debugger while the VM is stopped, in their place in the batch.
 * 2. For every hart whose next operations are native: its batch code goes
 *    into the shared code cache (one copy for every hart that runs the same
 *    operations) or its own work area, its operands into its work area, the
 *    wake-up bits `sip.SSIP` and `sie.SSIE` are set through the debugger
 *    (and cleared again by the agent before the batch runs, when they were
 *    clear), and a new sequence number goes into its mailbox. Then one `c`
 *    over gdb runs every hart of the round at once (over gdb so that QEMU
 *    has read every acknowledgement before the VM runs); the host polls the
 *    done words over QMP (`xp`, which works while the VM runs: a gdb byte
 *    would stop it), sends QMP `stop`, and reads the result slots over gdb.
 *
 * Needs what the QEMU backend needs (`--allow-net` etc. for its sockets).
 *
 * @module
 */

import type { CheckedCsrOp } from "../../../hal/backend_hal.ts";
import { IP, STATUS } from "../../../hal/csr_fields.ts";
import { CSR } from "../../../hal/csr_numbers.ts";
import { AxError } from "../../../hal/errors.ts";
import { hex } from "../../../hal/hex.ts";
import type { CsrResult, HartId } from "../../../hal/types.ts";
import type { CsrAccess, CsrAccessPath, RoutedCsrResult } from "../_csr_access.ts";
import { locateHart } from "../_debugger_access.ts";
import {
  type AgentBootOptions,
  bootAgent,
  type NativeBootInfo,
  type NativeSession,
} from "./_boot.ts";
import {
  type AgentLayout,
  CODE_CACHE_SLOTS,
  codeSlotOf,
  MAILBOX,
  mailboxOf,
  PARKED,
  RESTORE_SSIE,
  RESTORE_SSIP,
  WORK,
  workOf,
} from "./_agent.ts";
import { checkExpressible, compileBatch, csrAccessPath, decodeResults } from "./_codegen.ts";
import { CodeCache } from "./_code_cache.ts";
import {
  bytesToHex,
  joinReads,
  readPackets,
  readWordsOverQmp,
  writePackets,
} from "../_guest_memory.ts";

/** Runs operations through the debugger on a stopped VM. */
export type DebuggerRunner = (
  hart: HartId,
  ops: readonly CheckedCsrOp[],
) => Promise<CsrResult[]>;

/** What {@linkcode NativeAccess.boot} needs: the agent's boot, and how rounds run. */
export interface NativeAccessOptions extends AgentBootOptions {
  /** How long one round may run, in ms (the backend's `timeoutMs`). */
  readonly timeoutMs: number;
  /** Runs machine-level operations through the debugger. */
  readonly debugger: DebuggerRunner;
}

/**
 * Counters of native access.
 *
 * @example Usage
 * ```ts ignore
 * import { createQemuHal, type NativeStats } from "@rvhv/percpu/qemu";
 * import { PerCpuSet } from "@rvhv/percpu";
 *
 * const hal = await createQemuHal({ harts: 4, access: "native" });
 * await PerCpuSet.init(hal);
 * const stats: NativeStats | undefined = hal.stats().native;
 * console.log(stats?.resumes, stats?.nativeOps, stats?.debuggerOps);
 * await hal.close();
 * ```
 */
export interface NativeStats {
  /** Rounds: each runs the VM at most once. */
  rounds: number;
  /** Runs of the VM (`c` over gdb, then QMP `stop`): rounds that had native operations. */
  resumes: number;
  /** Operations executed by the harts. */
  nativeOps: number;
  /** Operations served through the debugger (machine-level CSRs). */
  debuggerOps: number;
  /** QMP polls of the done words. */
  polls: number;
  /** Batch programs written into guest memory (harts running the same operations share one). */
  codeWrites: number;
  /** Interrupts the agent took while running a batch (only if a batch enabled one). */
  interrupts: number;
  /** Per hart: operations by path. */
  harts: Record<string, { native: number; debugger: number }>;
  /** The last round that resumed the VM: harts, and ms to prepare, run, and read back. */
  lastResume?: { harts: number; prepareMs: number; runMs: number; readMs: number };
}

/** The CSRs read before waking a hart: its wake bits, and what could keep it from waking. */
const WAKE_STATE = [CSR.sie, CSR.sip, CSR.mideleg, CSR.mstatus] as const;

/** A batch waiting to be served. */
interface Job {
  readonly hart: HartId;
  readonly ops: readonly CheckedCsrOp[];
  readonly results: RoutedCsrResult[];
  cursor: number;
  error: unknown;
  readonly resolve: (results: RoutedCsrResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/** One hart's part of a resume. */
interface Slot {
  readonly job: Job;
  readonly ops: readonly CheckedCsrOp[];
  readonly seq: number;
  readonly work: number;
  /** Where its batch code runs: a code-cache slot or its own work area. */
  code: number;
  /** Memory writes for this round (code, operands), sent with its hart's exchange. */
  writes: string[];
  restore: number;
  done: boolean;
}

/**
 * Serves CSR operations on the harts of a QEMU that runs the agent. Made by
 * {@linkcode NativeAccess.boot}; the QEMU backend owns it.
 *
 * @example Usage
 * ```ts ignore
 * import { createQemuHal } from "@rvhv/percpu/qemu";
 * import { CSR } from "@rvhv/percpu";
 *
 * const hal = await createQemuHal({ harts: 4, access: "native" });
 * console.log(hal.info().firmware); // OpenSBI v1.1 on QEMU 7.2
 * console.log(await hal.csr.read(2, CSR.hedeleg)); // a real csrr in HS-mode on hart 2
 * await hal.close();
 * ```
 */
export class NativeAccess implements CsrAccess {
  /** What the agent found out at boot. */
  readonly boot: NativeBootInfo;
  /** The agent's layout. */
  readonly layout: AgentLayout;
  #session: NativeSession;
  #timeoutMs: number;
  #debugger: DebuggerRunner;
  #queue = new Map<HartId, Job>();
  #driving: Promise<void> | undefined;
  #seq = new Map<HartId, number>();
  #irqCounts = new Map<HartId, number>();
  /** Harts that did not finish a round: why, for every later operation. */
  #wedged = new Map<HartId, AxError>();
  /** Which program each slot of the agent's shared code cache holds. */
  #cache = new CodeCache(CODE_CACHE_SLOTS);
  /** What each hart's own code area and operand area hold (hex). */
  #ownCode = new Map<HartId, string>();
  #ownOperands = new Map<HartId, string>();
  #stats: NativeStats = {
    rounds: 0,
    resumes: 0,
    nativeOps: 0,
    debuggerOps: 0,
    polls: 0,
    codeWrites: 0,
    interrupts: 0,
    harts: {},
  };

  private constructor(session: NativeSession, options: NativeAccessOptions, boot: NativeBootInfo) {
    this.#session = session;
    this.layout = options.layout;
    this.#timeoutMs = options.timeoutMs;
    this.#debugger = options.debugger;
    this.boot = boot;
    for (const hart of session.harts) this.#seq.set(hart, PARKED);
  }

  /**
   * Boots the agent (`./_boot.ts`) and serves CSR operations on it from then on.
   *
   * @param session The QEMU session (VM not running), started with {@linkcode nativeSpawnOptions}.
   * @param options The agent's layout, time-outs, the debugger runner.
   * @returns The engine.
   * @throws {AxError} As {@linkcode bootAgent}.
   */
  static async boot(session: NativeSession, options: NativeAccessOptions): Promise<NativeAccess> {
    return new NativeAccess(session, options, await bootAgent(session, options));
  }

  /**
   * Queues a batch for a hart; batches of different harts asked for in the
   * same tick share rounds (and so one run of the VM).
   *
   * @param hart The hart.
   * @param ops Checked operations.
   * @returns The results, each with the path that produced it.
   * @throws {AxError} Kind `"Unsupported"` for an operation native
   *   execution cannot express (nothing runs), `"Timeout"` when the hart did
   *   not finish (now or in an earlier round), `"BadState"` when the hart
   *   cannot be woken (delegation or mstatus changed by the debugger).
   */
  run(hart: HartId, ops: readonly CheckedCsrOp[]): Promise<RoutedCsrResult[]> {
    try {
      checkExpressible(hart, ops.filter((op) => csrAccessPath(op.csr) === "native"));
      const wedged = this.#wedged.get(hart);
      if (wedged !== undefined) throw wedged;
      if (this.#queue.has(hart)) {
        throw new AxError(
          "BadState",
          `Cannot queue a native batch on hart ${hart}: one is queued already`,
          { hart },
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (ops.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.set(hart, {
        hart,
        ops,
        results: [],
        cursor: 0,
        error: undefined,
        resolve,
        reject,
      });
      this.#driving ??= this.#drive();
    });
  }

  /** Counters and the last round's timings. */
  stats(): NativeStats {
    return structuredClone(this.#stats);
  }

  /**
   * How this hart's accesses so far were served: `"native"`, or, once
   * machine-level CSRs were involved, `"native N, debugger M"` (or only
   * `"debugger"`).
   */
  accessPath(hart: HartId): string {
    const counts = this.#stats.harts[hart];
    if (counts === undefined || counts.debugger === 0) return "native";
    if (counts.native === 0) return "debugger";
    return `native ${counts.native}, debugger ${counts.debugger}`;
  }

  /** The fields native access adds to the backend's `info()`. */
  describe(): Record<string, unknown> {
    const boot = this.boot;
    return {
      access: "native",
      firmware: boot.firmware,
      sbi: boot.sbiSpec,
      agent: {
        base: hex(BigInt(this.layout.base)),
        bootHart: boot.bootHart,
        started: boot.started,
        parkMs: Number(boot.parkMs.toFixed(1)),
        ...(boot.bootMs === undefined ? {} : { bootMs: Number(boot.bootMs.toFixed(1)) }),
      },
    };
  }

  async #drive(): Promise<void> {
    try {
      // Let every hart that asks in this tick join the first round.
      for (let i = 0; i < 8; i++) await Promise.resolve();
      while (this.#queue.size > 0) {
        const jobs = [...this.#queue.values()];
        try {
          await this.#round(jobs);
        } catch (error) {
          // Not expected (each phase catches its own failures); never leave a caller waiting.
          for (const job of jobs) job.error ??= error;
        }
        for (const job of jobs) {
          if (job.error !== undefined) {
            this.#queue.delete(job.hart);
            job.reject(job.error);
          } else if (job.cursor >= job.ops.length) {
            this.#queue.delete(job.hart);
            job.resolve(job.results);
          }
        }
      }
    } finally {
      this.#driving = undefined;
      if (this.#queue.size > 0) this.#driving = this.#drive();
    }
  }

  /** One round: the debugger's part of every job, then one resume for the native part. */
  async #round(jobs: readonly Job[]): Promise<void> {
    this.#stats.rounds++;
    const next = (job: Job) => csrAccessPath(job.ops[job.cursor]!.csr);
    // Machine-level operations, through the debugger, while stopped.
    await Promise.all(
      jobs.filter((job) => next(job) === "debugger").map(async (job) => {
        let end = job.cursor;
        while (end < job.ops.length && csrAccessPath(job.ops[end]!.csr) === "debugger") end++;
        const ops = job.ops.slice(job.cursor, end);
        try {
          if (this.#session.running) await this.#session.stop();
          const results = await this.#debugger(job.hart, ops);
          for (const result of results) job.results.push({ ...result, via: "debugger" });
          job.cursor = end;
          this.#count(job.hart, "debugger", ops.length);
        } catch (error) {
          job.error = error;
        }
      }),
    );
    const slots: Slot[] = [];
    for (const job of jobs) {
      if (job.error !== undefined || job.cursor >= job.ops.length || next(job) !== "native") {
        continue;
      }
      let end = job.cursor;
      while (
        end < job.ops.length && end - job.cursor < WORK.maxOps &&
        csrAccessPath(job.ops[end]!.csr) === "native"
      ) end++;
      const wedged = this.#wedged.get(job.hart);
      if (wedged !== undefined) {
        job.error = wedged;
        continue;
      }
      const seq = (this.#seq.get(job.hart)! + 1) >>> 0 || 2;
      slots.push({
        job,
        ops: job.ops.slice(job.cursor, end),
        seq: seq === PARKED ? 2 : seq,
        work: workOf(this.layout, job.hart),
        code: 0,
        writes: [],
        restore: 0,
        done: false,
      });
    }
    if (slots.length > 0) await this.#resume(slots);
  }

  #count(hart: HartId, path: CsrAccessPath, n: number): void {
    const entry = this.#stats.harts[hart] ??= { native: 0, debugger: 0 };
    entry[path] += n;
    if (path === "native") this.#stats.nativeOps += n;
    else this.#stats.debuggerOps += n;
  }

  /**
   * Decides where each slot's code runs and what must be written. The
   * batch code is position-independent, so harts running the same
   * operations share one copy in the code cache: QEMU then translates it
   * once for all of them, and not again in later rounds (nothing rewrites
   * it). Code that finds no free cache slot runs from the hart's own area.
   * Unchanged code and operands are not written again.
   */
  #place(slots: Slot[]): void {
    const round = this.#stats.rounds;
    const placed = new Map<string, number>();
    for (const slot of slots) {
      const hart = slot.job.hart;
      const compiled = compileBatch(slot.work + WORK.code, slot.ops);
      const key = bytesToHex(compiled.code);
      let address = placed.get(key);
      if (address === undefined) {
        const taken = this.#cache.take(key, round);
        if (taken !== undefined) {
          address = codeSlotOf(this.layout, taken.slot);
          placed.set(key, address);
          if (taken.fresh) {
            slot.writes.push(...writePackets(address, compiled.code));
            this.#stats.codeWrites++;
          }
        }
      }
      if (address === undefined) {
        address = slot.work + WORK.code;
        if (this.#ownCode.get(hart) !== key) {
          slot.writes.push(...writePackets(address, compiled.code));
          this.#ownCode.set(hart, key);
          this.#stats.codeWrites++;
        }
      }
      slot.code = address;
      const operands = bytesToHex(compiled.operands);
      if (operands !== "" && this.#ownOperands.get(hart) !== operands) {
        slot.writes.push(...writePackets(slot.work + WORK.operands, compiled.operands));
        this.#ownOperands.set(hart, operands);
      }
    }
  }

  /** Where a stopped hart is, for an error message: `; it is in S-mode at pc 0x…`. */
  async #whereIs(hart: HartId): Promise<string> {
    try {
      const { gdb } = this.#session;
      const { codec } = gdb;
      const { level, pc, more } = await locateHart(gdb, hart, [
        codec.read(CSR.scause),
        codec.read(CSR.sepc),
      ]);
      const [scause, sepc] = [
        codec.readValue(hart, CSR.scause, more[0]!),
        codec.readValue(hart, CSR.sepc, more[1]!),
      ];
      return `; it is in ${level}-mode at pc ${hex(pc)}, scause ${hex(scause)}, sepc ${hex(sepc)}`;
    } catch {
      return "";
    }
  }

  /** Writes, wakes, runs and reads back every slot with one run of the VM. */
  async #resume(slots: Slot[]): Promise<void> {
    const { gdb, qmp } = this.#session;
    const { codec } = gdb;
    const t0 = performance.now();
    let live = slots;
    const fail = (slot: Slot, error: unknown) => {
      slot.job.error = error;
      live = live.filter((s) => s !== slot);
    };
    try {
      // 1. Code and operands; the wake-up state.
      this.#place(live);
      await Promise.all(live.map(async (slot) => {
        const writes = slot.writes;
        const replies = await gdb.exchangeOnHart(slot.job.hart, [
          ...writes,
          ...WAKE_STATE.map((csr) => codec.read(csr)),
        ]);
        const bad = replies.slice(0, writes.length).find((reply) => reply !== "OK");
        if (bad !== undefined) {
          throw new AxError(
            "Io",
            `Cannot write the batch code of hart ${slot.job.hart}: the gdbstub answered "${bad}"`,
            { hart: slot.job.hart },
          );
        }
        const hart = slot.job.hart;
        const [sie, sip, mideleg, mstatus] = replies.slice(writes.length).map((reply, i) =>
          codec.readValue(hart, WAKE_STATE[i]!, reply)
        ) as [bigint, bigint, bigint, bigint];
        if ((mideleg & IP.SSIP) === 0n) {
          fail(
            slot,
            new AxError(
              "BadState",
              `Cannot run native operations on hart ${hart}: mideleg (${
                hex(mideleg)
              }) no longer delegates ` +
                `the supervisor software interrupt (bit 1), which wakes the agent`,
              { hart },
            ),
          );
          return;
        }
        const hostile = (mstatus & STATUS.SIE) !== 0n
          ? "SIE set, so the agent would take its own wake-up interrupt"
          : (mstatus & (STATUS.TW | STATUS.TSR)) !== 0n
          ? "TW or TSR set, which traps the agent's wfi or sret"
          : undefined;
        if (hostile !== undefined) {
          fail(
            slot,
            new AxError(
              "BadState",
              `Cannot run native operations on hart ${hart}: mstatus (${
                hex(mstatus)
              }) has ${hostile}`,
              { hart },
            ),
          );
          return;
        }
        const wake: string[] = [];
        if ((sip & IP.SSIP) === 0n) {
          slot.restore |= RESTORE_SSIP;
          wake.push(codec.write(CSR.sip, sip | IP.SSIP));
        }
        if ((sie & IP.SSIP) === 0n) {
          slot.restore |= RESTORE_SSIE;
          wake.push(codec.write(CSR.sie, sie | IP.SSIP));
        }
        const box = new Uint8Array(32);
        const view = new DataView(box.buffer);
        view.setUint32(MAILBOX.seq, slot.seq, true);
        view.setUint32(MAILBOX.restore, slot.restore, true);
        view.setBigUint64(MAILBOX.code, BigInt(slot.code), true);
        view.setBigUint64(MAILBOX.operands, BigInt(slot.work + WORK.operands), true);
        view.setBigUint64(MAILBOX.results, BigInt(slot.work + WORK.results), true);
        const more = await gdb.exchangeOnHart(hart, [
          ...wake,
          ...writePackets(mailboxOf(this.layout, hart), box),
        ]);
        const refused = more.find((reply) => reply !== "OK");
        if (refused !== undefined) {
          throw new AxError(
            "Io",
            `Cannot wake hart ${hart}: the gdbstub answered "${refused}"`,
            { hart },
          );
        }
      }));
      if (live.length === 0) return;
      // 2. Run every hart of the round at once.
      const t1 = performance.now();
      this.#stats.resumes++;
      const runFor = Math.max(this.#timeoutMs, 10 * live.length);
      this.#session.resume(runFor);
      const first = Math.min(...live.map((slot) => slot.job.hart));
      const last = Math.max(...live.map((slot) => slot.job.hart));
      const deadline = t1 + runFor;
      let polls = 0;
      for (;;) {
        const words = await readWordsOverQmp(qmp, this.layout.done + 4 * first, last - first + 1);
        polls++;
        for (const slot of live) slot.done = words[slot.job.hart - first] === slot.seq;
        if (live.every((slot) => slot.done) || performance.now() > deadline) break;
        if (polls > 4) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await this.#session.stop();
      this.#stats.polls += polls;
      const t2 = performance.now();
      for (const slot of live) {
        this.#seq.set(slot.job.hart, slot.seq);
        if (slot.done) continue;
        const hart = slot.job.hart;
        const error = new AxError(
          "Timeout",
          `Cannot run native operations on hart ${hart}: it did not finish within ` +
            `${Math.round(deadline - t1)} ms (its batch began with ${slot.ops[0]!.op} CSR ${
              hex(BigInt(slot.ops[0]!.csr))
            }${await this.#whereIs(hart)}); the hart is left out of later operations`,
          { hart },
        );
        this.#wedged.set(hart, error);
        fail(slot, error);
      }
      // 3. Results and interrupt counters.
      await Promise.all(live.map(async (slot) => {
        const hart = slot.job.hart;
        const length = slot.ops.length * WORK.resultSize;
        const replies = await gdb.exchangeOnHart(hart, [
          ...readPackets(slot.work + WORK.results, length),
          ...readPackets(mailboxOf(this.layout, hart) + MAILBOX.irqCause, 16),
        ]);
        const chunks = readPackets(0, length).length;
        const bytes = joinReads(replies.slice(0, chunks), length);
        const irq = new DataView(joinReads(replies.slice(chunks), 16).buffer);
        const irqCount = irq.getUint32(MAILBOX.irqCount - MAILBOX.irqCause, true);
        const before = this.#irqCounts.get(hart) ?? 0;
        if (irqCount !== before) {
          this.#stats.interrupts += (irqCount - before) >>> 0;
          this.#irqCounts.set(hart, irqCount);
        }
        const { results } = decodeResults(bytes, slot.ops.length);
        for (const result of results) slot.job.results.push({ ...result, via: "native" });
        slot.job.cursor += slot.ops.length;
        this.#count(hart, "native", slot.ops.length);
      }));
      this.#stats.lastResume = {
        harts: live.length,
        prepareMs: t1 - t0,
        runMs: t2 - t1,
        readMs: performance.now() - t2,
      };
    } catch (error) {
      // The VM's state is unknown: leave it stopped if the connection allows.
      if (this.#session.running) await this.#session.stop().catch(() => {});
      for (const slot of live) {
        if (slot.job.error === undefined) slot.job.error = error;
      }
    }
  }
}

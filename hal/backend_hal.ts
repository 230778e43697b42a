/**
 * The one backend runtime: everything the `AxVCpuHal` contract asks of every
 * backend, written once. A backend (emulator, QEMU, replay, the recorder, a
 * third-party plugin) supplies a {@linkcode HalBackend}, its primitive
 * accesses on checked operations; {@linkcode BackendHal} adds argument
 * checking (hart, CSR number, 64-bit range), the one batch encoding,
 * per-hart ordering, the closed and lost states, single operations as
 * one-operation batches with traps turned into `CsrTrap`, and the host
 * memory (frames, linear map).
 *
 * @module
 */

import { assertCsrNumber } from "./csr_numbers.ts";
import { AxError, CsrTrap } from "./errors.ts";
import { ALL_ONES } from "./csr_fields.ts";
import { HostMemory } from "./host_memory.ts";
import type { RamRegion } from "./frame_allocator.ts";
import { registerSyncBatch, registerWordPort, type WordPort, wordRunnerOf } from "./_sync_batch.ts";
import {
  bigintOf,
  csrResults,
  encodeOps,
  OP_KIND,
  putBigint,
  WordBatch,
  type WordResults,
  wordResults,
  type WordRunner,
} from "./_word_batch.ts";
import type { AxVCpuHal, CsrNum, CsrOp, CsrPort, CsrResult, HalInfo, HartId } from "./types.ts";

/**
 * One operation after {@linkcode BackendHal} checked it: a `CsrOp` of a known
 * kind, with a 12-bit CSR number and, for `write`/`set`/`clear`, a value
 * folded into 64 bits (so `-1n` arrives as all ones). A backend only ever
 * sees these, and may pass them on as they are (they are valid `CsrOp`s).
 *
 * @example Usage
 * ```ts
 * import { BackendHal, CSR } from "@rvhv/percpu";
 * import { type CheckedCsrOp } from "./backend_hal.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const seen: CheckedCsrOp[] = [];
 * const hal = new BackendHal({
 *   name: "spy",
 *   harts: [0],
 *   info: () => ({ backend: "spy", isa: "rv64imafdch" }),
 *   synchronous: true,
 *   run: (_hart, ops) => ops.map((op) => (seen.push(op), { ok: true as const, value: 0n })),
 * });
 * await hal.csr.write(0, CSR.sscratch, -1n);
 * await hal.csr.read(0, CSR.sscratch);
 * deepStrictEqual(seen, [
 *   { op: "write", csr: CSR.sscratch, value: 0xffff_ffff_ffff_ffffn },
 *   { op: "read", csr: CSR.sscratch },
 * ]);
 * ```
 */
export type CheckedCsrOp = Readonly<CsrOp>;

/**
 * What a backend supplies to {@linkcode BackendHal}: its harts, its
 * description, and the one primitive that executes checked operations on a
 * hart. Everything else (checks, ordering, closed state, frames) is the
 * runtime's.
 *
 * @example A backend of one hart with one scratch CSR
 * ```ts
 * import { BackendHal, CSR, CsrTrap, type HalBackend } from "@rvhv/percpu";
 * import { rejects, strictEqual } from "node:assert/strict";
 *
 * let scratch = 0n;
 * const backend: HalBackend = {
 *   name: "scratch",
 *   harts: [0],
 *   info: () => ({ backend: "scratch", isa: "rv64imac" }),
 *   synchronous: true,
 *   run: (_hart, ops) =>
 *     ops.map((op) => {
 *       if (op.csr !== CSR.sscratch) return { ok: false as const, trapCause: 2 };
 *       const old = scratch;
 *       if (op.op === "write") scratch = op.value;
 *       if (op.op === "set") scratch |= op.value;
 *       if (op.op === "clear") scratch &= ~op.value;
 *       return { ok: true as const, value: old };
 *     }),
 * };
 * const hal = new BackendHal(backend);
 * await hal.csr.write(0, CSR.sscratch, 7n);
 * strictEqual(await hal.csr.read(0, CSR.sscratch), 7n);
 * await rejects(hal.csr.read(0, CSR.hgatp), CsrTrap); // traps become CsrTrap
 * await rejects(hal.csr.read(1, CSR.sscratch), /has hart 0/); // checked before run
 * await hal.close();
 * ```
 */
export interface HalBackend {
  /** The backend's name, as in `info().backend`; messages say "the <name> backend". */
  readonly name: string;
  /** The harts, ascending. */
  readonly harts: readonly HartId[];
  /** Describes the backend (called on every `info()`, so it may change, e.g. after a reset). */
  info(): HalInfo;
  /**
   * Executes checked operations on one hart, in order (`ops` are
   * {@linkcode CheckedCsrOp}s: known kinds, 12-bit CSR numbers, values within
   * 64 bits, `-1n` already all ones); a trap is reported in
   * its result and does not stop later operations. Batches on one hart reach
   * `run` one after another (the next starts when this one settles, or when
   * `release` is called: a backend that pipelines calls it once its requests
   * are on their way). Throw (or reject) for a failure that is not a trap.
   */
  run(
    hart: HartId,
    ops: readonly CsrOp[],
    release: () => void,
  ): CsrResult[] | Promise<CsrResult[]>;
  /**
   * `true` when `run` always answers before it returns (an in-process
   * backend): the per-CPU core then sets harts up without a promise per hart.
   */
  readonly synchronous?: boolean;
  /**
   * Throws when the backend cannot serve this CSR at all (as opposed to the
   * hart trapping on it); checked for every operation before any runs.
   */
  checkCsr?(csr: CsrNum): void;
  /** Why the backend can no longer be reached (QEMU exited), or `undefined`. */
  lost?(): AxError | undefined;
  /**
   * Frames and the linear map served by something else (a wrapper forwards
   * its inner backend's); when given, `ram` and `physVirtOffset` are unused.
   */
  readonly memory?: Pick<AxVCpuHal, "allocFrame" | "deallocFrame" | "physToVirt" | "virtToPhys">;
  /** The host RAM frames come from. Default: 128 MiB at `0x8000_0000`. */
  readonly ram?: { readonly base: bigint; readonly size: bigint };
  /** The linear map's offset. Default: ArceOS riscv64's (`DEFAULT_PHYS_VIRT_OFFSET`). */
  readonly physVirtOffset?: bigint;
  /** The pending host interrupt. Default: none (0). */
  irqFetch?(): number;
  /** Releases the backend; called once, by the first `close()`. */
  close?(): void | Promise<void>;
}

/** The RAM a backend gets when it names none: the emulator's default. */
const DEFAULT_RAM: RamRegion = Object.freeze({ base: 0x8000_0000n, size: 128n << 20n });
const OP_KINDS: ReadonlySet<string> = new Set(["read", "write", "set", "clear"]);
const SIGNED_MIN = -(1n << 63n);

/** Describes a hart list for a message: `0 to 63`, or `0, 2, 5`. */
export function describeHarts(harts: readonly HartId[]): string {
  if (harts.length === 0) return "no harts";
  const contiguous = harts.every((hart, i) => hart === harts[0]! + i);
  if (harts.length > 8 || (contiguous && harts.length > 2)) {
    return `harts ${harts[0]} to ${harts.at(-1)}`;
  }
  return `hart${harts.length === 1 ? "" : "s"} ${harts.join(", ")}`;
}

/**
 * Folds a CSR operand into 64 bits. Negative values down to `-2⁶³` are
 * two's complement (`-1n` is all ones).
 *
 * @throws {AxError} Kind `"InvalidInput"` for a value that is not a bigint.
 * @throws {RangeError} For a value outside 64 bits.
 */
export function xlenValue(value: unknown, where: string): bigint {
  if (typeof value !== "bigint") {
    throw new AxError(
      "InvalidInput",
      `Cannot run ${where}: CSR values are bigint, got ${typeof value}`,
    );
  }
  if (value >= 0n && value <= ALL_ONES) return value;
  if (value < SIGNED_MIN || value > ALL_ONES) {
    throw new RangeError(
      `Cannot run ${where}: value ${value} is outside 64 bits (expected -2^63 to 2^64 - 1)`,
    );
  }
  return BigInt.asUintN(64, value);
}

/**
 * The `AxVCpuHal` of a backend: the runtime every backend shares around
 * its {@linkcode HalBackend}. Subclasses add typed extras (the emulator's
 * `machine`, QEMU's `reset()`); the contract's optional capabilities
 * (`reset`, `stats`, `accessPath`, `trace`) say which a backend has.
 *
 * @example Usage
 * ```ts
 * import { BackendHal, CSR } from "@rvhv/percpu";
 * import { rejects, strictEqual } from "node:assert/strict";
 *
 * const regs = new Map<number, bigint>();
 * const hal = new BackendHal({
 *   name: "map",
 *   harts: [0, 1],
 *   info: () => ({ backend: "map", isa: "rv64imafdch" }),
 *   run: async (_hart, ops) =>
 *     ops.map((op) => {
 *       const old = regs.get(op.csr) ?? 0n;
 *       const next = op.op === "write" ? op.value : op.op === "set" ? old | op.value
 *         : op.op === "clear" ? old & ~op.value : old;
 *       regs.set(op.csr, next);
 *       return { ok: true as const, value: old };
 *     }),
 * });
 * await hal.csr.write(1, CSR.sscratch, 5n);
 * strictEqual(await hal.csr.set(1, CSR.sscratch, 2n), 5n);
 * strictEqual(await hal.csr.read(1, CSR.sscratch), 7n);
 * await rejects(hal.csr.write(0, CSR.sscratch, 1n << 64n), RangeError);
 * const frame = hal.allocFrame()!;
 * strictEqual(hal.virtToPhys(hal.physToVirt(frame)), frame);
 * await hal.close();
 * await rejects(hal.csr.read(0, CSR.sscratch), /the map backend is closed/);
 * ```
 */
export class BackendHal implements AxVCpuHal {
  /** The harts, ascending. */
  readonly harts: readonly HartId[];
  /** CSR access to the harts. */
  readonly csr: CsrPort;
  #backend: HalBackend;
  #hartSet: ReadonlySet<HartId> | undefined;
  #lastHart: number;
  #memory: Pick<AxVCpuHal, "allocFrame" | "deallocFrame" | "physToVirt" | "virtToPhys"> | undefined;
  #tails: Map<HartId, Promise<void>> = new Map();
  #checked: WeakMap<readonly CsrOp[], readonly CheckedCsrOp[]> = new WeakMap();
  /** The in-process word runner the backend registered, if any. */
  #runner: WordRunner | undefined;
  /** Encoded forms of the frozen (cached) checked batches. */
  #encoded: WeakMap<readonly CheckedCsrOp[], WordBatch> = new WeakMap();
  /** Where a word run's results land before they become `CsrResult`s. */
  #results: WordResults = wordResults(32);
  /** The batch a single operation runs as, on the word runner. */
  #single1: WordBatch = new WordBatch(1);
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * Builds the runtime around a backend.
   *
   * @param backend What the backend supplies.
   */
  constructor(backend: HalBackend) {
    this.#backend = backend;
    // A frozen list is kept as it is: a machine of 65,536 harts needs one copy.
    this.harts = Object.isFrozen(backend.harts) ? backend.harts : Object.freeze([...backend.harts]);
    // Harts 0..n-1 (every built-in backend) are checked by range: no set of
    // 65,536 numbers for a large emulated machine.
    const dense = this.harts.every((hart, i) => hart === i);
    this.#lastHart = dense ? this.harts.length - 1 : -1;
    this.#hartSet = dense ? undefined : new Set(this.harts);
    const port: CsrPort = {
      read: (hart, csr) => this.#single(hart, "read", csr, 0n),
      write: (hart, csr, value) => this.#single(hart, "write", csr, value),
      set: (hart, csr, mask) => this.#single(hart, "set", csr, mask),
      clear: (hart, csr, mask) => this.#single(hart, "clear", csr, mask),
      batch: (hart, ops) => this.#batch(hart, ops),
    };
    this.csr = Object.freeze(port);
    if (backend.synchronous === true) {
      registerSyncBatch(port, (hart, ops) => this.#runSync(hart, this.#check(hart, ops)));
      const runner = wordRunnerOf(backend);
      this.#runner = runner;
      if (runner !== undefined) {
        const compile = (hart: HartId, ops: readonly CsrOp[]) =>
          this.#encode(this.#check(hart, ops));
        registerWordPort(port, new RuntimeWordPort(this, runner, compile));
      }
    }
  }

  /** Describes the backend. */
  info(): HalInfo {
    return this.#backend.info();
  }

  /** Whether {@linkcode BackendHal.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Throws when a hart cannot be reached: closed or lost backend, unknown hart.
   *
   * @param hart The hart.
   * @throws {AxError} Kind `"BadState"` after `close()`, `"Io"` when the
   *   backend is lost, `"NotFound"` for a hart it does not have.
   */
  checkHart(hart: HartId): void {
    if (this.#closed) {
      throw new AxError(
        "BadState",
        `Cannot access hart ${hart}: the ${this.#backend.name} backend is closed`,
        { hart },
      );
    }
    const lost = this.#backend.lost?.();
    if (lost !== undefined) {
      throw new AxError("Io", `Cannot access hart ${hart}: ${lost.message}`, { hart, cause: lost });
    }
    const known = this.#hartSet === undefined
      ? Number.isInteger(hart) && hart >= 0 && hart <= this.#lastHart
      : this.#hartSet.has(hart);
    if (!known) {
      throw new AxError(
        "NotFound",
        `Cannot access hart ${hart}: the ${this.#backend.name} backend has ${
          describeHarts(this.harts)
        }`,
        { hart },
      );
    }
  }

  #memoryOf(): Pick<AxVCpuHal, "allocFrame" | "deallocFrame" | "physToVirt" | "virtToPhys"> {
    return this.#memory ??= this.#backend.memory ?? new HostMemory(
      this.#backend.ram ?? DEFAULT_RAM,
      ...(this.#backend.physVirtOffset === undefined ? [] : [this.#backend.physVirtOffset]),
    );
  }

  /** Allocates one 4 KiB frame; `undefined` when none is left. */
  allocFrame(): bigint | undefined {
    return this.#memoryOf().allocFrame();
  }

  /** Returns a frame from {@linkcode BackendHal.allocFrame}. */
  deallocFrame(pa: bigint): void {
    this.#memoryOf().deallocFrame(pa);
  }

  /** Host physical to host virtual address (ArceOS's riscv64 linear map by default). */
  physToVirt(pa: bigint): bigint {
    return this.#memoryOf().physToVirt(pa);
  }

  /** Host virtual to host physical address. */
  virtToPhys(va: bigint): bigint {
    return this.#memoryOf().virtToPhys(va);
  }

  /** The pending host interrupt (0 when there is none). */
  irqFetch(): number {
    return this.#backend.irqFetch?.() ?? 0;
  }

  /** Releases the backend; later accesses reject with `BadState`. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await this.#backend.close?.();
    })();
    return this.#closing;
  }

  /** Closes the backend (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #single(hart: HartId, op: CsrOp["op"], csr: CsrNum, value: unknown): Promise<bigint> {
    let folded = 0n;
    try {
      this.checkHart(hart);
      // The message's text is built only when a check fails.
      if (typeof csr !== "number" || (csr & 0xfff) !== csr) {
        assertCsrNumber(csr, `CSR ${op} on hart ${hart}`);
      }
      this.#backend.checkCsr?.(csr);
      if (op !== "read") {
        folded = typeof value === "bigint" && value >= 0n && value <= ALL_ONES
          ? value
          : xlenValue(value, `CSR ${op} on hart ${hart}`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#runner !== undefined) {
      try {
        return Promise.resolve(this.#runSingle(hart, op, csr, folded));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const checked: readonly CheckedCsrOp[] = [
      op === "read" ? { op, csr } : { op, csr, value: folded },
    ];
    const unwrap = (results: CsrResult[]): bigint => {
      const result = results[0]!;
      if (result.ok) return result.value;
      throw new CsrTrap({ hart, csr, trapCause: result.trapCause, op });
    };
    if (this.#backend.synchronous === true) {
      try {
        return Promise.resolve(unwrap(this.#runSync(hart, checked)));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#ordered(hart, checked).then(unwrap);
  }

  /** One checked operation on the word runner: its value, or a `CsrTrap`. */
  #runSingle(hart: HartId, op: CsrOp["op"], csr: CsrNum, value: bigint): bigint {
    const batch = this.#single1;
    putBigint(batch.operands, 0, value);
    batch.set(0, OP_KIND[op], csr, batch.operands[0]!, batch.operands[1]!);
    const results = this.#results;
    if (this.#runner!.runWords(hart, batch, results) > 0) {
      throw new CsrTrap({ hart, csr, trapCause: results.causes[0]!, op });
    }
    return bigintOf(results.words, 0);
  }

  /** A checked batch as words: encoded once when it is a cached (frozen) one. */
  #encode(checked: readonly CheckedCsrOp[]): WordBatch {
    let batch = this.#encoded.get(checked);
    if (batch === undefined) {
      batch = encodeOps(checked);
      if (Object.isFrozen(checked)) this.#encoded.set(checked, batch);
    }
    return batch;
  }

  #batch(hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> {
    let checked: readonly CheckedCsrOp[];
    try {
      checked = this.#check(hart, ops);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#backend.synchronous === true) {
      try {
        return Promise.resolve(this.#runSync(hart, checked));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#ordered(hart, checked);
  }

  #runSync(hart: HartId, ops: readonly CheckedCsrOp[]): CsrResult[] {
    const runner = this.#runner;
    if (runner === undefined) return this.#backend.run(hart, ops, noop) as CsrResult[];
    const batch = this.#encode(ops);
    if (this.#results.causes.length < batch.length) this.#results = wordResults(batch.length);
    runner.runWords(hart, batch, this.#results);
    return csrResults(this.#results, batch.length);
  }

  /** Runs a batch after the earlier batches on its hart. */
  #ordered(hart: HartId, ops: readonly CheckedCsrOp[]): Promise<CsrResult[]> {
    const previous = this.#tails.get(hart);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.#tails.set(hart, mine);
    const done = () => {
      release();
      if (this.#tails.get(hart) === mine) this.#tails.delete(hart);
    };
    const run = async (): Promise<CsrResult[]> => {
      if (previous !== undefined) await previous;
      return await this.#backend.run(hart, ops, release);
    };
    return run().finally(done);
  }

  /**
   * Checks a batch: the hart, then every operation before any runs (so a
   * malformed batch changes nothing). A frozen batch (the per-CPU set-up's)
   * is checked once and the result reused for every hart.
   */
  #check(hart: HartId, ops: readonly CsrOp[]): readonly CheckedCsrOp[] {
    this.checkHart(hart);
    const cached = this.#checked.get(ops);
    if (cached !== undefined) return cached;
    if (!Array.isArray(ops)) {
      throw new AxError(
        "InvalidInput",
        `Cannot run a CSR batch on hart ${hart}: ops is not an array`,
      );
    }
    const checked = new Array<CheckedCsrOp>(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const where = `operation ${i} of a CSR batch on hart ${hart}`;
      if (op === null || typeof op !== "object" || !OP_KINDS.has(op.op)) {
        throw new AxError(
          "InvalidInput",
          `Cannot run ${where}: op must be read, write, set or clear`,
        );
      }
      assertCsrNumber(op.csr, where);
      this.#backend.checkCsr?.(op.csr);
      checked[i] = op.op === "read"
        ? { op: "read", csr: op.csr }
        : { op: op.op, csr: op.csr, value: xlenValue(op.value, where) };
    }
    if (Object.isFrozen(ops) && ops.every((op) => Object.isFrozen(op))) {
      this.#checked.set(ops, Object.freeze(checked));
    }
    return checked;
  }
}

function noop(): void {}

/** The word form of a runtime's port, for a backend that runs words at once. */
class RuntimeWordPort implements WordPort {
  #runtime: BackendHal;
  #runner: WordRunner;
  #compile: (hart: HartId, ops: readonly CsrOp[]) => WordBatch;

  constructor(
    runtime: BackendHal,
    runner: WordRunner,
    compile: (hart: HartId, ops: readonly CsrOp[]) => WordBatch,
  ) {
    this.#runtime = runtime;
    this.#runner = runner;
    this.#compile = compile;
  }

  compile(hart: HartId, ops: readonly CsrOp[]): WordBatch {
    return this.#compile(hart, ops);
  }

  run(hart: HartId, batch: WordBatch, results: WordResults, at = 0): number {
    this.#runtime.checkHart(hart);
    return this.#runner.runWords(hart, batch, results, at);
  }
}

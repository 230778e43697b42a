/**
 * A {@linkcode CsrPort} over a synchronous CSR executor: argument checks,
 * hart look-up, trap-to-error mapping and batching in one place, so an
 * in-process backend only has to execute one access.
 *
 * @module
 */

import { ALL_ONES } from "./csr_blocks.ts";
import { assertCsrNumber } from "./csr_numbers.ts";
import { AxError, CsrTrap } from "./errors.ts";
import type { CsrNum, CsrOp, CsrPort, CsrResult, HartId } from "./types.ts";

/**
 * What a {@linkcode SyncCsrPort} drives: the one method an in-process
 * backend has to write, plus its hart check.
 *
 * @example A backend with one hart and one CSR
 * ```ts
 * import { AxError, CSR, CsrTrap, type HartId, type SyncCsrExecutor, SyncCsrPort } from "@rvhv/percpu";
 * import { rejects, strictEqual } from "node:assert/strict";
 *
 * class ScratchOnly implements SyncCsrExecutor {
 *   trapCause = 0;
 *   #sscratch = 0n;
 *   checkHart(hart: HartId): void {
 *     if (hart !== 0) throw new AxError("NotFound", `Cannot find hart ${hart}: there is only hart 0`);
 *   }
 *   execute(_hart: HartId, csr: number, value: bigint, mask: bigint): bigint | undefined {
 *     if (csr !== CSR.sscratch) {
 *       this.trapCause = 2; // illegal instruction
 *       return undefined;
 *     }
 *     const old = this.#sscratch;
 *     this.#sscratch = (old & ~mask) | (value & mask);
 *     return old;
 *   }
 * }
 *
 * const port = new SyncCsrPort(new ScratchOnly());
 * await port.write(0, CSR.sscratch, 7n);
 * strictEqual(await port.read(0, CSR.sscratch), 7n);
 * await rejects(port.read(0, CSR.hgatp), CsrTrap);
 * await rejects(port.read(1, CSR.sscratch), (e) => e instanceof AxError && e.kind === "NotFound");
 * ```
 */
export interface SyncCsrExecutor {
  /**
   * Executes one access on a hart that exists. Returns the value read, or
   * `undefined` when the hart trapped (the cause is then in `trapCause`).
   * May throw an `AxError` for a failure that is not a trap.
   */
  execute(hart: HartId, csr: CsrNum, value: bigint, mask: bigint): bigint | undefined;
  /** The cause of the last trap `execute` reported. */
  readonly trapCause: number;
  /**
   * Throws (an `AxError` of kind `"NotFound"` or `"BadState"`) when the hart
   * cannot be reached; called before anything is executed.
   */
  checkHart(hart: HartId): void;
  /**
   * Throws when the backend cannot serve this CSR at all (as opposed to the
   * hart trapping on it); called for every operation before any runs.
   */
  checkCsr?(csr: CsrNum): void;
}

const OPS: ReadonlySet<string> = new Set(["read", "write", "set", "clear"]);

/** A checked batch: one (csr, value, mask) per operation. */
interface CompiledBatch {
  readonly csrs: readonly CsrNum[];
  readonly values: readonly bigint[];
  readonly masks: readonly bigint[];
}

/** Validates a value and folds it into 64 bits (so `-1n` means all ones). */
function toXlen(value: unknown, where: string): bigint {
  if (typeof value !== "bigint") {
    throw new AxError(
      "InvalidInput",
      `Cannot run ${where}: CSR values are bigint, got ${typeof value}`,
    );
  }
  return value < 0n || value > ALL_ONES ? BigInt.asUintN(64, value) : value;
}

/**
 * Adapts a {@linkcode SyncCsrExecutor} to the asynchronous {@linkcode CsrPort}.
 *
 * @example Usage
 * ```ts
 * import { SyncCsrPort } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const regs = new Map<number, bigint>();
 * const port = new SyncCsrPort({
 *   trapCause: 0,
 *   checkHart: () => {},
 *   execute(_hart, csr, value, mask) {
 *     const old = regs.get(csr) ?? 0n;
 *     if (mask !== 0n) regs.set(csr, (old & ~mask) | (value & mask));
 *     return old;
 *   },
 * });
 * await port.write(0, 0x140, 5n);
 * strictEqual(await port.read(0, 0x140), 5n);
 * ```
 */
export class SyncCsrPort implements CsrPort {
  #exec: SyncCsrExecutor;
  #compiled: WeakMap<readonly CsrOp[], CompiledBatch> = new WeakMap();

  /**
   * Creates a port.
   *
   * @param executor What executes the accesses.
   */
  constructor(executor: SyncCsrExecutor) {
    this.#exec = executor;
  }

  #one(
    op: "read" | "write" | "set" | "clear",
    hart: HartId,
    csr: CsrNum,
    value: bigint,
    mask: bigint,
  ): Promise<bigint> {
    try {
      this.#exec.checkHart(hart);
      assertCsrNumber(csr, `CSR ${op} on hart ${hart}`);
      this.#exec.checkCsr?.(csr);
      const result = this.#exec.execute(hart, csr, value, mask);
      if (result === undefined) {
        return Promise.reject(new CsrTrap({ hart, csr, trapCause: this.#exec.trapCause, op }));
      }
      return Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Reads the value. */
  read(hart: HartId, csr: CsrNum): Promise<bigint> {
    return this.#one("read", hart, csr, 0n, 0n);
  }

  /** Writes the value. */
  write(hart: HartId, csr: CsrNum, value: bigint): Promise<bigint> {
    try {
      return this.#one("write", hart, csr, toXlen(value, "CSR write"), ALL_ONES);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `csrrs`: sets bits, resolves the old value. */
  set(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint> {
    try {
      return this.#one("set", hart, csr, ALL_ONES, toXlen(mask, "CSR set"));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `csrrc`: clears bits, resolves the old value. */
  clear(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint> {
    try {
      return this.#one("clear", hart, csr, 0n, toXlen(mask, "CSR clear"));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Runs operations on one hart, in order; traps are reported in place. */
  batch(hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> {
    try {
      return Promise.resolve(this.batchSync(hart, ops));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The synchronous form of {@linkcode SyncCsrPort.batch}: every operation
   * is checked before the first one runs, so a malformed batch changes nothing.
   *
   * @param hart The hart.
   * @param ops The operations.
   * @returns One result per operation.
   */
  batchSync(hart: HartId, ops: readonly CsrOp[]): CsrResult[] {
    const exec = this.#exec;
    exec.checkHart(hart);
    let batch = this.#compiled.get(ops);
    if (batch === undefined) {
      batch = this.#compile(hart, ops);
      // Frozen batches (the per-CPU set-up's) are checked once, not per hart.
      if (Object.isFrozen(ops) && ops.every((op) => Object.isFrozen(op))) {
        this.#compiled.set(ops, batch);
      }
    }
    const { csrs, values, masks } = batch;
    const results = new Array<CsrResult>(csrs.length);
    for (let i = 0; i < csrs.length; i++) {
      const value = exec.execute(hart, csrs[i]!, values[i]!, masks[i]!);
      results[i] = value === undefined
        ? { ok: false, trapCause: exec.trapCause }
        : { ok: true, value };
    }
    return results;
  }

  /** Checks every operation and turns it into (csr, value, mask). */
  #compile(hart: HartId, ops: readonly CsrOp[]): CompiledBatch {
    if (!Array.isArray(ops)) {
      throw new AxError(
        "InvalidInput",
        `Cannot run a CSR batch on hart ${hart}: ops is not an array`,
      );
    }
    const csrs = new Array<CsrNum>(ops.length);
    const values = new Array<bigint>(ops.length);
    const masks = new Array<bigint>(ops.length);
    const where = (i: number) => `operation ${i} of a CSR batch on hart ${hart}`;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op === null || typeof op !== "object" || !OPS.has(op.op)) {
        throw new AxError(
          "InvalidInput",
          `Cannot run ${where(i)}: op must be read, write, set or clear`,
        );
      }
      assertCsrNumber(op.csr, where(i));
      this.#exec.checkCsr?.(op.csr);
      csrs[i] = op.csr;
      switch (op.op) {
        case "read":
          values[i] = 0n;
          masks[i] = 0n;
          break;
        case "write":
          values[i] = toXlen(op.value, where(i));
          masks[i] = ALL_ONES;
          break;
        case "set":
          values[i] = ALL_ONES;
          masks[i] = toXlen(op.value, where(i));
          break;
        case "clear":
          values[i] = 0n;
          masks[i] = toXlen(op.value, where(i));
          break;
      }
    }
    return { csrs, values, masks };
  }
}

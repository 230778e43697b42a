/**
 * Per-batch machine code for native access: each CSR operation becomes a
 * real `csrrw`/`csrrs`/`csrrc` (the CSR number is an immediate), plus the
 * loads and stores that move its operand and result; and the rules that say
 * which operations run natively, which go through the debugger, and which
 * native execution cannot express.
 *
 * Needs no permissions.
 *
 * @module
 */

import { AxError } from "../../../hal/errors.ts";
import { CSR, csrName } from "../../../hal/csr_numbers.ts";
import { ATP, STATUS } from "../../../hal/csr_fields.ts";
import { hex } from "../../../hal/hex.ts";
import type { CheckedCsrOp } from "../../../hal/backend_hal.ts";
import type { CsrNum, CsrResult } from "../../../hal/types.ts";
import type { CsrAccessPath } from "../_csr_access.ts";
import { Assembler, type CsrForm } from "./_rv_asm.ts";
import { WORK } from "./_agent.ts";

/**
 * The path a CSR takes under native access: CSRs whose privilege field
 * (address bits 9:8) is machine level (`0b11`: `0x3xx`, `0x7xx`, `0xbxx`,
 * `0xfxx`) cannot be reached from HS-mode and are served through the
 * debugger while the VM is stopped; every other CSR (user, supervisor,
 * hypervisor and VS level) runs as a real instruction on the hart.
 *
 * @example Usage
 * ```ts
 * import { csrAccessPath } from "./_codegen.ts";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(csrAccessPath(CSR.hedeleg), "native");
 * strictEqual(csrAccessPath(CSR.sie), "native");
 * strictEqual(csrAccessPath(CSR.mideleg), "debugger");
 * strictEqual(csrAccessPath(CSR.mhartid), "debugger");
 * ```
 *
 * @param csr The CSR address.
 * @returns `"native"` or `"debugger"`.
 */
export function csrAccessPath(csr: CsrNum): CsrAccessPath {
  return ((csr >> 8) & 3) === 3 ? "debugger" : "native";
}

/**
 * The operand an operation writes, or `undefined` when it writes nothing (a
 * read; a `set`/`clear` with a zero mask, which uses `rs1 = x0`).
 */
function written(op: CheckedCsrOp): bigint | undefined {
  if (op.op === "read" || (op.op !== "write" && op.value === 0n)) return undefined;
  return op.value;
}

/**
 * Why native execution cannot run an operation, or `undefined` when it can.
 * Two operations would take the agent itself down: turning on address
 * translation (`satp` with a non-Bare mode; the agent has no page tables)
 * and enabling supervisor interrupts (`sstatus.SIE`; the agent's wake-up is
 * an interrupt it must not take).
 *
 * @example Usage
 * ```ts
 * import { inexpressible } from "./_codegen.ts";
 * import { CSR } from "@rvhv/percpu";
 * import { ok, strictEqual } from "node:assert/strict";
 *
 * ok(inexpressible({ op: "write", csr: CSR.satp, value: 8n << 60n })); // Sv39
 * strictEqual(inexpressible({ op: "write", csr: CSR.satp, value: 0n }), undefined);
 * ```
 *
 * @param op The operation.
 * @returns The reason, or `undefined`.
 */
export function inexpressible(op: CheckedCsrOp): string | undefined {
  const value = written(op);
  if (value === undefined || op.op === "clear") return undefined;
  if (op.csr === CSR.satp && (value & ATP.MODE) !== 0n) {
    return `it could turn on address translation (MODE bits in ${hex(value)}), ` +
      `and the agent runs without page tables`;
  }
  if (op.csr === CSR.sstatus && (value & STATUS.SIE) !== 0n) {
    return "it would set sstatus.SIE, and the agent is woken by an interrupt it must not take";
  }
  return undefined;
}

/**
 * Rejects operations native execution cannot express, before anything runs.
 *
 * @example Usage
 * ```ts
 * import { checkExpressible } from "./_codegen.ts";
 * import { CSR } from "@rvhv/percpu";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => checkExpressible(0, [{ op: "set", csr: CSR.sstatus, value: 2n }]), /sstatus\.SIE/);
 * ```
 *
 * @param hart The hart.
 * @param ops The operations.
 * @throws {AxError} Kind `"Unsupported"` naming the operation and why.
 */
export function checkExpressible(hart: number, ops: readonly CheckedCsrOp[]): void {
  ops.forEach((op, i) => {
    const why = inexpressible(op);
    if (why !== undefined) {
      throw new AxError(
        "Unsupported",
        `Cannot ${op.op} CSR "${csrName(op.csr)}" (${
          hex(BigInt(op.csr))
        }) natively on hart ${hart} ` +
          `(operation ${i} of the batch): ${why}`,
        { hart },
      );
    }
  });
}

/** The code and operands of one native run on one hart. */
export interface CompiledBatch {
  /** Machine code, to be written at the work area's code address. */
  readonly code: Uint8Array;
  /** Operands, 8 bytes each, for the operations that take one. */
  readonly operands: Uint8Array;
  /** How many result slots the code fills (one per operation). */
  readonly count: number;
}

/**
 * Compiles native operations into the agent's batch code. On entry `a1`
 * points at the operands and `a2` at the result slots; each operation
 * clears its trap word, runs its CSR instruction into `t0` (a trap skips it
 * and the handler fills the trap word), stores `t0`, and moves to the next
 * slot. Operations on `stvec` first put the value the agent keeps for it
 * (`s8`) in place and afterwards take what stuck back into `s8`, so the
 * agent's own trap handler stays installed.
 *
 * @example Usage
 * ```ts
 * import { compileBatch } from "./_codegen.ts";
 * import { CSR } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const batch = compileBatch(0x8022_0000, [{ op: "read", csr: CSR.hgatp }]);
 * strictEqual(batch.count, 1);
 * strictEqual(new DataView(batch.code.buffer).getUint32(4, true), 0x680022f3); // csrr t0, hgatp
 * ```
 *
 * @param origin The address the code will run at.
 * @param ops The operations (at most {@linkcode WORK}.maxOps).
 * @returns The code and operands.
 * @throws {RangeError} When there are too many operations.
 */
export function compileBatch(origin: number, ops: readonly CheckedCsrOp[]): CompiledBatch {
  if (ops.length > WORK.maxOps) {
    throw new RangeError(
      `Cannot compile ${ops.length} operations into one run: at most ${WORK.maxOps}`,
    );
  }
  const a = new Assembler(origin);
  const operands: bigint[] = [];
  for (const op of ops) {
    const form: CsrForm = op.op === "write" ? "csrrw" : op.op === "clear" ? "csrrc" : "csrrs";
    const value = written(op);
    const source = value === undefined ? "zero" : "t1";
    if (value !== undefined) {
      a.ld("t1", 0, "a1");
      a.addi("a1", "a1", 8);
      operands.push(BigInt.asUintN(64, value));
    }
    a.sd("zero", 8, "a2");
    if (op.csr === CSR.stvec) {
      a.csr("csrrw", "zero", CSR.stvec, "s8");
      a.csr(form, "t0", op.csr, source);
      a.csr("csrrw", "s8", CSR.stvec, "s9");
    } else {
      a.csr(form, "t0", op.csr, source);
    }
    a.sd("t0", 0, "a2");
    a.addi("a2", "a2", WORK.resultSize);
  }
  a.ret();
  const code = a.assemble();
  if (code.length > WORK.codeSize) {
    throw new RangeError(`Cannot compile the batch: its code is ${code.length} bytes`);
  }
  const bytes = new Uint8Array(operands.length * 8);
  const view = new DataView(bytes.buffer);
  operands.forEach((value, i) => view.setBigUint64(8 * i, value, true));
  return Object.freeze({ code, operands: bytes, count: ops.length });
}

/**
 * Decodes the result slots the batch code filled: the value, or the trap
 * the instruction raised (the handler stores `scause + 1`).
 *
 * @example Usage
 * ```ts
 * import { decodeResults } from "./_codegen.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const slot = new Uint8Array(24);
 * new DataView(slot.buffer).setBigUint64(8, 3n, true); // scause 2, plus one
 * deepStrictEqual(decodeResults(slot, 1).results, [{ ok: false, trapCause: 2 }]);
 * ```
 *
 * @param bytes The result slots, {@linkcode WORK}.resultSize bytes each.
 * @param count How many.
 * @returns One result per operation, and each trap's `stval`.
 * @throws {AxError} Kind `"InvalidData"` when a slot is cut short or holds an interrupt cause.
 */
export function decodeResults(
  bytes: Uint8Array,
  count: number,
): { results: CsrResult[]; stval: (bigint | undefined)[] } {
  if (bytes.length < count * WORK.resultSize) {
    throw new AxError(
      "InvalidData",
      `Cannot decode ${count} native results from ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const results: CsrResult[] = [];
  const stval: (bigint | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * WORK.resultSize;
    const trap = view.getBigUint64(at + 8, true);
    if (trap === 0n) {
      results.push({ ok: true, value: view.getBigUint64(at, true) });
      stval.push(undefined);
      continue;
    }
    const cause = trap - 1n;
    if (cause >> 63n !== 0n || cause > 0xffffn) {
      throw new AxError(
        "InvalidData",
        `Cannot decode native result ${i}: its trap word ${hex(trap)} is no exception cause`,
      );
    }
    results.push({ ok: false, trapCause: Number(cause) });
    stval.push(view.getBigUint64(at + 16, true));
  }
  return { results, stval };
}

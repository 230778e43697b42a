/**
 * The gdb CSR codec: the one place that knows how QEMU's gdbstub reads and
 * writes registers.
 *
 * - A CSR is register `csrBase + csr`; the base is `regnum(sstatus) - sstatus`
 *   from the target description (66 for `-cpu rv64`, but it moves with the
 *   F/D/V options), never a constant. Other registers (`pc`, `priv`) are
 *   numbered by the target description too.
 * - `p<regnum>` reads; the reply is 16 hex digits, least significant byte
 *   first. `E14` is the hart refusing the access: illegal instruction.
 * - `P<regnum>=<16 hex digits>` writes; QEMU answers `OK` to every `P`, kept
 *   or not, so only a read tells what stuck. Fewer than 16 digits would take
 *   the missing bytes from QEMU's previous packet: always send all 16.
 * - Anything else is a {@linkcode GdbProtocolError}.
 *
 * Needs no permissions.
 *
 * @module
 */

import { CSR, csrName } from "../../hal/csr_numbers.ts";
import { CsrTrap, GdbProtocolError } from "../../hal/errors.ts";
import { Exception } from "../../hal/trap_bits.ts";
import type { CsrNum, CsrOp, CsrResult, HartId } from "../../hal/types.ts";
import type { GdbRegister, TargetDescription } from "./_gdb_target.ts";

const HEX16_REGEXP = /^[0-9a-fA-F]{16}$/;
/** The gdbstub's answer to a read the hart refuses (QEMU's `RISCV_EXCP_ILLEGAL_INST` path). */
const REFUSED_REPLY = "E14";

/** What a refused access results in: an illegal-instruction trap. */
export const ILLEGAL_INSTRUCTION_TRAP: CsrResult = Object.freeze({
  ok: false,
  trapCause: Exception.ILLEGAL_INSTRUCTION,
});

/**
 * A 64-bit register value as gdb sends it for RISC-V: 16 hex digits, least
 * significant byte first.
 *
 * @example Usage
 * ```ts
 * import { encodeLe64 } from "./_gdb_codec.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(encodeLe64(0xb1ffn), "ffb1000000000000");
 * ```
 *
 * @param value The value (taken modulo 2^64).
 * @returns 16 lowercase hex digits, little-endian.
 */
export function encodeLe64(value: bigint): string {
  const be = BigInt.asUintN(64, value).toString(16).padStart(16, "0");
  let out = "";
  for (let i = 14; i >= 0; i -= 2) out += be.slice(i, i + 2);
  return out;
}

/**
 * Parses a little-endian register value (see {@linkcode encodeLe64}).
 *
 * @example Usage
 * ```ts
 * import { decodeLe64 } from "./_gdb_codec.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(decodeLe64("ad11140000000080"), 0x80000000001411adn);
 * ```
 *
 * @param hex 16 hex digits.
 * @returns The value.
 * @throws {GdbProtocolError} When `hex` is not 16 hex digits.
 */
export function decodeLe64(hex: string): bigint {
  if (!HEX16_REGEXP.test(hex)) {
    throw new GdbProtocolError(
      `Cannot read register value "${hex}": expected 16 hex digits, little-endian`,
    );
  }
  let be = "0x";
  for (let i = 14; i >= 0; i -= 2) be += hex.slice(i, i + 2);
  return BigInt(be);
}

function describeCsr(csr: CsrNum): string {
  return `CSR "${csrName(csr)}" (0x${csr.toString(16).padStart(3, "0")})`;
}

/**
 * Builds the packets that read and write registers of one target, and reads
 * their replies.
 *
 * @example Usage
 * ```ts
 * import { GdbCsrCodec } from "./_gdb_codec.ts";
 * import { CSR, CsrTrap } from "@rvhv/percpu";
 * import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
 *
 * const codec = new GdbCsrCodec(66); // -cpu rv64 on QEMU 7.2 and 10.0
 * strictEqual(codec.read(CSR.hedeleg), "p644");
 * strictEqual(codec.write(CSR.hedeleg, 0xb10dn), "P644=0db1000000000000");
 * deepStrictEqual(codec.readResult(2, CSR.hedeleg, "0db1000000000000"), { ok: true, value: 0xb10dn });
 * deepStrictEqual(codec.readResult(2, CSR.hedeleg, "E14"), { ok: false, trapCause: 2 });
 * throws(() => codec.readValue(2, CSR.hedeleg, "E14"), CsrTrap);
 * codec.checkWrite(2, CSR.hedeleg, "OK");
 * ```
 */
export class GdbCsrCodec {
  /** The register number of CSR 0. */
  readonly csrBase: number;
  #registers: ReadonlyMap<string, GdbRegister>;

  /**
   * Numbers the CSRs from a target description: `regnum(sstatus) - sstatus`,
   * or from mstatus on a target without S-mode.
   *
   * @example Usage
   * ```ts
   * import { GdbCsrCodec } from "./_gdb_codec.ts";
   * import { parseTargetRegisters } from "./_gdb_target.ts";
   * import { strictEqual } from "node:assert/strict";
   *
   * const registers = parseTargetRegisters([["csr.xml", '<reg name="sstatus" bitsize="64" regnum="290"/>']]);
   * strictEqual(GdbCsrCodec.fromTarget({ files: ["csr.xml"], registers }).csrBase, 34);
   * ```
   *
   * @param target The target description.
   * @returns The codec.
   * @throws {GdbProtocolError} When the description has neither sstatus nor mstatus.
   */
  static fromTarget(target: TargetDescription): GdbCsrCodec {
    const { registers } = target;
    const sstatus = registers.get("sstatus");
    const mstatus = registers.get("mstatus");
    if (sstatus !== undefined) return new GdbCsrCodec(sstatus.regnum - CSR.sstatus, registers);
    if (mstatus !== undefined) return new GdbCsrCodec(mstatus.regnum - CSR.mstatus, registers);
    throw new GdbProtocolError(
      `Cannot find the CSR registers: the target description (${
        target.files.join(", ")
      }) has neither sstatus nor mstatus`,
    );
  }

  /**
   * A codec for a known CSR base.
   *
   * @param csrBase The register number of CSR 0.
   * @param registers The target's registers by name (for {@linkcode GdbCsrCodec.readRegister}).
   */
  constructor(csrBase: number, registers: ReadonlyMap<string, GdbRegister> = new Map()) {
    this.csrBase = csrBase;
    this.#registers = registers;
  }

  /**
   * The register number of a CSR.
   *
   * @param csr The CSR address.
   * @returns `csrBase + csr`.
   */
  regnum(csr: CsrNum): number {
    return this.csrBase + csr;
  }

  /**
   * The packet that reads a CSR.
   *
   * @param csr The CSR address.
   * @returns `p<regnum>`.
   */
  read(csr: CsrNum): string {
    return `p${(this.csrBase + csr).toString(16)}`;
  }

  /**
   * The packet that writes a CSR (all 16 digits: QEMU fills missing ones
   * from its previous packet).
   *
   * @param csr The CSR address.
   * @param value The value (taken modulo 2^64).
   * @returns `P<regnum>=<16 hex digits>`.
   */
  write(csr: CsrNum, value: bigint): string {
    return `P${(this.csrBase + csr).toString(16)}=${encodeLe64(value)}`;
  }

  /**
   * The packet that reads a register the target description names (`pc`,
   * `priv`), or `undefined` when it names no such register.
   *
   * @param name The register's name.
   * @returns `p<regnum>`, or `undefined`.
   */
  readRegister(name: string): string | undefined {
    const register = this.#registers.get(name);
    return register === undefined ? undefined : `p${register.regnum.toString(16)}`;
  }

  /**
   * Reads the reply to a CSR read: the value, or the hart's refusal as an
   * illegal-instruction trap.
   *
   * @param hart The hart (for the error).
   * @param csr The CSR (for the error).
   * @param reply The reply.
   * @returns The result.
   * @throws {GdbProtocolError} For an empty or unexpected reply.
   */
  readResult(hart: HartId, csr: CsrNum, reply: string): CsrResult {
    if (reply.length === 16) return { ok: true, value: decodeLe64(reply) };
    if (reply === REFUSED_REPLY) return ILLEGAL_INSTRUCTION_TRAP;
    throw new GdbProtocolError(
      reply === ""
        ? `Cannot read ${
          describeCsr(csr)
        } on hart ${hart}: the gdbstub sent an empty reply (was target.xml read on this connection?)`
        : `Cannot read ${describeCsr(csr)} on hart ${hart}: unexpected gdbstub reply "${
          reply.slice(0, 40)
        }"`,
      { hart },
    );
  }

  /**
   * Reads the reply to a CSR read that must succeed.
   *
   * @param hart The hart.
   * @param csr The CSR.
   * @param reply The reply.
   * @param op The operation the read belongs to (for the trap).
   * @returns The value.
   * @throws {CsrTrap} Cause 2 when the hart refused the access.
   * @throws {GdbProtocolError} For an empty or unexpected reply.
   */
  readValue(hart: HartId, csr: CsrNum, reply: string, op: CsrOp["op"] = "read"): bigint {
    const result = this.readResult(hart, csr, reply);
    if (result.ok) return result.value;
    throw new CsrTrap({ hart, csr, trapCause: result.trapCause, op });
  }

  /**
   * Reads the reply to a register read (`pc`, `priv`).
   *
   * @param reply The reply.
   * @returns The value.
   * @throws {GdbProtocolError} Unless the reply is 16 hex digits.
   */
  registerValue(reply: string): bigint {
    return decodeLe64(reply);
  }

  /**
   * Checks the reply to a CSR write: QEMU answers `OK`.
   *
   * @param hart The hart.
   * @param csr The CSR.
   * @param reply The reply.
   * @throws {GdbProtocolError} Unless the reply is `OK`.
   */
  checkWrite(hart: HartId, csr: CsrNum, reply: string): void {
    if (reply === "OK") return;
    throw new GdbProtocolError(
      `Cannot write ${describeCsr(csr)} on hart ${hart}: the gdbstub answered "${
        reply.slice(0, 40)
      }" instead of OK`,
      { hart },
    );
  }
}

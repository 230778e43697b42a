/**
 * Debugger access: every CSR operation through QEMU's gdbstub, with the VM
 * stopped (a packet sent to a running VM is swallowed: it only pauses it).
 *
 * - `read` is one `p`. The hart refusing it (`E14`) is an illegal-instruction
 *   trap.
 * - `write` is `p` then `P`, pipelined: QEMU answers `OK` to every `P`, so
 *   the old value (what `csrrw` returns) comes from the read before it. A
 *   write whose read trapped did not happen either: QEMU checks the same
 *   predicate.
 * - Writes to read-only CSR addresses (bits 11:10 = `0b11`) trap locally
 *   with cause 2, as the instruction would, and nothing is sent (QEMU would
 *   answer `OK` and ignore it).
 * - `set`/`clear` are read-modify-write: `p`, then `P` of the new value. That
 *   is not atomic towards the guest, and not QEMU's own `csrrs` either (QEMU
 *   writes the whole register, not just the mask bits, and CSRs whose read
 *   view differs from their storage, such as mip with a pending VS timer,
 *   may end differently); the guest is stopped for every access.
 * - A batch pipelines: every packet up to the first `set`/`clear` goes out
 *   in one write, and the hart's next batch may start as soon as the last
 *   packets are on their way; each `set`/`clear` costs one round trip for
 *   its own hart while other harts' batches keep the pipe full.
 *
 * The packets and what their replies mean are `./_gdb_codec.ts`'s.
 *
 * Needs what the QEMU backend needs (`--allow-net` etc. for its sockets).
 *
 * @module
 */

import type { CheckedCsrOp } from "../../hal/backend_hal.ts";
import { isReadOnlyCsr } from "../../hal/csr_numbers.ts";
import { GdbProtocolError } from "../../hal/errors.ts";
import type { CsrResult, HartId } from "../../hal/types.ts";
import type { CsrAccess, RoutedCsrResult } from "./_csr_access.ts";
import type { GdbClient } from "./_gdb_client.ts";
import { ILLEGAL_INSTRUCTION_TRAP } from "./_gdb_codec.ts";
import type { QemuSession } from "./_session.ts";

/** What debugger access needs of a QEMU session: the gdbstub, and stopping the VM. */
export type DebuggerSession = Pick<QemuSession, "gdb" | "running" | "stop">;

/** Privilege levels by the `priv` register's value. */
const PRIVILEGE_LEVELS: readonly string[] = ["U", "S", "H", "M"];

function noop(): void {}

/**
 * Serves CSR operations on the harts of a stopped VM over the gdbstub.
 *
 * @example Usage
 * ```ts ignore
 * import { DebuggerAccess } from "./_debugger_access.ts";
 * import { CSR } from "@rvhv/percpu";
 *
 * const access = new DebuggerAccess(session); // a QemuSession
 * const [old, kept] = await access.run(1, [
 *   { op: "write", csr: CSR.hedeleg, value: 0xffff_ffff_ffff_ffffn },
 *   { op: "read", csr: CSR.hedeleg },
 * ], () => {});
 * // { ok: true, value: 0n, via: "debugger" } { ok: true, value: 45567n, via: "debugger" }: 0xb1ff kept
 * console.log(old, kept);
 * ```
 */
export class DebuggerAccess implements CsrAccess {
  #session: DebuggerSession;

  /**
   * Serves the harts of one session.
   *
   * @param session The QEMU session.
   */
  constructor(session: DebuggerSession) {
    this.#session = session;
  }

  /**
   * Runs checked operations on one hart; every result says `"debugger"`.
   *
   * @param hart The hart.
   * @param ops The operations.
   * @param release Called once the last packets are on their way.
   * @returns One result per operation.
   */
  async run(
    hart: HartId,
    ops: readonly CheckedCsrOp[],
    release: () => void,
  ): Promise<RoutedCsrResult[]> {
    const results = await this.execute(hart, ops, release);
    return results.map((result) => ({ ...result, via: "debugger" as const }));
  }

  /**
   * Runs checked operations on one hart (what native access uses for
   * machine-level CSRs).
   *
   * @param hart The hart.
   * @param ops The operations.
   * @param release Called once the last packets are on their way.
   * @returns One result per operation.
   * @throws {GdbProtocolError} For a reply the codec does not expect.
   */
  async execute(
    hart: HartId,
    ops: readonly CheckedCsrOp[],
    release: () => void = noop,
  ): Promise<CsrResult[]> {
    const session = this.#session;
    const { gdb } = session;
    const { codec } = gdb;
    const results = new Array<CsrResult>(ops.length);
    let payloads: string[] = [];
    // Per payload: which operation it belongs to, and whether it is its write.
    let owners: number[] = [];
    let isWrite: boolean[] = [];
    const queue = (i: number, payload: string, write: boolean) => {
      payloads.push(payload);
      owners.push(i);
      isWrite.push(write);
    };
    const send = async (last: boolean): Promise<void> => {
      if (session.running) await session.stop();
      const [sent, sentOwners, sentWrites] = [payloads, owners, isWrite];
      payloads = [];
      owners = [];
      isWrite = [];
      const pending = gdb.exchangeOnHart(hart, sent);
      if (last) release();
      const replies = await pending;
      for (let k = 0; k < replies.length; k++) {
        const i = sentOwners[k]!;
        const csr = ops[i]!.csr;
        if (!sentWrites[k]) results[i] = codec.readResult(hart, csr, replies[k]!);
        else if (results[i]!.ok) codec.checkWrite(hart, csr, replies[k]!);
      }
    };
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const writes = op.op === "write" || (op.op !== "read" && op.value !== 0n);
      if (writes && isReadOnlyCsr(op.csr)) {
        results[i] = ILLEGAL_INSTRUCTION_TRAP;
        continue;
      }
      queue(i, codec.read(op.csr), false);
      if (op.op === "read" || !writes) continue;
      if (op.op === "write") {
        queue(i, codec.write(op.csr, op.value), true);
        continue;
      }
      // set/clear: the new value depends on the old one.
      await send(false);
      const old = results[i]!;
      if (!old.ok) continue;
      queue(
        i,
        codec.write(op.csr, op.op === "set" ? old.value | op.value : old.value & ~op.value),
        true,
      );
    }
    if (payloads.length > 0) await send(true);
    else release();
    return results;
  }
}

/**
 * Reads where a stopped hart is (its privilege level and pc) and the
 * replies to `more` packets sent in the same exchange: for error messages
 * about a hart that did not do what it should.
 *
 * @example Usage
 * ```ts ignore
 * import { locateHart } from "./_debugger_access.ts";
 *
 * const { level, pc } = await locateHart(session.gdb, 1, []);
 * console.log(`hart 1 is in ${level}-mode at pc ${pc.toString(16)}`);
 * ```
 *
 * @param gdb The gdb client (VM stopped).
 * @param hart The hart.
 * @param more More packets for the same exchange.
 * @returns The level (`"U"`, `"S"`, `"H"`, `"M"`), the pc, and the replies to `more`.
 * @throws {GdbProtocolError} When the target description names no `priv` or `pc`.
 */
export async function locateHart(
  gdb: GdbClient,
  hart: HartId,
  more: readonly string[],
): Promise<{ level: string; pc: bigint; more: string[] }> {
  const { codec } = gdb;
  const priv = codec.readRegister("priv");
  const pc = codec.readRegister("pc");
  if (priv === undefined || pc === undefined) {
    throw new GdbProtocolError(
      `Cannot locate hart ${hart}: the target description has no priv or pc register`,
    );
  }
  const [mode, at, ...rest] = await gdb.exchangeOnHart(hart, [priv, pc, ...more]);
  return {
    level: PRIVILEGE_LEVELS[Number(codec.registerValue(mode!) & 3n)]!,
    pc: codec.registerValue(at!),
    more: rest,
  };
}

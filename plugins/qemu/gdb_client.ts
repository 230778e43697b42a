/**
 * A gdb remote serial protocol (RSP) client for QEMU's gdbstub, made for
 * reading and writing the CSRs of many harts quickly and exactly.
 *
 * - Packets are framed `$payload#checksum`, checksums are verified, and every
 *   reply is acknowledged with `+` (QEMU 7.2 has no no-ack mode).
 * - Replies are unescaped (`}` + byte ^ 0x20) and run-length decoded (`x*n`).
 * - On every connection `target.xml` and its includes are read first with the
 *   `qXfer:features:read` loop (QEMU answers `p`/`P` with an empty packet
 *   until then), and the register map is built from them. The CSR register
 *   base is `regnum(sstatus) - 0x100`, never a constant: it moves with the
 *   F/D/V options.
 * - A hart is selected with `Hg` (thread id = hart + 1); the selection is
 *   cached and tracked in stream order, so pipelined requests for different
 *   harts interleave correctly.
 * - Requests are pipelined: packets queued in the same tick go out in one
 *   write and their replies are matched in order (the protocol has no ids).
 * - Unsolicited stop packets (`T02thread:…;`, sent after a QMP `stop`) are
 *   skipped.
 * - `D` (detach) is never sent: it resumes the VM. Closing just closes the
 *   socket.
 *
 * Errors: `E14` on a CSR read is the hart refusing the access
 * ({@linkcode CsrTrap}, cause 2); `E22` on `Hg` is a hart that does not exist
 * (`AxError` kind `"NotFound"`); anything else unexpected is a
 * {@linkcode GdbProtocolError}. A time-out or a dropped connection rejects
 * every pending request (kinds `"Timeout"` / `"Io"`) and ends the session,
 * since the reply stream can no longer be matched.
 *
 * Connecting to QEMU's unix socket needs `--allow-read`, `--allow-write` and
 * `--allow-net` for the socket path. `RVHV_DEBUG=rsp` logs every packet.
 *
 * @module
 */

import { csrName } from "../../hal/csr_numbers.ts";
import { AxError, CsrTrap, GdbProtocolError } from "../../hal/errors.ts";
import type { CsrNum, HartId } from "../../hal/types.ts";
import { type DebugLog, debugLogger } from "./_debug.ts";
import { type ByteTransport, writeAll } from "./transport.ts";

/**
 * Options of a {@linkcode GdbClient}.
 *
 * @example Usage
 * ```ts ignore
 * import { connectUnixSocket, GdbClient, type GdbClientOptions } from "@rvhv/percpu/qemu";
 *
 * const options: GdbClientOptions = { timeoutMs: 500 };
 * const gdb = await GdbClient.connect(await connectUnixSocket("/tmp/gdb.sock"), options);
 * await gdb.close();
 * ```
 */
export interface GdbClientOptions {
  /** Milliseconds to wait for the replies of one exchange. Default 2000. */
  timeoutMs?: number;
  /** Log every packet to stderr; default: on when `RVHV_DEBUG` names `rsp`. */
  debug?: boolean;
  /**
   * Called before any packet is written; throwing refuses the exchange. The
   * QEMU backend uses it to make sure no packet goes out while the VM runs
   * (such a packet is swallowed: it only pauses the VM).
   */
  beforeSend?: () => void;
}

/**
 * Options of one exchange.
 *
 * @example Usage
 * ```ts ignore
 * import { connectUnixSocket, GdbClient, type GdbExchangeOptions } from "@rvhv/percpu/qemu";
 * import { CSR } from "@rvhv/percpu";
 *
 * const gdb = await GdbClient.connect(await connectUnixSocket("/tmp/gdb.sock"));
 * const options: GdbExchangeOptions = { timeoutMs: 100 };
 * // Raw packets: select hart 0, read hedeleg (regnum = the CSR base + 0x602).
 * const base = gdb.registers.get("sstatus")!.regnum - CSR.sstatus;
 * console.log(await gdb.exchange(["Hgp1.1", `p${(base + CSR.hedeleg).toString(16)}`], options));
 * await gdb.close();
 * ```
 */
export interface GdbExchangeOptions {
  /** Milliseconds to wait for the replies. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
}

/**
 * One register of the target description.
 *
 * @example Usage
 * ```ts ignore
 * import { connectUnixSocket, GdbClient, type GdbRegister } from "@rvhv/percpu/qemu";
 *
 * const gdb = await GdbClient.connect(await connectUnixSocket("/tmp/gdb.sock"));
 * const sstatus: GdbRegister | undefined = gdb.registers.get("sstatus");
 * console.log(sstatus?.regnum); // 322 on QEMU 7.2 and 10.0 (-cpu rv64)
 * await gdb.close();
 * ```
 */
export interface GdbRegister {
  /** The register's name. */
  readonly name: string;
  /** Its gdb register number. */
  readonly regnum: number;
  /** Its width in bits. */
  readonly bitsize: number;
  /** The file of the target description it came from. */
  readonly file: string;
}

/** A group of packets whose replies resolve one promise. */
interface Exchange {
  readonly replies: string[];
  remaining: number;
  readonly resolve: (replies: string[]) => void;
  readonly reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** One packet waiting for its reply. */
interface Waiting {
  readonly exchange: Exchange;
  readonly index: number;
  readonly payload: string;
  /** Whether a stop reply (`T…`/`S…`) is this packet's answer (`?`, `c`, `s`). */
  readonly stopReply: boolean;
}

const DOLLAR = 0x24;
const HASH = 0x23;
const PLUS = 0x2b;
const MINUS = 0x2d;
const ESCAPE = 0x7d;
const STAR = 0x2a;
const STOP_PACKET_REGEXP = /^[TS][0-9a-fA-F]{2}/;
const EXIT_PACKET_REGEXP = /^[WX][0-9a-fA-F]{2}/;
const ERROR_REPLY_REGEXP = /^E[0-9a-fA-F]{2}$/;
const HEX16_REGEXP = /^[0-9a-fA-F]{16}$/;
const INCLUDE_REGEXP = /<xi:include\s+href="([^"]+)"\s*\/>/g;
const REG_REGEXP = /<reg\s([^>]*?)\/?>/g;
const ATTR_REGEXP = /([a-zA-Z_:-]+)="([^"]*)"/g;
/** The largest qXfer chunk asked for (QEMU 7.2's PacketSize is 0x1000). */
const MAX_XFER_CHUNK = 0xffb;

/**
 * Frames a payload as an RSP packet: `$`, the payload with `$ # } *`
 * escaped, `#`, and the two-digit checksum of the transmitted bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeGdbPacket } from "@rvhv/percpu/qemu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(encodeGdbPacket("p644"), "$p644#0e");
 * ```
 *
 * @param payload The packet's payload (ASCII).
 * @returns The packet as sent.
 */
export function encodeGdbPacket(payload: string): string {
  let body = "";
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    const code = payload.charCodeAt(i);
    if (code === DOLLAR || code === HASH || code === ESCAPE || code === STAR) {
      body += "}" + String.fromCharCode(code ^ 0x20);
      sum += ESCAPE + (code ^ 0x20);
    } else {
      body += payload[i];
      sum += code;
    }
  }
  return `$${body}#${(sum & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * Decodes the payload of a received packet: undoes `}` escapes and expands
 * run-length encoding (`x*n` repeats `x` another `n - 29` times).
 *
 * @example Usage
 * ```ts
 * import { decodeGdbPayload } from "@rvhv/percpu/qemu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(decodeGdbPayload("0* "), "0000");
 * strictEqual(decodeGdbPayload("a}\x03b"), "a#b");
 * ```
 *
 * @param raw The bytes between `$` and `#`, as a binary string.
 * @returns The decoded payload.
 * @throws {GdbProtocolError} For a dangling escape or a bad repeat count.
 */
export function decodeGdbPayload(raw: string): string {
  if (raw.indexOf("}") < 0 && raw.indexOf("*") < 0) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === ESCAPE) {
      if (i + 1 >= raw.length) {
        throw new GdbProtocolError("Cannot decode gdb packet: it ends in an escape character");
      }
      out += String.fromCharCode(raw.charCodeAt(++i) ^ 0x20);
    } else if (code === STAR) {
      if (out.length === 0 || i + 1 >= raw.length) {
        throw new GdbProtocolError("Cannot decode gdb packet: a run-length marker has no operand");
      }
      const count = raw.charCodeAt(++i) - 29;
      if (count < 0) {
        throw new GdbProtocolError(`Cannot decode gdb packet: repeat count ${count} is negative`);
      }
      out += out[out.length - 1]!.repeat(count);
    } else {
      out += raw[i];
    }
  }
  return out;
}

/**
 * A 64-bit register value as gdb sends it for RISC-V: 16 hex digits, least
 * significant byte first.
 *
 * @example Usage
 * ```ts
 * import { encodeLe64 } from "@rvhv/percpu/qemu";
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
 * import { decodeLe64 } from "@rvhv/percpu/qemu";
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

/**
 * Parses target-description XML files into registers, numbering them as
 * gdb does: a `regnum` attribute sets the number, every other register takes
 * the previous number plus one, across the files in include order.
 *
 * @example Usage
 * ```ts
 * import { parseTargetRegisters } from "@rvhv/percpu/qemu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const regs = parseTargetRegisters([
 *   ["cpu.xml", '<feature><reg name="zero" bitsize="64"/><reg name="ra" bitsize="64"/></feature>'],
 *   ["csr.xml", '<feature><reg name="sstatus" bitsize="64" regnum="322"/></feature>'],
 * ]);
 * strictEqual(regs.get("ra")!.regnum, 1);
 * strictEqual(regs.get("sstatus")!.regnum, 322);
 * ```
 *
 * @param files `[name, xml]` pairs in include order.
 * @returns Registers by name.
 * @throws {GdbProtocolError} For a register without a name or with a bad number.
 */
export function parseTargetRegisters(
  files: readonly (readonly [string, string])[],
): Map<string, GdbRegister> {
  const out = new Map<string, GdbRegister>();
  let next = 0;
  for (const [file, xml] of files) {
    for (const match of xml.matchAll(REG_REGEXP)) {
      const attrs = new Map<string, string>();
      for (const attr of match[1]!.matchAll(ATTR_REGEXP)) attrs.set(attr[1]!, attr[2]!);
      const name = attrs.get("name");
      if (name === undefined || name === "") {
        throw new GdbProtocolError(`Cannot read target description ${file}: a <reg> has no name`);
      }
      let regnum = next;
      const explicit = attrs.get("regnum");
      if (explicit !== undefined) {
        regnum = Number(explicit);
        if (!Number.isInteger(regnum) || regnum < 0) {
          throw new GdbProtocolError(
            `Cannot read target description ${file}: register "${name}" has regnum "${explicit}"`,
          );
        }
      }
      const bitsize = Number(attrs.get("bitsize") ?? "0");
      out.set(name, { name, regnum, bitsize, file });
      next = regnum + 1;
    }
  }
  return out;
}

/**
 * A client of QEMU's gdbstub.
 *
 * @example Usage
 * ```ts ignore
 * import { CSR } from "@rvhv/percpu";
 * import { connectUnixSocket, GdbClient } from "@rvhv/percpu/qemu";
 *
 * const gdb = await GdbClient.connect(await connectUnixSocket("/tmp/gdb.sock"));
 * console.log(gdb.csrBase); // 66 for -cpu rv64
 * console.log(await gdb.readCsr(2, CSR.hedeleg));
 * await gdb.close(); // never detaches: the VM stays as it was
 * ```
 */
export class GdbClient {
  #transport: ByteTransport;
  #timeoutMs: number;
  #log: DebugLog | undefined;
  #beforeSend: (() => void) | undefined;
  #waiting: Waiting[] = [];
  #head = 0;
  #out: string[] = [];
  #writerActive = false;
  #sent = 0;
  #received = 0;
  #writing: Promise<void> = Promise.resolve();
  #rx = "";
  #pump: Promise<void> | undefined;
  #closeReason: AxError | undefined;
  #closed: Promise<AxError | undefined>;
  #resolveClosed!: (reason: AxError | undefined) => void;
  #selected: HartId | undefined;
  #supported = "";
  #multiprocess = false;
  #registers: ReadonlyMap<string, GdbRegister> = new Map();
  #files: readonly string[] = [];
  #csrBase = -1;
  #decoder = new TextDecoder("latin1");
  #encoder = new TextEncoder();

  /**
   * Wraps a transport; {@linkcode GdbClient.connect} (the static method)
   * also runs the handshake, which every CSR access needs.
   *
   * @param transport The byte stream to the gdbstub.
   * @param options Time-out, logging and the send guard.
   */
  constructor(transport: ByteTransport, options: GdbClientOptions = {}) {
    this.#transport = transport;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#log = debugLogger("rsp", options.debug);
    this.#beforeSend = options.beforeSend;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#pump = this.#readLoop();
  }

  /**
   * Connects: negotiates `qSupported` (with `multiprocess+`), reads
   * `target.xml` and every file it includes, and builds the register map.
   *
   * @example Usage
   * ```ts ignore
   * import { connectUnixSocket, GdbClient } from "@rvhv/percpu/qemu";
   *
   * const gdb = await GdbClient.connect(await connectUnixSocket("/tmp/gdb.sock"), { timeoutMs: 500 });
   * console.log(gdb.targetFiles); // ["target.xml", "riscv-64bit-cpu.xml", …]
   * await gdb.close();
   * ```
   *
   * @param transport The byte stream to the gdbstub.
   * @param options Time-out, logging and the send guard.
   * @returns The connected client.
   * @throws {GdbProtocolError} When the target description is missing or has no sstatus/mstatus.
   * @throws {AxError} Kind `"Timeout"`/`"Io"` when the stub does not answer.
   */
  static async connect(transport: ByteTransport, options?: GdbClientOptions): Promise<GdbClient> {
    const client = new GdbClient(transport, options);
    try {
      await client.handshake();
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** The stub's `qSupported` reply. */
  get supported(): string {
    return this.#supported;
  }

  /** Whether thread ids use the multiprocess form `p<pid>.<tid>`. */
  get multiprocess(): boolean {
    return this.#multiprocess;
  }

  /** The registers of the target description, by name. */
  get registers(): ReadonlyMap<string, GdbRegister> {
    return this.#registers;
  }

  /** The target-description files read, `target.xml` first. */
  get targetFiles(): readonly string[] {
    return this.#files;
  }

  /** The register number of CSR 0: `regnum(sstatus) - 0x100`. */
  get csrBase(): number {
    return this.#csrBase;
  }

  /** Packets sent and replies received on this connection (stop packets excluded). */
  get stats(): { packets: number; replies: number } {
    return { packets: this.#sent, replies: this.#received };
  }

  /** Whether the connection is up. */
  get connected(): boolean {
    return this.#closeReason === undefined;
  }

  /** Settles when the connection has ended, with the reason (`undefined` after `close()`). */
  get closed(): Promise<AxError | undefined> {
    return this.#closed;
  }

  /**
   * The register number of a CSR.
   *
   * @param csr The CSR address.
   * @returns `csrBase + csr`.
   * @throws {AxError} Kind `"BadState"` before the handshake.
   */
  csrRegnum(csr: CsrNum): number {
    if (this.#csrBase < 0) {
      throw new AxError(
        "BadState",
        `Cannot address CSR "${csrName(csr)}": the target description has not been read`,
      );
    }
    return this.#csrBase + csr;
  }

  /**
   * Runs the handshake on this connection (the static `connect` calls it).
   *
   * @throws {GdbProtocolError} When the target description is unusable.
   */
  async handshake(): Promise<void> {
    const [supported] = await this.exchange(["qSupported:multiprocess+;xmlRegisters=riscv"]);
    this.#supported = supported!;
    const features = supported!.split(";");
    this.#multiprocess = features.includes("multiprocess+");
    if (!features.includes("qXfer:features:read+")) {
      throw new GdbProtocolError(
        `Cannot read the target description: the stub does not offer qXfer:features:read (qSupported: "${supported}")`,
      );
    }
    const sizeFeature = features.find((f) => f.startsWith("PacketSize="));
    const packetSize = sizeFeature === undefined ? 0x400 : parseInt(sizeFeature.slice(11), 16);
    const chunk = Math.max(16, Math.min(MAX_XFER_CHUNK, packetSize - 5));
    const files: [string, string][] = [];
    const target = await this.#readFeature("target.xml", chunk);
    files.push(["target.xml", target]);
    for (const match of target.matchAll(INCLUDE_REGEXP)) {
      const name = match[1]!;
      files.push([name, await this.#readFeature(name, chunk)]);
    }
    const registers = parseTargetRegisters(files);
    const sstatus = registers.get("sstatus");
    const mstatus = registers.get("mstatus");
    let base: number;
    if (sstatus !== undefined) base = sstatus.regnum - 0x100;
    else if (mstatus !== undefined) base = mstatus.regnum - 0x300;
    else {
      throw new GdbProtocolError(
        `Cannot find the CSR registers: the target description (${
          files.map(([f]) => f).join(", ")
        }) has neither sstatus nor mstatus`,
      );
    }
    this.#registers = registers;
    this.#files = files.map(([name]) => name);
    this.#csrBase = base;
  }

  async #readFeature(annex: string, chunk: number): Promise<string> {
    let text = "";
    for (;;) {
      const [reply] = await this.exchange([
        `qXfer:features:read:${annex}:${text.length.toString(16)},${chunk.toString(16)}`,
      ]);
      if (reply === "" || ERROR_REPLY_REGEXP.test(reply!)) {
        throw new GdbProtocolError(
          `Cannot read target description "${annex}": the stub answered "${reply}"`,
        );
      }
      const kind = reply![0];
      if (kind !== "m" && kind !== "l") {
        throw new GdbProtocolError(
          `Cannot read target description "${annex}": unexpected reply "${reply!.slice(0, 20)}"`,
        );
      }
      text += reply!.slice(1);
      if (kind === "l") return text;
      if (reply!.length === 1) {
        throw new GdbProtocolError(
          `Cannot read target description "${annex}": the stub sent an empty "m" chunk`,
        );
      }
    }
  }

  /**
   * Sends packets back to back and resolves to their replies, in order.
   * Packets from calls made in the same tick share one write.
   *
   * @example Usage
   * ```ts ignore
   * const [misa, mhartid] = await gdb.exchange(["p343", "pf56"]); // CSR base 66
   * ```
   *
   * @param payloads The packets' payloads.
   * @param options Time-out.
   * @returns One decoded reply per packet.
   * @throws {AxError} Kind `"Timeout"` when the replies do not all arrive in
   *   time (the session then ends), `"Io"` when the connection is gone.
   */
  exchange(payloads: readonly string[], options: GdbExchangeOptions = {}): Promise<string[]> {
    return this.#exchange(payloads, options, false);
  }

  /**
   * Like {@linkcode GdbClient.exchange}, on one hart: `Hg` goes first when
   * the stream's current selection is another hart.
   *
   * @example Usage
   * ```ts ignore
   * // Read hedeleg, write it, read it back: one round trip on hart 3.
   * const [old, ok, now] = await gdb.exchangeOnHart(3, ["p644", "P644=0db1000000000000", "p644"]);
   * ```
   *
   * @param hart The hart (thread id `hart + 1`).
   * @param payloads The packets' payloads.
   * @param options Time-out.
   * @returns One reply per payload (the `Hg` reply is checked, not returned).
   * @throws {AxError} Kind `"NotFound"` when the stub has no such hart (`E22`).
   */
  async exchangeOnHart(
    hart: HartId,
    payloads: readonly string[],
    options: GdbExchangeOptions = {},
  ): Promise<string[]> {
    if (this.#selected === hart) return await this.#exchange(payloads, options, false);
    const tid = (hart + 1).toString(16);
    const select = this.#multiprocess ? `Hgp1.${tid}` : `Hg${tid}`;
    const replies = await this.#exchange([select, ...payloads], options, false, hart);
    const selected = replies[0];
    if (selected !== "OK") {
      // Packets already pipelined behind the failed Hg went to whatever hart
      // was selected before: end the session so nothing more can go astray.
      const error = selected === "E22"
        ? new AxError(
          "NotFound",
          `Cannot select hart ${hart}: the gdbstub has no thread ${select.slice(2)} (E22)`,
          { hart },
        )
        : new GdbProtocolError(
          `Cannot select hart ${hart}: the gdbstub answered "${selected}" to ${select}`,
          { hart },
        );
      this.#end(
        new GdbProtocolError(
          `the gdb session was ended because selecting hart ${hart} failed`,
          { cause: error },
        ),
      );
      throw error;
    }
    return replies.slice(1);
  }

  /**
   * Resumes the target with `c` and resolves to the stop reply once it
   * stops again (e.g. after a QMP `stop`). Resuming over this stream rather
   * than over QMP keeps the order: QEMU has read everything sent before,
   * acknowledgements included, when the VM starts; any byte that reaches its
   * gdbstub while the VM runs (a late `+`) would stop the VM again. Send
   * nothing else until the stop reply has arrived. The hart selection is
   * forgotten: on every stop QEMU points register and memory access at the
   * stopping CPU.
   *
   * @example Usage
   * ```ts ignore
   * const stopped = gdb.resume({ timeoutMs: 10_000 });
   * // … the VM runs; poll it over QMP, then:
   * await qmp.execute("stop");
   * console.log(await stopped); // "T02thread:p01.01;"
   * ```
   *
   * @param options Time-out for the whole run (until the stop reply).
   * @returns The stop reply.
   * @throws {AxError} Kind `"Timeout"` when the VM has not stopped in time.
   */
  async resume(options: GdbExchangeOptions = {}): Promise<string> {
    const pending = this.#exchange(["c"], options, true);
    this.#selected = undefined;
    const [reply] = await pending;
    return reply!;
  }

  /**
   * Reads a CSR.
   *
   * @example Usage
   * ```ts ignore
   * const misa = await gdb.readCsr(0, 0x301);
   * ```
   *
   * @param hart The hart.
   * @param csr The CSR address.
   * @returns The value.
   * @throws {CsrTrap} Cause 2 when the stub answers `E14` (the hart refuses the access).
   * @throws {GdbProtocolError} For any other unexpected reply.
   */
  async readCsr(hart: HartId, csr: CsrNum): Promise<bigint> {
    const [reply] = await this.exchangeOnHart(hart, [`p${this.csrRegnum(csr).toString(16)}`]);
    return parseCsrReply(hart, csr, reply!, "read");
  }

  /**
   * Writes a CSR with `P` (no read-back: QEMU answers `OK` to every `P`,
   * whatever stuck; read the CSR to know).
   *
   * @example Usage
   * ```ts ignore
   * await gdb.writeCsr(1, 0x602, 0xb10dn);
   * ```
   *
   * @param hart The hart.
   * @param csr The CSR address.
   * @param value The value.
   * @throws {GdbProtocolError} When the stub does not answer `OK`.
   */
  async writeCsr(hart: HartId, csr: CsrNum, value: bigint): Promise<void> {
    const [reply] = await this.exchangeOnHart(hart, [
      `P${this.csrRegnum(csr).toString(16)}=${encodeLe64(value)}`,
    ]);
    checkWriteReply(hart, csr, reply!);
  }

  #exchange(
    payloads: readonly string[],
    options: GdbExchangeOptions,
    stopReply: boolean,
    selects?: HartId,
  ): Promise<string[]> {
    if (this.#closeReason !== undefined) {
      return Promise.reject(
        new AxError("Io", `Cannot send gdb packets: ${this.#closeReason.message}`, {
          cause: this.#closeReason,
        }),
      );
    }
    if (payloads.length === 0) return Promise.resolve([]);
    try {
      this.#beforeSend?.();
    } catch (error) {
      return Promise.reject(error);
    }
    if (selects !== undefined) this.#selected = selects;
    return new Promise<string[]>((resolve, reject) => {
      const exchange: Exchange = {
        replies: new Array<string>(payloads.length),
        remaining: payloads.length,
        resolve,
        reject,
        timer: undefined,
      };
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      exchange.timer = setTimeout(() => {
        exchange.timer = undefined;
        const error = new AxError(
          "Timeout",
          `Cannot exchange gdb packets (${payloads[0]}${
            payloads.length > 1 ? ` and ${payloads.length - 1} more` : ""
          }): no reply within ${timeoutMs} ms`,
        );
        exchange.reject(error);
        this.#end(
          new AxError("Io", "the gdb connection was dropped after a time-out", { cause: error }),
        );
      }, timeoutMs);
      for (let i = 0; i < payloads.length; i++) {
        const payload = payloads[i]!;
        this.#waiting.push({ exchange, index: i, payload, stopReply });
        const packet = encodeGdbPacket(payload);
        this.#log?.(`> ${packet}`);
        this.#out.push(packet);
      }
      this.#sent += payloads.length;
      this.#scheduleFlush();
    });
  }

  /**
   * Starts the writer unless it runs: it first lets the current tick queue
   * everything it wants (so pipelined exchanges share one write), then
   * writes whatever accumulated, one write at a time, until nothing is left.
   * Acknowledgements ride along with requests instead of costing writes.
   */
  #scheduleFlush(): void {
    if (this.#writerActive) return;
    this.#writerActive = true;
    queueMicrotask(() => {
      this.#writing = this.#drainOut();
    });
  }

  async #drainOut(): Promise<void> {
    try {
      while (this.#out.length > 0 && this.#closeReason === undefined) {
        const data = this.#encoder.encode(this.#out.join(""));
        this.#out.length = 0;
        await writeAll(this.#transport, data);
      }
    } catch (error) {
      this.#end(
        new AxError("Io", `the gdb connection failed on write: ${(error as Error).message}`, {
          cause: error,
        }),
      );
    } finally {
      this.#out.length = 0;
      this.#writerActive = false;
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    let reason: AxError;
    try {
      for (;;) {
        const n = await this.#transport.read(buffer);
        if (n === null) {
          reason = new AxError("Io", "the gdbstub closed the connection");
          break;
        }
        this.#rx += this.#decoder.decode(buffer.subarray(0, n));
        this.#parse();
      }
    } catch (error) {
      reason = error instanceof AxError ? error : new AxError(
        "Io",
        `the gdb connection failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.#end(reason);
    this.#pump = undefined;
  }

  /** Consumes complete packets from the receive buffer. */
  #parse(): void {
    let rx = this.#rx;
    let pos = 0;
    let acks = 0;
    while (pos < rx.length) {
      const c = rx.charCodeAt(pos);
      if (c === PLUS) {
        pos++;
        continue;
      }
      if (c === MINUS) {
        throw new GdbProtocolError(
          "Cannot continue the gdb session: the stub rejected a packet (checksum NAK)",
        );
      }
      if (c !== DOLLAR) {
        throw new GdbProtocolError(
          `Cannot parse gdb stream: unexpected byte 0x${c.toString(16)} between packets`,
        );
      }
      const hash = rx.indexOf("#", pos + 1);
      if (hash < 0 || hash + 2 >= rx.length) break;
      const raw = rx.slice(pos + 1, hash);
      const sumText = rx.slice(hash + 1, hash + 3);
      let sum = 0;
      for (let i = 0; i < raw.length; i++) sum += raw.charCodeAt(i);
      if ((sum & 0xff) !== parseInt(sumText, 16)) {
        throw new GdbProtocolError(
          `Cannot accept gdb packet "$${raw.slice(0, 40)}#${sumText}": the checksum should be ${
            (sum & 0xff).toString(16).padStart(2, "0")
          }`,
        );
      }
      pos = hash + 3;
      acks++;
      this.#onPacket(decodeGdbPayload(raw));
    }
    rx = rx.slice(pos);
    this.#rx = rx;
    if (acks > 0 && this.#closeReason === undefined) {
      this.#out.push("+".repeat(acks));
      this.#scheduleFlush();
    }
  }

  #onPacket(payload: string): void {
    this.#log?.(`< ${payload}`);
    const next = this.#head < this.#waiting.length ? this.#waiting[this.#head] : undefined;
    if (STOP_PACKET_REGEXP.test(payload) && !next?.stopReply) {
      this.#log?.(`skipped unsolicited stop packet ${payload}`);
      return;
    }
    if (EXIT_PACKET_REGEXP.test(payload)) {
      throw new AxError("Io", `the target exited (gdb packet "${payload}")`);
    }
    if (next === undefined) {
      throw new GdbProtocolError(
        `Cannot match gdb reply "${payload.slice(0, 40)}": no request is waiting`,
      );
    }
    this.#head++;
    this.#received++;
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    const exchange = next.exchange;
    exchange.replies[next.index] = payload;
    if (--exchange.remaining === 0 && exchange.timer !== undefined) {
      clearTimeout(exchange.timer);
      exchange.timer = undefined;
      exchange.resolve(exchange.replies);
    }
  }

  /** Ends the session: every waiting exchange rejects with `reason`. */
  #end(reason: AxError, requested = false): void {
    if (this.#closeReason !== undefined) return;
    this.#closeReason = reason;
    this.#selected = undefined;
    const waiting = this.#waiting.slice(this.#head);
    this.#waiting = [];
    this.#head = 0;
    this.#out.length = 0;
    const seen = new Set<Exchange>();
    for (const { exchange, payload } of waiting) {
      if (seen.has(exchange)) continue;
      seen.add(exchange);
      if (exchange.timer === undefined) continue;
      clearTimeout(exchange.timer);
      exchange.timer = undefined;
      exchange.reject(
        reason.kind === "Io" && !(reason instanceof GdbProtocolError)
          ? new AxError("Io", `Cannot exchange gdb packet ${payload}: ${reason.message}`, {
            cause: reason,
          })
          : reason,
      );
    }
    try {
      this.#transport.close();
    } catch {
      // Already closed.
    }
    this.#resolveClosed(requested ? undefined : reason);
  }

  /**
   * Closes the socket without detaching (a `D` would resume the VM). Pending
   * exchanges reject with kind `"Io"`. Idempotent.
   */
  async close(): Promise<void> {
    this.#end(new AxError("Io", "the client closed the connection"), true);
    await this.#pump;
    await this.#writing;
  }

  /** Closes the connection (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Interprets the reply to a CSR read (`p`).
 *
 * @example Usage
 * ```ts
 * import { parseCsrReply } from "@rvhv/percpu/qemu";
 * import { CsrTrap } from "@rvhv/percpu";
 * import { strictEqual, throws } from "node:assert/strict";
 *
 * strictEqual(parseCsrReply(2, 0x602, "0db1000000000000", "read"), 0xb10dn);
 * throws(() => parseCsrReply(2, 0x602, "E14", "read"), CsrTrap);
 * ```
 *
 * @param hart The hart.
 * @param csr The CSR.
 * @param reply The reply.
 * @param op The operation the read belongs to (for the error).
 * @returns The value.
 * @throws {CsrTrap} Cause 2 for `E14`.
 * @throws {GdbProtocolError} For an empty or unexpected reply.
 */
export function parseCsrReply(
  hart: HartId,
  csr: CsrNum,
  reply: string,
  op: "read" | "write" | "set" | "clear",
): bigint {
  if (reply.length === 16) return decodeLe64(reply);
  if (reply === "E14") return trap(hart, csr, op);
  const hex = `0x${csr.toString(16).padStart(3, "0")}`;
  throw new GdbProtocolError(
    reply === ""
      ? `Cannot read CSR "${
        csrName(csr)
      }" (${hex}) on hart ${hart}: the gdbstub sent an empty reply (was target.xml read on this connection?)`
      : `Cannot read CSR "${csrName(csr)}" (${hex}) on hart ${hart}: unexpected gdbstub reply "${
        reply.slice(0, 40)
      }"`,
    { hart },
  );
}

function trap(hart: HartId, csr: CsrNum, op: "read" | "write" | "set" | "clear"): never {
  throw new CsrTrap({ hart, csr, trapCause: 2, op });
}

/**
 * Checks the reply to a CSR write (`P`): QEMU answers `OK`.
 *
 * @example Usage
 * ```ts
 * import { checkWriteReply } from "@rvhv/percpu/qemu";
 * import { GdbProtocolError } from "@rvhv/percpu";
 * import { throws } from "node:assert/strict";
 *
 * checkWriteReply(0, 0x140, "OK");
 * throws(() => checkWriteReply(0, 0x140, "E01"), GdbProtocolError);
 * ```
 *
 * @param hart The hart.
 * @param csr The CSR.
 * @param reply The reply.
 * @throws {GdbProtocolError} Unless the reply is `OK`.
 */
export function checkWriteReply(hart: HartId, csr: CsrNum, reply: string): void {
  if (reply === "OK") return;
  const hex = `0x${csr.toString(16).padStart(3, "0")}`;
  throw new GdbProtocolError(
    `Cannot write CSR "${csrName(csr)}" (${hex}) on hart ${hart}: the gdbstub answered "${
      reply.slice(0, 40)
    }" instead of OK`,
    { hart },
  );
}

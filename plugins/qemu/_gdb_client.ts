/**
 * A gdb remote serial protocol (RSP) client for QEMU's gdbstub, made for
 * reading and writing the CSRs of many harts quickly and exactly.
 *
 * - Framing, checksums, escapes and run-length decoding are
 *   `./_gdb_packets.ts`'s; every reply is acknowledged with `+` (QEMU 7.2
 *   has no no-ack mode).
 * - On every connection the target description is read first
 *   (`./_gdb_target.ts`: QEMU answers `p`/`P` with an empty packet until
 *   then), and the CSR codec (`./_gdb_codec.ts`) is built from it.
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
 * Errors: `E22` on `Hg` is a hart that does not exist (`AxError` kind
 * `"NotFound"`); anything else unexpected is a {@linkcode GdbProtocolError}.
 * A time-out or a dropped connection rejects every pending request (kinds
 * `"Timeout"` / `"Io"`) and ends the session, since the reply stream can no
 * longer be matched.
 *
 * Connecting to QEMU's unix socket needs `--allow-read`, `--allow-write` and
 * `--allow-net` for the socket path. `RVHV_DEBUG=rsp` logs every packet.
 *
 * @module
 */

import { AxError, GdbProtocolError } from "../../hal/errors.ts";
import type { CsrNum, HartId } from "../../hal/types.ts";
import { type DebugLog, debugLogger } from "./_debug.ts";
import { GdbCsrCodec } from "./_gdb_codec.ts";
import { encodeGdbPacket, takeGdbPackets } from "./_gdb_packets.ts";
import { type GdbRegister, readTargetDescription } from "./_gdb_target.ts";
import { type ByteTransport, closeQuietly, readUntilEnd, writeAll } from "./_transport.ts";

/**
 * Options of a {@linkcode GdbClient}.
 *
 * @example Usage
 * ```ts ignore
 * import { GdbClient, type GdbClientOptions } from "./_gdb_client.ts";
 * import { connectUnixSocket } from "./_transport.ts";
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
 * import { GdbClient, type GdbExchangeOptions } from "./_gdb_client.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 * import { CSR } from "@rvhv/percpu";
 *
 * const gdb = await GdbClient.connect(await connectUnixSocket("/tmp/gdb.sock"));
 * const options: GdbExchangeOptions = { timeoutMs: 100 };
 * // Select hart 0, read hedeleg.
 * console.log(await gdb.exchange(["Hgp1.1", gdb.codec.read(CSR.hedeleg)], options));
 * await gdb.close();
 * ```
 */
export interface GdbExchangeOptions {
  /** Milliseconds to wait for the replies. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
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

const STOP_PACKET_REGEXP = /^[TS][0-9a-fA-F]{2}/;
const EXIT_PACKET_REGEXP = /^[WX][0-9a-fA-F]{2}/;

/**
 * A client of QEMU's gdbstub.
 *
 * @example Usage
 * ```ts ignore
 * import { CSR } from "@rvhv/percpu";
 * import { GdbClient } from "./_gdb_client.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const gdb = await GdbClient.connect(await connectUnixSocket("/tmp/gdb.sock"));
 * console.log(gdb.codec.csrBase); // 66 for -cpu rv64
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
  #codec: GdbCsrCodec | undefined;
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
   * import { GdbClient } from "./_gdb_client.ts";
   * import { connectUnixSocket } from "./_transport.ts";
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

  /**
   * The CSR codec of this target: the packets that read and write its
   * registers, and what their replies mean.
   *
   * @throws {AxError} Kind `"BadState"` before the handshake.
   */
  get codec(): GdbCsrCodec {
    if (this.#codec === undefined) {
      throw new AxError(
        "BadState",
        "Cannot address CSRs: the target description has not been read",
      );
    }
    return this.#codec;
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
   * Runs the handshake on this connection (the static `connect` calls it).
   *
   * @throws {GdbProtocolError} When the target description is unusable.
   */
  async handshake(): Promise<void> {
    const [supported] = await this.exchange(["qSupported:multiprocess+;xmlRegisters=riscv"]);
    this.#supported = supported!;
    const features = supported!.split(";");
    this.#multiprocess = features.includes("multiprocess+");
    const target = await readTargetDescription(
      features,
      async (payload) => (await this.exchange([payload]))[0]!,
    );
    this.#codec = GdbCsrCodec.fromTarget(target);
    this.#registers = target.registers;
    this.#files = target.files;
  }

  /**
   * Sends packets back to back and resolves to their replies, in order.
   * Packets from calls made in the same tick share one write.
   *
   * @example Usage
   * ```ts ignore
   * const [misa, mhartid] = await gdb.exchange([gdb.codec.read(CSR.misa), gdb.codec.read(CSR.mhartid)]);
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
   * const { codec } = gdb;
   * const [old, ok, now] = await gdb.exchangeOnHart(3, [
   *   codec.read(CSR.hedeleg),
   *   codec.write(CSR.hedeleg, 0xb10dn),
   *   codec.read(CSR.hedeleg),
   * ]);
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
   * console.log(await stopped); // T02thread:p01.01;
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
   * const misa = await gdb.readCsr(0, CSR.misa);
   * ```
   *
   * @param hart The hart.
   * @param csr The CSR address.
   * @returns The value.
   * @throws {CsrTrap} Cause 2 when the stub answers `E14` (the hart refuses the access).
   * @throws {GdbProtocolError} For any other unexpected reply.
   */
  async readCsr(hart: HartId, csr: CsrNum): Promise<bigint> {
    const codec = this.codec;
    const [reply] = await this.exchangeOnHart(hart, [codec.read(csr)]);
    return codec.readValue(hart, csr, reply!);
  }

  /**
   * Writes a CSR with `P` (no read-back: QEMU answers `OK` to every `P`,
   * whatever stuck; read the CSR to know).
   *
   * @example Usage
   * ```ts ignore
   * await gdb.writeCsr(1, CSR.hedeleg, 0xb10dn);
   * ```
   *
   * @param hart The hart.
   * @param csr The CSR address.
   * @param value The value.
   * @throws {GdbProtocolError} When the stub does not answer `OK`.
   */
  async writeCsr(hart: HartId, csr: CsrNum, value: bigint): Promise<void> {
    const codec = this.codec;
    const [reply] = await this.exchangeOnHart(hart, [codec.write(csr, value)]);
    codec.checkWrite(hart, csr, reply!);
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
    const reason = await readUntilEnd(this.#transport, (chunk) => {
      this.#rx += this.#decoder.decode(chunk);
      this.#parse();
    }, { end: "the gdbstub closed the connection", failure: "the gdb connection failed" });
    this.#end(reason);
    this.#pump = undefined;
  }

  /** Consumes complete packets from the receive buffer, acknowledging each. */
  #parse(): void {
    const { rest, packets } = takeGdbPackets(this.#rx, (payload) => this.#onPacket(payload));
    this.#rx = rest;
    if (packets > 0 && this.#closeReason === undefined) {
      this.#out.push("+".repeat(packets));
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
    closeQuietly(this.#transport);
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

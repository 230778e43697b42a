/**
 * A fake QEMU gdbstub over a {@linkcode MemoryTransport}: ack mode, chunked
 * `qXfer:features:read`, multiprocess `Hg`, `p`/`P` on CSRs with `E14` for
 * unimplemented ones, `E22` for unknown threads, and hooks to misbehave.
 */

import { MemoryTransport } from "./memory_transport.ts";

/** The CPU registers: zero..t6 and pc (regnums 0–32) without explicit numbers. */
const CPU_XML = `<?xml version="1.0"?><!DOCTYPE feature SYSTEM "gdb-target.dtd">
<feature name="org.gnu.gdb.riscv.cpu">${
  Array.from({ length: 32 }, (_, i) => `<reg name="x${i}" bitsize="64"/>`).join("")
}<reg name="pc" bitsize="64" type="code_ptr"/></feature>`;
const VIRTUAL_XML =
  `<feature name="org.gnu.gdb.riscv.virtual"><reg name="priv" bitsize="64"/></feature>`;

/** What the fake stub looks like. */
export interface FakeStubOptions {
  /** Number of harts (threads 1..n). Default 2. */
  harts?: number;
  /** The CSRs it implements, with their reset values. Default sstatus, misa, mhartid, sscratch, hedeleg. */
  csrs?: ReadonlyMap<number, bigint>;
  /** qSupported PacketSize (hex digits as QEMU sends). Default "1000". */
  packetSize?: string;
  /** Run-length encode replies. */
  rle?: boolean;
  /** Offer multiprocess. Default true. */
  multiprocess?: boolean;
}

function checksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += body.charCodeAt(i);
  return (sum & 0xff).toString(16).padStart(2, "0");
}

/** Run-length encodes runs of 4 to 97 equal characters (never producing `#`, `$` or `*` counts). */
function rle(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    let j = i + 1;
    while (j < text.length && text[j] === text[i] && j - i < 97) j++;
    let run = j - i;
    // Counts whose character would be '#' (35), '$' (36), '+' or '-' are avoided.
    while (run >= 4 && [35, 36, 43, 45].includes(run - 1 + 29)) run--;
    if (run >= 4) {
      out += text[i] + "*" + String.fromCharCode(run - 1 + 29);
      i += run;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

function le64(value: bigint): string {
  const be = BigInt.asUintN(64, value).toString(16).padStart(16, "0");
  let out = "";
  for (let i = 14; i >= 0; i -= 2) out += be.slice(i, i + 2);
  return out;
}

function fromLe64(hex: string): bigint {
  let be = "";
  for (let i = 14; i >= 0; i -= 2) be += hex.slice(i, i + 2);
  return BigInt("0x" + be);
}

/** A scripted gdbstub. */
export class FakeGdbStub {
  /** The client's end. */
  readonly transport: MemoryTransport = new MemoryTransport();
  /** Every packet payload received, in order. */
  readonly packets: string[] = [];
  /** Every `+` received. */
  acks = 0;
  /** The CSR register base of this target: regnum(sstatus) - 0x100. */
  readonly csrBase = 34;
  /** Per thread (hart + 1): CSR values. */
  readonly values: Map<number, Map<number, bigint>> = new Map();
  /** The selected thread. */
  thread = 1;
  /**
   * Overrides a reply: return a string to send it, `null` to send nothing,
   * `undefined` for the normal reply.
   */
  hook: ((payload: string) => string | null | undefined) | undefined;
  /** Sent (framed) before the next reply, e.g. an unsolicited `T02…`. */
  injectBeforeNextReply: string[] = [];
  readonly files: Map<string, string>;
  #options: Required<Omit<FakeStubOptions, "csrs">>;
  #rx = "";

  /**
   * Creates the stub.
   *
   * @param options Harts, CSRs, packet size, encoding.
   */
  constructor(options: FakeStubOptions = {}) {
    this.#options = {
      harts: options.harts ?? 2,
      packetSize: options.packetSize ?? "1000",
      rle: options.rle ?? false,
      multiprocess: options.multiprocess ?? true,
    };
    const csrs = options.csrs ?? new Map<number, bigint>([
      [0x100, 0x200000000n],
      [0x301, 0x80000000001411adn],
      [0xf14, 0n],
      [0x140, 0n],
      [0x602, 0n],
    ]);
    for (let t = 1; t <= this.#options.harts; t++) {
      const values = new Map(csrs);
      if (values.has(0xf14)) values.set(0xf14, BigInt(t - 1));
      this.values.set(t, values);
    }
    const csrXml = `<feature name="org.gnu.gdb.riscv.csr">${
      [...csrs.keys()].map((csr) =>
        `<reg name="${this.#csrName(csr)}" bitsize="64" regnum="${this.csrBase + csr}"/>`
      ).join("")
    }</feature>`;
    this.files = new Map([
      [
        "target.xml",
        `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>riscv:rv64</architecture><xi:include href="cpu.xml"/><xi:include href="virtual.xml"/><xi:include href="csr.xml"/></target>`,
      ],
      ["cpu.xml", CPU_XML],
      ["virtual.xml", VIRTUAL_XML],
      ["csr.xml", csrXml],
    ]);
    this.transport.onWrite = (text) => this.#receive(text);
  }

  #csrName(csr: number): string {
    return ({ 0x100: "sstatus", 0x301: "misa", 0xf14: "mhartid", 0x140: "sscratch" } as Record<
      number,
      string
    >)[csr] ?? `csr${csr.toString(16)}`;
  }

  /** Sends one framed packet. */
  send(payload: string): void {
    const body = this.#options.rle ? rle(payload) : payload;
    this.transport.serverSend(`$${body}#${checksum(body)}`);
  }

  #receive(text: string): void {
    this.#rx += text;
    let pos = 0;
    for (;;) {
      while (this.#rx[pos] === "+") {
        this.acks++;
        pos++;
      }
      if (pos >= this.#rx.length) break;
      if (this.#rx[pos] !== "$") throw new Error(`fake stub: unexpected byte ${this.#rx[pos]}`);
      const hash = this.#rx.indexOf("#", pos);
      if (hash < 0 || hash + 2 >= this.#rx.length) break;
      const body = this.#rx.slice(pos + 1, hash);
      const sum = this.#rx.slice(hash + 1, hash + 3);
      pos = hash + 3;
      if (sum !== checksum(body)) throw new Error(`fake stub: bad checksum on ${body}`);
      this.transport.serverSend("+");
      const payload = body.replace(
        /\}(.)/g,
        (_, c: string) => String.fromCharCode(c.charCodeAt(0) ^ 0x20),
      );
      this.packets.push(payload);
      const hooked = this.hook?.(payload);
      const answer = hooked === undefined ? this.#answer(payload) : hooked;
      for (const packet of this.injectBeforeNextReply.splice(0)) this.send(packet);
      if (answer !== null) this.send(answer);
    }
    this.#rx = this.#rx.slice(pos);
  }

  #answer(payload: string): string {
    if (payload.startsWith("qSupported")) {
      return `PacketSize=${this.#options.packetSize};qXfer:features:read+;vContSupported+${
        this.#options.multiprocess ? ";multiprocess+" : ""
      }`;
    }
    const xfer = /^qXfer:features:read:([^:]+):([0-9a-f]+),([0-9a-f]+)$/.exec(payload);
    if (xfer !== null) {
      const file = this.files.get(xfer[1]!);
      if (file === undefined) return "E00";
      const offset = parseInt(xfer[2]!, 16);
      const length = parseInt(xfer[3]!, 16);
      const chunk = file.slice(offset, offset + length);
      return (offset + length >= file.length ? "l" : "m") + chunk;
    }
    const hg = /^Hg(?:p1\.)?([0-9a-f]+)$/.exec(payload);
    if (hg !== null) {
      const thread = parseInt(hg[1]!, 16);
      if (thread > this.#options.harts) return "E22";
      this.thread = thread === 0 ? 1 : thread;
      return "OK";
    }
    const read = /^p([0-9a-f]+)$/.exec(payload);
    if (read !== null) {
      const csr = parseInt(read[1]!, 16) - this.csrBase;
      const value = this.values.get(this.thread)!.get(csr);
      return value === undefined ? "E14" : le64(value);
    }
    const write = /^P([0-9a-f]+)=([0-9a-f]{16})$/.exec(payload);
    if (write !== null) {
      const csr = parseInt(write[1]!, 16) - this.csrBase;
      const values = this.values.get(this.thread)!;
      if (values.has(csr) && csr >> 10 !== 3) values.set(csr, fromLe64(write[2]!));
      return "OK";
    }
    return "";
  }
}

/**
 * An in-memory byte transport for the QMP and gdb clients: the test plays
 * the server, sees every chunk the client writes and scripts what it reads.
 */

import type { ByteTransport } from "../../plugins/qemu/_transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("latin1");

/** The client end of an in-memory connection, driven by the test as the server. */
export class MemoryTransport implements ByteTransport {
  /** Every chunk the client wrote, as text, one entry per `write` call. */
  readonly writes: string[] = [];
  /** Called with each chunk the client writes (the scripted server). */
  onWrite: ((text: string) => void) | undefined;
  #incoming: Uint8Array[] = [];
  #reader: ((n: number | null) => void) | undefined;
  #readBuffer: Uint8Array | undefined;
  #closed = false;
  #serverClosed = false;

  /** Everything the client wrote so far. */
  get written(): string {
    return this.writes.join("");
  }

  /** Whether the client closed its end. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The server sends bytes to the client. */
  serverSend(text: string): void {
    if (this.#closed || this.#serverClosed) return;
    this.#incoming.push(encoder.encode(text));
    this.#deliver();
  }

  /** The server hangs up: the client's read returns end of stream. */
  serverClose(): void {
    this.#serverClosed = true;
    this.#deliver();
  }

  #deliver(): void {
    const reader = this.#reader;
    if (reader === undefined) return;
    if (this.#incoming.length > 0) {
      const buffer = this.#readBuffer!;
      const chunk = this.#incoming[0]!;
      const n = Math.min(buffer.length, chunk.length);
      buffer.set(chunk.subarray(0, n));
      if (n === chunk.length) this.#incoming.shift();
      else this.#incoming[0] = chunk.subarray(n);
      this.#reader = undefined;
      reader(n);
    } else if (this.#serverClosed || this.#closed) {
      this.#reader = undefined;
      reader(null);
    }
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#reader !== undefined) return Promise.reject(new Error("concurrent read"));
    return new Promise((resolve) => {
      this.#reader = resolve;
      this.#readBuffer = buffer;
      this.#deliver();
    });
  }

  write(data: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    if (this.#serverClosed) return Promise.reject(new Deno.errors.BrokenPipe("broken pipe"));
    const text = decoder.decode(data);
    this.writes.push(text);
    // The server reacts after the write returns, as a real peer would.
    queueMicrotask(() => this.onWrite?.(text));
    return Promise.resolve(data.length);
  }

  close(): void {
    this.#closed = true;
    this.#deliver();
  }
}

/**
 * The byte streams the QMP and gdb clients talk over, and connecting one to
 * a unix socket.
 *
 * Connecting needs `--allow-read`, `--allow-write` and `--allow-net` for the
 * socket path (Deno 2.9 checks all three for a unix-socket connect).
 *
 * @module
 */

import { AxError } from "../../hal/errors.ts";

/**
 * A bidirectional byte stream: the subset of `Deno.Conn` the clients use,
 * so tests can pass an in-memory transport.
 *
 * @example Usage
 * ```ts
 * import type { ByteTransport } from "./_transport.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * // An in-memory transport that answers every write with nothing: enough for a fake QEMU in tests.
 * const written: Uint8Array[] = [];
 * const transport: ByteTransport = {
 *   read: () => Promise.resolve(null), // end of stream
 *   write: (data) => {
 *     written.push(data);
 *     return Promise.resolve(data.length);
 *   },
 *   close: () => {},
 * };
 * strictEqual(await transport.write(new Uint8Array([43])), 1);
 * strictEqual(await transport.read(new Uint8Array(8)), null);
 * ```
 */
export interface ByteTransport {
  /**
   * Reads into `buffer`.
   *
   * @returns The number of bytes read, or `null` at end of stream.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes some of `data`.
   *
   * @returns The number of bytes written.
   */
  write(data: Uint8Array): Promise<number>;
  /** Closes the stream; a pending `read` then rejects or returns `null`. */
  close(): void;
}

/**
 * Writes all of `data`, looping over short writes.
 *
 * @example Usage
 * ```ts
 * import { type ByteTransport, writeAll } from "./_transport.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const chunks: number[] = [];
 * const twoBytesAtATime: ByteTransport = {
 *   read: () => Promise.resolve(null),
 *   write: (data) => (chunks.push(Math.min(2, data.length)), Promise.resolve(Math.min(2, data.length))),
 *   close: () => {},
 * };
 * await writeAll(twoBytesAtATime, new Uint8Array(5));
 * strictEqual(chunks.join(","), "2,2,1");
 * ```
 *
 * @param transport The stream.
 * @param data The bytes.
 */
export async function writeAll(transport: ByteTransport, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += await transport.write(data.subarray(offset));
  }
}

/**
 * Reads a transport until it ends or fails, handing each chunk to
 * `onChunk` (which may throw, a protocol error say, to end the reading);
 * resolves to why the reading ended. The chunk is only valid during the call.
 *
 * @example Usage
 * ```ts
 * import { readUntilEnd } from "./_transport.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const chunks = [new Uint8Array([1, 2])];
 * const transport = {
 *   read: (buffer: Uint8Array) => {
 *     const chunk = chunks.shift();
 *     if (chunk === undefined) return Promise.resolve(null);
 *     buffer.set(chunk);
 *     return Promise.resolve(chunk.length);
 *   },
 *   write: (data: Uint8Array) => Promise.resolve(data.length),
 *   close: () => {},
 * };
 * let bytes = 0;
 * const why = { end: "the peer closed the connection", failure: "the connection failed" };
 * const reason = await readUntilEnd(transport, (chunk) => (bytes += chunk.length), why);
 * strictEqual(bytes, 2);
 * strictEqual(reason.message, "the peer closed the connection");
 * ```
 *
 * @param transport The stream.
 * @param onChunk Called with each chunk read.
 * @param why The messages for the end of the stream and (before a colon and the cause) for a failure.
 * @returns Why the reading ended: an `AxError` of kind `"Io"`, or whatever `AxError` `onChunk` threw.
 */
export async function readUntilEnd(
  transport: ByteTransport,
  onChunk: (chunk: Uint8Array) => void,
  why: { readonly end: string; readonly failure: string },
): Promise<AxError> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await transport.read(buffer);
      if (n === null) return new AxError("Io", why.end);
      onChunk(buffer.subarray(0, n));
    }
  } catch (error) {
    return error instanceof AxError
      ? error
      : new AxError("Io", `${why.failure}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Closes a transport that may be closed already.
 *
 * @param transport The stream.
 */
export function closeQuietly(transport: ByteTransport): void {
  try {
    transport.close();
  } catch {
    // Already closed.
  }
}

/**
 * Options of {@linkcode connectUnixSocket}.
 *
 * @example Usage
 * ```ts ignore
 * import { connectUnixSocket, type ConnectUnixOptions } from "./_transport.ts";
 *
 * // QEMU creates its sockets a few ms after it starts: keep trying for a while.
 * const options: ConnectUnixOptions = { retryForMs: 2000, retryDelayMs: 5 };
 * const transport = await connectUnixSocket("/tmp/qmp.sock", options);
 * transport.close();
 * ```
 */
export interface ConnectUnixOptions {
  /** Keep retrying a missing or refusing socket until this many ms have passed. Default 0. */
  retryForMs?: number;
  /** Pause between attempts. Default 2 ms. */
  retryDelayMs?: number;
  /** Stops retrying with this reason (e.g. the server process exited). */
  signal?: AbortSignal;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Connects to a unix socket, retrying while it does not exist yet or refuses
 * connections (a server that is still starting).
 *
 * Needs `--allow-read`, `--allow-write` and `--allow-net` for the path.
 *
 * @example Usage
 * ```ts ignore
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const conn = await connectUnixSocket("/tmp/qmp.sock", { retryForMs: 1000 });
 * conn.close();
 * ```
 *
 * @param path The socket path.
 * @param options Retry policy and abort signal.
 * @returns The connection.
 * @throws {AxError} Kind `"Io"` when the socket cannot be reached in time,
 *   `"BadState"` for missing permissions.
 */
export async function connectUnixSocket(
  path: string,
  options: ConnectUnixOptions = {},
): Promise<Deno.UnixConn> {
  const deadline = performance.now() + (options.retryForMs ?? 0);
  const pause = options.retryDelayMs ?? 2;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        throw new AxError(
          "BadState",
          `Cannot connect to socket "${path}": Deno lacks the permission (${
            (error as Error).message
          }); unix sockets need --allow-read, --allow-write and --allow-net`,
          { cause: error },
        );
      }
      const retryable = error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.ConnectionRefused;
      if (!retryable || performance.now() >= deadline) {
        throw new AxError("Io", `Cannot connect to socket "${path}": ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    await delay(pause);
  }
}

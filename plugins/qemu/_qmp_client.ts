/**
 * A QMP (QEMU Machine Protocol) client, modelled on the Python `qemu.qmp`
 * package: the greeting is validated, `qmp_capabilities` negotiated, every
 * command carries a private id and its reply is routed by that id (never
 * first-in first-out), events go to separate listeners, the connection has
 * an explicit state, every call has a time-out and an `AbortSignal`, a
 * dropped connection rejects every pending call, and a malformed line is a
 * protocol error that ends the session (it is never skipped).
 *
 * The client talks over any {@linkcode ByteTransport}; connecting it to
 * QEMU's unix socket needs `--allow-read`, `--allow-write` and `--allow-net`
 * for the socket path.
 *
 * @module
 */

import { AxError, QmpError } from "../../hal/errors.ts";
import { type DebugLog, debugLogger } from "./_debug.ts";
import {
  parseGreeting,
  parseQmpLine,
  type QmpEventListener,
  type QmpGreeting,
  QmpProtocolError,
} from "./_qmp_messages.ts";
import { type ByteTransport, closeQuietly, readUntilEnd, writeAll } from "./_transport.ts";

/**
 * Where a {@linkcode QmpClient} is in its life (qemu.qmp's `Runstate`):
 * `idle` before `connect` and after the connection ended, `connecting`
 * while waiting for the greeting and negotiating, `running` when commands
 * can be executed, `disconnecting` while closing.
 *
 * @example Usage
 * ```ts ignore
 * import { QmpClient, type QmpRunstate } from "./_qmp_client.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"));
 * const state: QmpRunstate = qmp.runstate; // "running"
 * console.log(state);
 * await qmp.close();
 * ```
 */
export type QmpRunstate = "idle" | "connecting" | "running" | "disconnecting";

/**
 * Options of one {@linkcode QmpClient.execute} call.
 *
 * @example Usage
 * ```ts ignore
 * import { type QmpCallOptions, QmpClient } from "./_qmp_client.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"));
 * const options: QmpCallOptions = { timeoutMs: 250, signal: AbortSignal.timeout(1000) };
 * console.log(await qmp.execute("query-status", undefined, options));
 * await qmp.close();
 * ```
 */
export interface QmpCallOptions {
  /** Milliseconds to wait for the reply. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Abandons the call; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Options of a {@linkcode QmpClient}.
 *
 * @example Usage
 * ```ts ignore
 * import { QmpClient, type QmpClientOptions } from "./_qmp_client.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const options: QmpClientOptions = { timeoutMs: 500, debug: true };
 * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"), options);
 * await qmp.close();
 * ```
 */
export interface QmpClientOptions {
  /** Default time-out of the greeting and of every call, in ms. Default 2000. */
  timeoutMs?: number;
  /** Log every line to stderr; default: on when `RVHV_DEBUG` names `qmp`. */
  debug?: boolean;
}

/**
 * The prefix of the ids this client gives its commands (qemu.qmp uses `__qmp#`).
 *
 * @example Usage
 * ```ts
 * import { QMP_ID_PREFIX } from "./_qmp_client.ts";
 * import { ok } from "node:assert/strict";
 *
 * // Ids the client sends look like `${QMP_ID_PREFIX}00001`; replies are routed by them.
 * ok(QMP_ID_PREFIX.length > 0);
 * ```
 */
export const QMP_ID_PREFIX = "__rvhv#";

interface PendingCall {
  readonly command: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  cleanup(): void;
}

interface Listener {
  readonly fn: QmpEventListener;
  readonly names: ReadonlySet<string> | undefined;
}

const NEWLINE = 0x0a;

/**
 * A QMP client.
 *
 * ```
 * idle ──connect()──▶ connecting ──greeting + qmp_capabilities──▶ running
 *   ▲                     │ (failure)                                │
 *   └─────────────────────┴──────── disconnecting ◀──close() / EOF ──┘
 * ```
 *
 * Commands may overlap: each gets an id (`__rvhv#00001`, …) and its reply is
 * matched by id, so events and out-of-order replies cannot confuse it.
 *
 * @example Usage
 * ```ts ignore
 * import { QmpClient } from "./_qmp_client.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"));
 * console.log(qmp.versionText, await qmp.execute("query-status"));
 * qmp.addEventListener((event) => console.log(event.event), ["STOP", "RESUME"]);
 * await qmp.close();
 * ```
 */
export class QmpClient {
  #transport: ByteTransport;
  #timeoutMs: number;
  #log: DebugLog | undefined;
  #runstate: QmpRunstate = "idle";
  #greeting: QmpGreeting | undefined;
  #greetingWaiter: { resolve(g: QmpGreeting): void; reject(e: unknown): void } | undefined;
  #pending = new Map<string, PendingCall>();
  #abandoned = new Set<string>();
  #nextId = 1;
  #listeners = new Set<Listener>();
  #pump: Promise<void> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closeReason: Error | undefined;
  #closed: Promise<Error | undefined>;
  #resolveClosed!: (reason: Error | undefined) => void;
  #decoder = new TextDecoder();
  #encoder = new TextEncoder();

  /**
   * Wraps a transport; call {@linkcode QmpClient.connect} (the method) next,
   * or use the static `QmpClient.connect`.
   *
   * @param transport The byte stream to QEMU's QMP socket.
   * @param options Time-out and logging.
   */
  constructor(transport: ByteTransport, options: QmpClientOptions = {}) {
    this.#transport = transport;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#log = debugLogger("qmp", options.debug);
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /**
   * Creates a client and connects it: reads and validates the greeting,
   * then negotiates capabilities.
   *
   * @example Usage
   * ```ts ignore
   * import { QmpClient } from "./_qmp_client.ts";
   * import { connectUnixSocket } from "./_transport.ts";
   *
   * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"), { timeoutMs: 500 });
   * await qmp.close();
   * ```
   *
   * @param transport The byte stream to QEMU's QMP socket.
   * @param options Time-out and logging.
   * @returns A client in state `running`.
   * @throws {QmpProtocolError} For a bad greeting.
   * @throws {AxError} Kind `"Timeout"` or `"Io"` when QEMU does not greet in time or hangs up.
   */
  static async connect(transport: ByteTransport, options?: QmpClientOptions): Promise<QmpClient> {
    const client = new QmpClient(transport, options);
    await client.connect();
    return client;
  }

  /** The connection's state. */
  get runstate(): QmpRunstate {
    return this.#runstate;
  }

  /**
   * The greeting QEMU sent.
   *
   * @throws {AxError} Kind `"BadState"` before the greeting arrived.
   */
  get greeting(): QmpGreeting {
    if (this.#greeting === undefined) {
      throw new AxError("BadState", "Cannot read the QMP greeting: the client is not connected");
    }
    return this.#greeting;
  }

  /** QEMU's version as `major.minor.micro` (from the greeting). */
  get versionText(): string {
    const { major, minor, micro } = this.greeting.version.qemu;
    return `${major}.${minor}.${micro}`;
  }

  /**
   * Settles when the connection has ended, with the reason (`undefined` for
   * a requested close).
   */
  get closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  /**
   * Reads the greeting and negotiates capabilities (without `oob`: this
   * client does not use out-of-band execution).
   *
   * @param options Time-out and signal for the greeting and the negotiation.
   * @returns The greeting.
   * @throws {AxError} Kind `"BadState"` unless `idle`.
   */
  async connect(options: QmpCallOptions = {}): Promise<QmpGreeting> {
    if (this.#runstate !== "idle" || this.#pump !== undefined || this.#closeReason !== undefined) {
      throw new AxError(
        "BadState",
        `Cannot connect the QMP client: it is ${this.#runstate}, and connect needs idle (a client connects once)`,
      );
    }
    this.#runstate = "connecting";
    const greeting = new Promise<QmpGreeting>((resolve, reject) => {
      this.#greetingWaiter = { resolve, reject };
    });
    this.#pump = this.#readLoop();
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AxError(
              "Timeout",
              `Cannot connect to QMP: QEMU sent no greeting within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      this.#greeting = await Promise.race([greeting, timeout]);
      clearTimeout(timer);
      this.#greetingWaiter = undefined;
      await this.#execute("qmp_capabilities", undefined, options, true);
      this.#runstate = "running";
      return this.#greeting;
    } catch (error) {
      clearTimeout(timer);
      this.#greetingWaiter = undefined;
      await this.#shutdown(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  /**
   * Executes a command and resolves to its `return` member.
   *
   * @example Usage
   * ```ts ignore
   * const cpus = await qmp.execute<{ "cpu-index": number }[]>("query-cpus-fast");
   * const h = await qmp.execute("qom-get", { path: "/machine/soc0/harts[0]", property: "h" });
   * ```
   *
   * @typeParam T The type of the `return` member.
   * @param command The command name.
   * @param args Its arguments.
   * @param options Time-out and abort signal.
   * @returns The `return` member of the reply.
   * @throws {QmpError} When QEMU answers with an error (its class and desc kept).
   * @throws {AxError} Kind `"Timeout"` when no reply comes in time, `"Io"` when
   *   the connection is gone or drops, `"BadState"` before `connect`.
   */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: QmpCallOptions = {},
  ): Promise<T> {
    return this.#execute(command, args, options, false) as Promise<T>;
  }

  #execute(
    command: string,
    args: Record<string, unknown> | undefined,
    options: QmpCallOptions,
    negotiating: boolean,
  ): Promise<unknown> {
    if (this.#runstate !== "running" && !(negotiating && this.#runstate === "connecting")) {
      const why = this.#closeReason !== undefined
        ? `the connection closed (${this.#closeReason.message})`
        : `the client is ${this.#runstate}`;
      return Promise.reject(
        new AxError(
          this.#closeReason !== undefined || this.#runstate === "disconnecting" ? "Io" : "BadState",
          `Cannot execute QMP command "${command}": ${why}`,
          { cause: this.#closeReason },
        ),
      );
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const id = `${QMP_ID_PREFIX}${String(this.#nextId++).padStart(5, "0")}`;
    const message: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) message.arguments = args;
    const line = JSON.stringify(message);
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      const onAbort = () => {
        this.#forget(id);
        reject(options.signal!.reason);
      };
      const timer = setTimeout(() => {
        this.#forget(id);
        reject(
          new AxError(
            "Timeout",
            `Cannot execute QMP command "${command}": QEMU did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        command,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
        },
      });
      this.#log?.(`> ${line}`);
      this.#send(line + "\n").catch((error) => {
        const pending = this.#pending.get(id);
        if (pending === undefined) return;
        this.#pending.delete(id);
        pending.cleanup();
        pending.reject(
          new AxError("Io", `Cannot execute QMP command "${command}": the write failed`, {
            cause: error,
          }),
        );
      });
    });
  }

  /** Drops a call whose caller gave up; its late reply is then ignored quietly. */
  #forget(id: string): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    pending.cleanup();
    this.#pending.delete(id);
    this.#abandoned.add(id);
  }

  #send(text: string): Promise<void> {
    const data = this.#encoder.encode(text);
    const next = this.#writing.then(() => writeAll(this.#transport, data));
    this.#writing = next.catch(() => {});
    return next;
  }

  /**
   * Adds an event listener.
   *
   * @example Usage
   * ```ts ignore
   * const stop = qmp.addEventListener((event) => console.log(event.event), ["STOP"]);
   * stop(); // removes it
   * ```
   *
   * @param listener Called with each event (synchronously, in arrival order).
   * @param names Only these events; all events when omitted.
   * @returns A function that removes the listener.
   */
  addEventListener(listener: QmpEventListener, names?: readonly string[]): () => void {
    const entry: Listener = { fn: listener, names: names ? new Set(names) : undefined };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /**
   * Closes the connection. Pending calls reject with an `AxError` of kind
   * `"Io"`. Idempotent; resolves when the reader has stopped.
   */
  async close(): Promise<void> {
    await this.#shutdown(undefined);
  }

  /** Closes the connection (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(reason: Error | undefined): Promise<void> {
    if (this.#runstate !== "idle" || this.#pump !== undefined) {
      if (this.#closeReason === undefined) {
        this.#closeReason = reason ?? new Error("the client closed the connection");
      }
      if (this.#runstate !== "idle") this.#runstate = "disconnecting";
      this.#failAll(this.#closeReason);
    }
    if (this.#closeReason === undefined) {
      // Closed before it ever connected: nothing was pending.
      this.#closeReason = reason ?? new Error("the client closed the connection");
    }
    closeQuietly(this.#transport);
    const pump = this.#pump;
    if (pump !== undefined) await pump;
    await this.#writing;
    this.#runstate = "idle";
  }

  #failAll(reason: Error): void {
    const waiter = this.#greetingWaiter;
    this.#greetingWaiter = undefined;
    waiter?.reject(
      reason instanceof QmpProtocolError || reason.message.startsWith("Cannot ")
        ? reason
        : new AxError(
          reason instanceof AxError ? reason.kind : "Io",
          `Cannot connect to QMP: ${reason.message}`,
          { cause: reason },
        ),
    );
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) {
      call.cleanup();
      call.reject(
        reason instanceof QmpProtocolError ? reason : new AxError(
          "Io",
          `Cannot execute QMP command "${call.command}": the connection closed (${reason.message})`,
          { cause: reason },
        ),
      );
    }
  }

  async #readLoop(): Promise<void> {
    let partial = new Uint8Array(0);
    const reason = await readUntilEnd(this.#transport, (read) => {
      let chunk = read;
      if (partial.length > 0) {
        chunk = new Uint8Array(partial.length + read.length);
        chunk.set(partial);
        chunk.set(read, partial.length);
      }
      let start = 0;
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== NEWLINE) continue;
        this.#onLine(this.#decoder.decode(chunk.subarray(start, i)));
        start = i + 1;
      }
      partial = chunk.slice(start);
    }, { end: "QEMU closed the QMP connection", failure: "QMP connection failed" });
    this.#pump = undefined;
    this.#closeReason ??= reason;
    this.#failAll(this.#closeReason);
    closeQuietly(this.#transport);
    if (this.#runstate !== "idle") this.#runstate = "idle";
    this.#resolveClosed(this.#closeReason instanceof AxError ? this.#closeReason : undefined);
  }

  /** Handles one line; throws a protocol error (ending the session) when malformed. */
  #onLine(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    this.#log?.(`< ${line}`);
    const message = parseQmpLine(line);
    if (message.kind === "greeting") {
      const waiter = this.#greetingWaiter;
      if (waiter === undefined || this.#greeting !== undefined) {
        throw new QmpProtocolError(`Cannot accept QMP line: a second greeting arrived`, line);
      }
      const greeting = parseGreeting(message.message, line);
      this.#greetingWaiter = undefined;
      waiter.resolve(greeting);
      return;
    }
    if (this.#greeting === undefined && this.#greetingWaiter !== undefined) {
      throw new QmpProtocolError(
        `Cannot accept the QMP greeting: the first message has no 'QMP' member`,
        line,
      );
    }
    if (message.kind === "malformed") throw message.error;
    if (message.kind === "event") {
      const { event } = message;
      for (const listener of [...this.#listeners]) {
        if (listener.names === undefined || listener.names.has(event.event)) {
          try {
            listener.fn(event);
          } catch (error) {
            this.#log?.(`listener for ${event.event} threw: ${(error as Error).message}`);
          }
        }
      }
      return;
    }
    const pending = this.#pending.get(message.id);
    if (pending === undefined) {
      if (!this.#abandoned.delete(message.id)) {
        this.#log?.(`dropped a reply with unknown id ${message.id}`);
      }
      return;
    }
    this.#pending.delete(message.id);
    pending.cleanup();
    if (message.kind === "return") {
      pending.resolve(message.value);
    } else if (message.error === undefined) {
      pending.reject(
        new QmpProtocolError(
          `Cannot read QMP error reply to "${pending.command}": it lacks class or desc`,
          line,
        ),
      );
    } else {
      pending.reject(
        new QmpError({
          command: pending.command,
          errorClass: message.error.errorClass,
          desc: message.error.desc,
        }),
      );
    }
  }
}

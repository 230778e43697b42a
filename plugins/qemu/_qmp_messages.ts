/**
 * What travels on a QMP connection, as qemu.qmp's models describe it: the
 * greeting, events, replies to commands, and the protocol error a malformed
 * line is. The client (`./_qmp_client.ts`) routes what this module parses.
 *
 * Needs no permissions.
 *
 * @module
 */

import { AxError } from "../../hal/errors.ts";

/**
 * The QEMU version in a QMP greeting.
 *
 * @example Usage
 * ```ts ignore
 * import { createQemuHal } from "@rvhv/percpu/qemu";
 *
 * const hal = await createQemuHal({ harts: 1 });
 * console.log(hal.info().version); // 7.2.22, from the QMP greeting's QmpVersion
 * await hal.close();
 * ```
 */
export interface QmpVersion {
  /** The numeric version. */
  qemu: { major: number; minor: number; micro: number };
  /** The distribution's package string (may be empty). */
  package: string;
}

/**
 * A validated QMP greeting.
 *
 * @example Usage
 * ```ts ignore
 * import { QmpClient } from "./_qmp_client.ts";
 * import type { QmpGreeting } from "./_qmp_messages.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"));
 * const greeting: QmpGreeting = qmp.greeting!;
 * console.log(greeting.version.qemu.major, greeting.capabilities);
 * await qmp.close();
 * ```
 */
export interface QmpGreeting {
  /** QEMU's version. */
  version: QmpVersion;
  /** The capabilities QEMU offers (`"oob"`). */
  capabilities: string[];
}

/**
 * An asynchronous event QEMU sent (`STOP`, `RESUME`, `SHUTDOWN`, …).
 *
 * @example Usage
 * ```ts ignore
 * import { QmpClient } from "./_qmp_client.ts";
 * import type { QmpEvent } from "./_qmp_messages.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"));
 * qmp.addEventListener((event: QmpEvent) => console.log(event.event, event.timestamp), ["STOP"]);
 * await qmp.execute("stop");
 * await qmp.close();
 * ```
 */
export interface QmpEvent {
  /** The event's name. */
  event: string;
  /** Its data, when it has any. */
  data?: Record<string, unknown>;
  /** When QEMU emitted it. */
  timestamp?: { seconds: number; microseconds: number };
}

/**
 * Receives events; see {@linkcode QmpClient.addEventListener}.
 *
 * @example Usage
 * ```ts ignore
 * import { QmpClient } from "./_qmp_client.ts";
 * import type { QmpEventListener } from "./_qmp_messages.ts";
 * import { connectUnixSocket } from "./_transport.ts";
 *
 * const onShutdown: QmpEventListener = (event) => console.log("QEMU is going:", event.data);
 * const qmp = await QmpClient.connect(await connectUnixSocket("/tmp/qmp.sock"));
 * qmp.addEventListener(onShutdown, ["SHUTDOWN"]);
 * await qmp.close();
 * ```
 */
export type QmpEventListener = (event: QmpEvent) => void;

/**
 * The QMP stream broke the protocol: a line that is not a JSON object, a
 * bad greeting, a reply without an id, a message of no known kind. The
 * session ends when one is seen.
 *
 * @example Usage
 * ```ts
 * import { QmpProtocolError } from "./_qmp_messages.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const error = new QmpProtocolError("Cannot parse QMP line: it is not JSON", "{oops");
 * strictEqual(error.kind, "Io");
 * strictEqual(error.line, "{oops");
 * ```
 */
export class QmpProtocolError extends AxError {
  /** The offending line, when there was one. */
  readonly line: string | undefined;

  /**
   * Creates a protocol error.
   *
   * @param message What is wrong.
   * @param line The offending line.
   * @param options The cause.
   */
  constructor(message: string, line?: string, options?: ErrorOptions) {
    super("Io", message, options);
    this.name = "QmpProtocolError";
    this.line = line;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Checks a greeting the way qemu.qmp's models do.
 *
 * @param message The first message QEMU sent.
 * @param line The line, for the error.
 * @returns The greeting.
 */
export function parseGreeting(message: Record<string, unknown>, line: string): QmpGreeting {
  const fail = (detail: string) =>
    new QmpProtocolError(`Cannot accept the QMP greeting: ${detail}`, line);
  const qmp = message.QMP;
  if (!isObject(qmp)) throw fail(`'Greeting' object requires a 'QMP' member that is an object`);
  const version = qmp.version;
  if (!isObject(version)) throw fail(`'QMP' member 'version' must be a JSON object`);
  const qemu = version.qemu;
  if (!isObject(qemu)) throw fail(`'version' member 'qemu' must be a JSON object`);
  for (const key of ["major", "minor", "micro"]) {
    if (typeof qemu[key] !== "number" || !Number.isInteger(qemu[key])) {
      throw fail(`'qemu' member '${key}' must be an integer`);
    }
  }
  if (version.package !== undefined && typeof version.package !== "string") {
    throw fail(`'version' member 'package' must be a string`);
  }
  const capabilities = qmp.capabilities;
  if (!Array.isArray(capabilities) || !capabilities.every((c) => typeof c === "string")) {
    throw fail(`'QMP' member 'capabilities' must be a list of strings`);
  }
  return {
    version: {
      qemu: {
        major: qemu.major as number,
        minor: qemu.minor as number,
        micro: qemu.micro as number,
      },
      package: (version.package as string | undefined) ?? "",
    },
    capabilities: [...capabilities] as string[],
  };
}

/** One line of the QMP stream, classified (the client's state decides what is allowed when). */
export type QmpMessage =
  | { readonly kind: "greeting"; readonly message: Record<string, unknown> }
  | { readonly kind: "event"; readonly event: QmpEvent }
  | { readonly kind: "return"; readonly id: string; readonly value: unknown }
  | {
    readonly kind: "error";
    readonly id: string;
    /** `undefined` when the error member lacks its class or desc. */
    readonly error: { readonly errorClass: string; readonly desc: string } | undefined;
  }
  | { readonly kind: "malformed"; readonly error: QmpProtocolError };

/**
 * Parses one line of the QMP stream. A line that is not a JSON object throws
 * at once; a reply without a usable id, or a message of no known kind, comes
 * back as `malformed` (the client throws it once it has checked the
 * greeting's place in the stream).
 *
 * @example Usage
 * ```ts
 * import { parseQmpLine } from "./_qmp_messages.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(parseQmpLine('{"return": {}, "id": "__rvhv#00001"}'), {
 *   kind: "return",
 *   id: "__rvhv#00001",
 *   value: {},
 * });
 * ```
 *
 * @param line One line, without its line break.
 * @returns The message.
 * @throws {QmpProtocolError} When the line is not a JSON object.
 */
export function parseQmpLine(line: string): QmpMessage {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch (error) {
    throw new QmpProtocolError(`Cannot parse QMP line: it is not JSON`, line, { cause: error });
  }
  if (!isObject(message)) {
    throw new QmpProtocolError(`Cannot parse QMP line: it is not a JSON object`, line);
  }
  if ("QMP" in message) return { kind: "greeting", message };
  if (typeof message.event === "string") {
    const event: QmpEvent = { event: message.event };
    if (isObject(message.data)) event.data = message.data;
    if (isObject(message.timestamp)) {
      event.timestamp = message.timestamp as { seconds: number; microseconds: number };
    }
    return { kind: "event", event };
  }
  if ("return" in message || "error" in message) {
    const id = message.id;
    if (id === undefined) {
      // QEMU answers a command it could not parse with an id-less error.
      const desc = isObject(message.error) ? String(message.error.desc) : "no id";
      return malformed(`Cannot match QMP reply: it has no id (${desc})`, line);
    }
    if (typeof id !== "string") {
      return malformed(`Cannot match QMP reply: its id is not a string`, line);
    }
    if (!("error" in message)) return { kind: "return", id, value: message.return };
    const error = message.error;
    return {
      kind: "error",
      id,
      error: isObject(error) && typeof error.class === "string" && typeof error.desc === "string"
        ? { errorClass: error.class, desc: error.desc }
        : undefined,
    };
  }
  return malformed(`Cannot parse QMP line: it is neither a greeting, an event nor a reply`, line);
}

function malformed(message: string, line: string): QmpMessage {
  return { kind: "malformed", error: new QmpProtocolError(message, line) };
}

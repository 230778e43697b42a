/**
 * The framing of the gdb remote serial protocol (RSP): a payload travels as
 * `$payload#checksum`, with `$ # } *` escaped as `}` + byte ^ 0x20, and a
 * reply may be run-length encoded (`x*n`). The receiving side acknowledges
 * every packet with `+`; QEMU 7.2 offers no no-ack mode.
 *
 * Needs no permissions.
 *
 * @module
 */

import { GdbProtocolError } from "../../hal/errors.ts";

const DOLLAR = 0x24;
const HASH = 0x23;
const PLUS = 0x2b;
const MINUS = 0x2d;
const ESCAPE = 0x7d;
const STAR = 0x2a;

/**
 * Frames a payload as an RSP packet: `$`, the payload with `$ # } *`
 * escaped, `#`, and the two-digit checksum of the transmitted bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeGdbPacket } from "./_gdb_packets.ts";
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
 * import { decodeGdbPayload } from "./_gdb_packets.ts";
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
 * Takes the complete packets off the front of a received stream: skips the
 * stub's `+` acknowledgements, verifies each packet's checksum, and hands
 * each decoded payload to `onPayload` in order (before looking at the next,
 * so a reply that resolves a request is delivered even when a later packet
 * in the same chunk is bad).
 *
 * @example Usage
 * ```ts
 * import { takeGdbPackets } from "./_gdb_packets.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const payloads: string[] = [];
 * const left = takeGdbPackets("+$OK#9a$E1", (payload) => payloads.push(payload));
 * deepStrictEqual(payloads, ["OK"]);
 * deepStrictEqual(left, { rest: "$E1", packets: 1 });
 * ```
 *
 * @param received What arrived and was not consumed yet, as a binary string.
 * @param onPayload Called with each packet's decoded payload.
 * @returns What is left (an incomplete packet) and how many packets were taken (each wants a `+`).
 * @throws {GdbProtocolError} For a NAK, a byte outside a packet, or a bad checksum.
 */
export function takeGdbPackets(
  received: string,
  onPayload: (payload: string) => void,
): { rest: string; packets: number } {
  let pos = 0;
  let packets = 0;
  while (pos < received.length) {
    const c = received.charCodeAt(pos);
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
    const hash = received.indexOf("#", pos + 1);
    if (hash < 0 || hash + 2 >= received.length) break;
    const raw = received.slice(pos + 1, hash);
    const sumText = received.slice(hash + 1, hash + 3);
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
    packets++;
    onPayload(decodeGdbPayload(raw));
  }
  return { rest: received.slice(pos), packets };
}

/**
 * Guest memory for native access: gdb `m`/`M` packets (cut to fit QEMU's
 * 4 KiB packet buffer) while the VM is stopped, and the HMP `xp` command
 * over QMP while it runs (a gdb packet sent to a running VM is swallowed
 * and stops it).
 *
 * Needs no permissions.
 *
 * @module
 */

import { AxError, GdbProtocolError } from "../../hal/errors.ts";
import type { QmpClient } from "./_qmp_client.ts";

/** Bytes per `m`/`M` packet: QEMU's buffer is 4096 characters, two per byte. */
export const MEMORY_CHUNK = 1024;

const HEX_DIGITS = "0123456789abcdef";

/**
 * Bytes as lowercase hex, two digits each.
 *
 * @example Usage
 * ```ts
 * import { bytesToHex } from "./_guest_memory.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(bytesToHex(new Uint8Array([0x13, 0x00, 0xff])), "1300ff");
 * ```
 *
 * @param bytes The bytes.
 * @returns The hex text.
 */
export function bytesToHex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 15]!;
  return text;
}

/**
 * Hex text (an `m` reply) as bytes.
 *
 * @example Usage
 * ```ts
 * import { hexToBytes } from "./_guest_memory.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(hexToBytes("1300ff"), new Uint8Array([0x13, 0x00, 0xff]));
 * ```
 *
 * @param text Hex digits, an even number of them.
 * @returns The bytes.
 * @throws {GdbProtocolError} When the text is not hex bytes.
 */
export function hexToBytes(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new GdbProtocolError(
      `Cannot read guest memory: the gdbstub answered "${text.slice(0, 20)}"`,
    );
  }
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * The `M` packets that write `bytes` at `address`, at most
 * {@linkcode MEMORY_CHUNK} bytes each.
 *
 * @example Usage
 * ```ts
 * import { writePackets } from "./_guest_memory.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(writePackets(0x8020_2000, new Uint8Array([1, 2])), ["M80202000,2:0102"]);
 * ```
 *
 * @param address Where.
 * @param bytes What.
 * @returns The payloads (none for no bytes).
 */
export function writePackets(address: number, bytes: Uint8Array): string[] {
  const packets: string[] = [];
  for (let at = 0; at < bytes.length; at += MEMORY_CHUNK) {
    const chunk = bytes.subarray(at, Math.min(bytes.length, at + MEMORY_CHUNK));
    packets.push(
      `M${(address + at).toString(16)},${chunk.length.toString(16)}:${bytesToHex(chunk)}`,
    );
  }
  return packets;
}

/**
 * The `m` packets that read `length` bytes at `address`, at most
 * {@linkcode MEMORY_CHUNK} bytes each.
 *
 * @example Usage
 * ```ts
 * import { readPackets } from "./_guest_memory.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(readPackets(0x1000, 1500), ["m1000,400", "m1400,1dc"]);
 * ```
 *
 * @param address Where.
 * @param length How many bytes.
 * @returns The payloads.
 */
export function readPackets(address: number, length: number): string[] {
  const packets: string[] = [];
  for (let at = 0; at < length; at += MEMORY_CHUNK) {
    const size = Math.min(MEMORY_CHUNK, length - at);
    packets.push(`m${(address + at).toString(16)},${size.toString(16)}`);
  }
  return packets;
}

/**
 * Joins the replies to {@linkcode readPackets} into the bytes read.
 *
 * @example Usage
 * ```ts
 * import { joinReads } from "./_guest_memory.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(joinReads(["0102", "03"], 3), new Uint8Array([1, 2, 3]));
 * ```
 *
 * @param replies The replies, in order.
 * @param length How many bytes were asked for.
 * @returns The bytes.
 * @throws {GdbProtocolError} For an error reply or a short read.
 */
export function joinReads(replies: readonly string[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const reply of replies) {
    const chunk = hexToBytes(reply);
    bytes.set(chunk.subarray(0, length - at), at);
    at += chunk.length;
  }
  if (at < length) {
    throw new GdbProtocolError(`Cannot read guest memory: got ${at} of ${length} bytes`);
  }
  return bytes;
}

/**
 * Parses HMP `xp /Nwx` output into its 32-bit words.
 *
 * @example Usage
 * ```ts
 * import { parseXpWords } from "./_guest_memory.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(
 *   parseXpWords("0000000080201100: 0x00000001 0x00000002\r\n"),
 *   [1, 2],
 * );
 * ```
 *
 * @param text The output.
 * @returns The words, in address order.
 */
export function parseXpWords(text: string): number[] {
  const words: number[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    for (const match of line.slice(colon + 1).matchAll(/0x([0-9a-fA-F]{1,8})\b/g)) {
      words.push(parseInt(match[1]!, 16));
    }
  }
  return words;
}

/**
 * Reads `count` 32-bit words of guest physical memory over QMP (HMP `xp`),
 * which works while the VM runs.
 *
 * @example Usage
 * ```ts ignore
 * import { readWordsOverQmp } from "./_guest_memory.ts";
 *
 * const done = await readWordsOverQmp(qmp, 0x8020_1100, 4); // the agent's done words
 * ```
 *
 * @param qmp The QMP client.
 * @param address Where (4-byte aligned).
 * @param count How many words.
 * @param signal Stops waiting.
 * @returns The words.
 * @throws {AxError} Kind `"InvalidData"` when QEMU answers something else.
 */
export async function readWordsOverQmp(
  qmp: QmpClient,
  address: number,
  count: number,
  signal?: AbortSignal,
): Promise<number[]> {
  const text = await qmp.execute<string>(
    "human-monitor-command",
    { "command-line": `xp /${count}wx 0x${address.toString(16)}` },
    signal === undefined ? {} : { signal },
  );
  const words = parseXpWords(text);
  if (words.length !== count) {
    throw new AxError(
      "InvalidData",
      `Cannot read ${count} words at 0x${address.toString(16)} over QMP: xp answered "${
        text.trim().slice(0, 80)
      }"`,
    );
  }
  return words;
}

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { GdbProtocolError } from "../../hal/errors.ts";
import {
  bytesToHex,
  hexToBytes,
  joinReads,
  MEMORY_CHUNK,
  parseXpWords,
  readPackets,
  writePackets,
} from "./_guest_memory.ts";

Deno.test("writePackets() cuts writes to fit QEMU's packet buffer", () => {
  const bytes = new Uint8Array(MEMORY_CHUNK + 3).map((_, i) => i & 0xff);
  const packets = writePackets(0x8022_0000, bytes);
  strictEqual(packets.length, 2);
  strictEqual(packets[0]!.slice(0, 17), "M80220000,400:000");
  strictEqual(packets[1], `M80220400,3:${bytesToHex(bytes.subarray(MEMORY_CHUNK))}`);
  // Every packet stays under QEMU's 4096-character buffer.
  for (const packet of packets) strictEqual(packet.length < 4000, true);
  deepStrictEqual(writePackets(0x1000, new Uint8Array(0)), []);
});

Deno.test("readPackets() and joinReads() read back what was cut", () => {
  const bytes = new Uint8Array(2500).map((_, i) => (i * 7) & 0xff);
  const packets = readPackets(0x8022_1800, bytes.length);
  deepStrictEqual(packets, ["m80221800,400", "m80221c00,400", "m80222000,1c4"]);
  const replies = packets.map((_, k) =>
    bytesToHex(bytes.subarray(k * MEMORY_CHUNK, (k + 1) * MEMORY_CHUNK))
  );
  deepStrictEqual(joinReads(replies, bytes.length), bytes);
});

Deno.test("joinReads() refuses error replies and short reads", () => {
  throws(
    () => joinReads(["E14"], 4),
    (e) => e instanceof GdbProtocolError && /"E14"/.test(e.message),
  );
  throws(() => joinReads(["0102"], 4), /got 2 of 4 bytes/);
  throws(() => hexToBytes("abc"), GdbProtocolError);
});

Deno.test("parseXpWords() reads HMP xp output of both QEMU versions", () => {
  const text = "0000000080201100: 0x00000001 0x00000001 0x00000001 0x00000001\r\n" +
    "0000000080201110: 0x0000000b 0xffffffff\r\n";
  deepStrictEqual(parseXpWords(text), [1, 1, 1, 1, 11, 0xffff_ffff]);
  deepStrictEqual(parseXpWords(""), []);
});

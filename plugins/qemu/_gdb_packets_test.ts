import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { GdbProtocolError } from "../../hal/errors.ts";
import { decodeGdbPayload, encodeGdbPacket, takeGdbPackets } from "./_gdb_packets.ts";

Deno.test("encodeGdbPacket() frames, escapes and checksums", () => {
  strictEqual(encodeGdbPacket("p644"), "$p644#0e");
  strictEqual(encodeGdbPacket("Hgp1.3"), "$Hgp1.3#b1");
  strictEqual(encodeGdbPacket(""), "$#00");
  // '#' (0x23) is sent as '}' 0x03; the checksum covers the escaped bytes.
  strictEqual(
    encodeGdbPacket("a#b"),
    `$a}\x03b#${((0x61 + 0x7d + 0x03 + 0x62) & 0xff).toString(16)}`,
  );
});

Deno.test("decodeGdbPayload() undoes escapes and run-length encoding", () => {
  strictEqual(decodeGdbPayload("0* "), "0000");
  strictEqual(decodeGdbPayload('ff*"00'), "fffffff00");
  strictEqual(decodeGdbPayload('ad11140*"0080'), "ad11140000000080");
  strictEqual(decodeGdbPayload("x}\x5dy"), "x}y");
  throws(() => decodeGdbPayload("*!"), GdbProtocolError);
  throws(() => decodeGdbPayload("ab}"), GdbProtocolError);
});

Deno.test("takeGdbPackets() takes whole packets, skips acks and keeps the rest", () => {
  const payloads: string[] = [];
  deepStrictEqual(takeGdbPackets('++$OK#9a$0*"#', (p) => payloads.push(p)), {
    rest: '$0*"#',
    packets: 1,
  });
  deepStrictEqual(payloads, ["OK"]);
  throws(() => takeGdbPackets("$OK#00", () => {}), /checksum should be 9a/);
  throws(() => takeGdbPackets("-", () => {}), /NAK/);
  throws(() => takeGdbPackets("x", () => {}), GdbProtocolError);
});

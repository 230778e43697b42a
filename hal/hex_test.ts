import { strictEqual, throws } from "node:assert/strict";
import { hex, parseHex } from "./hex.ts";

Deno.test("hex() prints lowercase 64-bit values", () => {
  strictEqual(hex(0n), "0x0");
  strictEqual(hex(0xB10Dn), "0xb10d");
  strictEqual(hex(-1n), "0xffffffffffffffff");
});

Deno.test("parseHex() reads hex and decimal and refuses the rest", () => {
  strictEqual(parseHex("0xFFFF_FFFF"), 0xffffffffn);
  strictEqual(parseHex(" 42 "), 42n);
  throws(() => parseHex("0x1_0000_0000_0000_0000"), SyntaxError);
  throws(() => parseHex("ff"), SyntaxError);
  throws(() => parseHex("-1"), SyntaxError);
});

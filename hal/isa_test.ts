import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { misaOf, parseIsa } from "./isa.ts";

Deno.test("parseIsa() splits single- and multi-letter extensions", () => {
  deepStrictEqual([...parseIsa("rv64imafdch_sstc_zicbom").extensions].sort(), [
    "a",
    "c",
    "d",
    "f",
    "h",
    "i",
    "m",
    "sstc",
    "zicbom",
  ]);
  deepStrictEqual([...parseIsa("RV64GC").extensions].sort(), [
    "a",
    "c",
    "d",
    "f",
    "i",
    "m",
    "zicsr",
    "zifencei",
  ]);
  strictEqual(parseIsa("rv64i2p1ma").extensions.has("m"), true);
});

Deno.test("parseIsa() refuses what is not an RV64 ISA string", () => {
  throws(() => parseIsa("rv32imac"), /only RV64/);
  throws(() => parseIsa("x86_64"), SyntaxError);
  throws(() => parseIsa("rv64mac"), /"i" is missing/);
  throws(() => parseIsa("rv64imadc"), /"d" requires "f"/);
  throws(() => parseIsa("rv64imak"), /unknown single-letter extension "k"/);
});

Deno.test("misaOf() matches QEMU's misa with and without H", () => {
  strictEqual(misaOf(parseIsa("rv64imafdch")), 0x80000000001411adn);
  strictEqual(misaOf(parseIsa("rv64imafdc")), 0x800000000014112dn);
});

import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { CsrTrap, GdbProtocolError } from "../../hal/errors.ts";
import { decodeLe64, encodeLe64, GdbCsrCodec } from "./_gdb_codec.ts";
import { parseTargetRegisters } from "./_gdb_target.ts";

Deno.test("encodeLe64() and decodeLe64() use 16 digits, least significant byte first", () => {
  strictEqual(encodeLe64(0x80000000001411adn), "ad11140000000080");
  strictEqual(encodeLe64(-1n), "ffffffffffffffff");
  strictEqual(encodeLe64(0n), "0000000000000000");
  strictEqual(decodeLe64("ffb1000000000000"), 0xb1ffn);
  strictEqual(decodeLe64("AABBCCDDEEFF0011"), 0x1100ffeeddccbbaan);
  throws(() => decodeLe64("ffffffff"), GdbProtocolError);
});

Deno.test("GdbCsrCodec numbers CSRs from the target description", () => {
  const registers = parseTargetRegisters([
    ["cpu.xml", `<reg name="pc" bitsize="64" regnum="32"/>`],
    ["csr.xml", `<reg name="sstatus" bitsize="64" regnum="322"/>`],
  ]);
  const codec = GdbCsrCodec.fromTarget({ files: ["cpu.xml", "csr.xml"], registers });
  strictEqual(codec.csrBase, 66);
  strictEqual(codec.regnum(CSR.hedeleg), 66 + 0x602);
  strictEqual(codec.read(CSR.hedeleg), "p644");
  strictEqual(codec.write(CSR.hedeleg, -1n), "P644=ffffffffffffffff");
  strictEqual(codec.readRegister("pc"), "p20");
  strictEqual(codec.readRegister("priv"), undefined);
  const machineOnly = parseTargetRegisters([["m.xml", `<reg name="mstatus" regnum="834"/>`]]);
  strictEqual(GdbCsrCodec.fromTarget({ files: ["m.xml"], registers: machineOnly }).csrBase, 66);
  throws(
    () => GdbCsrCodec.fromTarget({ files: ["x.xml"], registers: new Map() }),
    (e) => e instanceof GdbProtocolError && /neither sstatus nor mstatus/.test(e.message),
  );
});

Deno.test("GdbCsrCodec reads replies: 16 digits, E14 as a trap, OK for writes", () => {
  const codec = new GdbCsrCodec(66);
  deepStrictEqual(codec.readResult(1, CSR.misa, "ad11140000000080"), {
    ok: true,
    value: 0x80000000001411adn,
  });
  deepStrictEqual(codec.readResult(1, CSR.hgatp, "E14"), { ok: false, trapCause: 2 });
  const trap = (() => {
    try {
      codec.readValue(1, CSR.hgatp, "E14", "set");
    } catch (error) {
      return error;
    }
  })();
  ok(trap instanceof CsrTrap && trap.trapCause === 2 && trap.hart === 1);
  match(trap.message, /^Cannot set CSR "hgatp"/);
  throws(() => codec.readResult(1, CSR.misa, ""), /empty reply \(was target\.xml read/);
  throws(() => codec.readResult(1, CSR.misa, "E01"), /"misa" \(0x301\) on hart 1: unexpected/);
  codec.checkWrite(0, CSR.sscratch, "OK");
  throws(
    () => codec.checkWrite(0, CSR.sscratch, "E01"),
    (e) => e instanceof GdbProtocolError && /answered "E01" instead of OK/.test(e.message),
  );
  strictEqual(codec.registerValue("0100000000000000"), 1n);
});

import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import { GdbProtocolError } from "../../hal/errors.ts";
import { parseTargetRegisters, readTargetDescription } from "./_gdb_target.ts";

Deno.test("parseTargetRegisters() numbers registers as gdb does", () => {
  const regs = parseTargetRegisters([
    ["cpu.xml", `<reg name="zero" bitsize="64"/><reg name="ra" bitsize="64"/>`],
    ["virtual.xml", `<reg name="priv" bitsize="64"/>`],
    ["csr.xml", `<reg name="sstatus" bitsize="64" regnum="290"/><reg name="sie" bitsize="64"/>`],
  ]);
  deepStrictEqual([...regs.values()].map((r) => [r.name, r.regnum, r.file]), [
    ["zero", 0, "cpu.xml"],
    ["ra", 1, "cpu.xml"],
    ["priv", 2, "virtual.xml"],
    ["sstatus", 290, "csr.xml"],
    ["sie", 291, "csr.xml"],
  ]);
  throws(() => parseTargetRegisters([["x.xml", `<reg bitsize="64"/>`]]), GdbProtocolError);
});

Deno.test("readTargetDescription() needs qXfer and reads every include", async () => {
  const files: Record<string, string> = {
    "target.xml": `<target><xi:include href="a.xml"/><xi:include href="b.xml"/></target>`,
    "a.xml": `<reg name="zero" bitsize="64"/>`,
    "b.xml": `<reg name="sstatus" bitsize="64" regnum="322"/>`,
  };
  const asked: string[] = [];
  const target = await readTargetDescription(["PacketSize=1000", "qXfer:features:read+"], (p) => {
    asked.push(p);
    return Promise.resolve("l" + files[p.split(":")[3]!]);
  });
  deepStrictEqual(target.files, ["target.xml", "a.xml", "b.xml"]);
  deepStrictEqual(asked[0], "qXfer:features:read:target.xml:0,ffb");
  deepStrictEqual(target.registers.get("sstatus")!.regnum, 322);
  await rejects(
    readTargetDescription(["PacketSize=1000"], () => Promise.resolve("")),
    (e) => e instanceof GdbProtocolError && /does not offer qXfer/.test(e.message),
  );
});

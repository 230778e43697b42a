import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError, CsrTrap, GdbProtocolError } from "../../hal/errors.ts";
import { FakeGdbStub } from "../../tests/_helpers/fake_gdb_stub.ts";
import { GdbClient } from "./_gdb_client.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const SSCRATCH = CSR.sscratch;
const HEDELEG = CSR.hedeleg;

Deno.test(
  "GdbClient.connect() reads target.xml first, loops over chunks, and derives the CSR base",
  opts,
  async () => {
    const stub = new FakeGdbStub({ packetSize: "40" });
    const gdb = await GdbClient.connect(stub.transport, { debug: false });
    strictEqual(stub.packets[0], "qSupported:multiprocess+;xmlRegisters=riscv");
    match(stub.packets[1]!, /^qXfer:features:read:target\.xml:0,/);
    // Every file is read in chunks of PacketSize - 5 = 0x3b bytes, advancing by what arrived.
    const xfers = stub.packets.filter((p) => p.startsWith("qXfer"));
    const targetChunks = xfers.filter((p) => p.includes("target.xml"));
    ok(targetChunks.length > 1, "target.xml should take several chunks");
    deepStrictEqual(
      targetChunks.map((p) => parseInt(p.split(":")[4]!.split(",")[0]!, 16)),
      targetChunks.map((_, i) => i * 0x3b),
    );
    deepStrictEqual(gdb.targetFiles, ["target.xml", "cpu.xml", "virtual.xml", "csr.xml"]);
    // Base from the XML: sstatus is regnum 290, so CSR 0 is 34 (not QEMU's usual 66).
    strictEqual(gdb.codec.csrBase, 34);
    strictEqual(gdb.registers.get("priv")!.regnum, 33);
    strictEqual(gdb.codec.regnum(HEDELEG), 34 + CSR.hedeleg);
    ok(gdb.multiprocess);
    // Every reply was acknowledged.
    await new Promise((r) => setTimeout(r, 0));
    strictEqual(stub.acks, stub.packets.length);
    await gdb.close();
    ok(!stub.packets.some((p) => p.startsWith("D")), "never detach");
  },
);

Deno.test(
  "GdbClient.connect() fails clearly without a usable target description",
  opts,
  async (t) => {
    await t.step("no sstatus or mstatus", async () => {
      const stub = new FakeGdbStub({ csrs: new Map([[CSR.sscratch, 0n]]) });
      await rejects(
        GdbClient.connect(stub.transport, { debug: false }),
        (e) => e instanceof GdbProtocolError && /neither sstatus nor mstatus/.test(e.message),
      );
      ok(stub.transport.closed);
    });
    await t.step("an include that cannot be read", async () => {
      const stub = new FakeGdbStub();
      stub.files.delete("csr.xml");
      await rejects(
        GdbClient.connect(stub.transport, { debug: false }),
        (e) =>
          e instanceof GdbProtocolError && /"csr\.xml": the stub answered "E00"/.test(e.message),
      );
    });
  },
);

Deno.test("GdbClient reads and writes CSRs on the selected hart, caching Hg", opts, async () => {
  const stub = new FakeGdbStub({ harts: 3 });
  const gdb = await GdbClient.connect(stub.transport, { debug: false });
  stub.packets.length = 0;
  strictEqual(await gdb.readCsr(2, CSR.mhartid), 2n);
  strictEqual(await gdb.readCsr(2, CSR.misa), 0x80000000001411adn);
  await gdb.writeCsr(1, SSCRATCH, 0x1122334455667788n);
  strictEqual(await gdb.readCsr(1, SSCRATCH), 0x1122334455667788n);
  strictEqual(await gdb.readCsr(2, SSCRATCH), 0n);
  deepStrictEqual(stub.packets, [
    "Hgp1.3",
    `p${(34 + CSR.mhartid).toString(16)}`,
    `p${(34 + CSR.misa).toString(16)}`,
    "Hgp1.2",
    `P${(34 + CSR.sscratch).toString(16)}=8877665544332211`,
    `p${(34 + CSR.sscratch).toString(16)}`,
    "Hgp1.3",
    `p${(34 + CSR.sscratch).toString(16)}`,
  ]);
  await gdb.close();
});

Deno.test(
  "GdbClient.resume() sends c after every acknowledgement and waits for the stop reply",
  opts,
  async () => {
    const stub = new FakeGdbStub({ harts: 3 });
    const gdb = await GdbClient.connect(stub.transport, { debug: false });
    strictEqual(await gdb.readCsr(2, CSR.mhartid), 2n);
    let acksBeforeContinue = -1;
    let answeredBeforeContinue = -1;
    stub.hook = (payload) => {
      if (payload !== "c") return undefined;
      acksBeforeContinue = stub.acks;
      answeredBeforeContinue = stub.packets.length - 1;
      return null; // no reply until the VM stops
    };
    const stopped = gdb.resume({ timeoutMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    // QEMU stops a running VM on any byte: every + must be in before the c.
    strictEqual(acksBeforeContinue, answeredBeforeContinue);
    ok(stub.transport.written.endsWith("$c#63"));
    stub.send("T02thread:p01.01;");
    strictEqual(await stopped, "T02thread:p01.01;");
    // The stop moved QEMU's selection: the next access selects its hart again.
    stub.packets.length = 0;
    strictEqual(await gdb.readCsr(2, CSR.mhartid), 2n);
    deepStrictEqual(stub.packets, ["Hgp1.3", `p${(34 + CSR.mhartid).toString(16)}`]);
    await gdb.close();
  },
);

Deno.test("GdbClient maps E14 to CsrTrap and E22 on Hg to NotFound", opts, async () => {
  const stub = new FakeGdbStub({ harts: 2 });
  const gdb = await GdbClient.connect(stub.transport, { debug: false });
  const trap = await gdb.readCsr(0, 0x000).then(() => undefined, (e) => e);
  ok(trap instanceof CsrTrap);
  strictEqual(trap.trapCause, 2);
  strictEqual(trap.csr, 0);
  strictEqual(trap.hart, 0);
  const missing = await gdb.readCsr(5, CSR.mhartid).then(() => undefined, (e) => e);
  ok(missing instanceof AxError && missing.kind === "NotFound", String(missing));
  match(missing.message, /Cannot select hart 5: the gdbstub has no thread p1\.6 \(E22\)/);
  // Packets pipelined behind a failed Hg may have gone to another hart: the session ends.
  ok(!gdb.connected);
  await rejects(gdb.readCsr(0, CSR.mhartid), (e) => e instanceof AxError && e.kind === "Io");
  await gdb.close();
});

Deno.test(
  "GdbClient skips unsolicited stop packets and decodes run-length replies",
  opts,
  async () => {
    const stub = new FakeGdbStub({ rle: true });
    const gdb = await GdbClient.connect(stub.transport, { debug: false });
    stub.injectBeforeNextReply.push("T02thread:p01.01;");
    // 0x8000000000000000 is sent as "00*+80"-style run-length encoding.
    stub.values.get(1)!.set(SSCRATCH, 0x8000000000000000n);
    strictEqual(await gdb.readCsr(0, SSCRATCH), 0x8000000000000000n);
    stub.injectBeforeNextReply.push("S05");
    strictEqual(await gdb.readCsr(0, CSR.misa), 0x80000000001411adn);
    await gdb.close();
  },
);

Deno.test("GdbClient pipelines: packets queued in one tick go out in one write", opts, async () => {
  const stub = new FakeGdbStub({ harts: 4 });
  const gdb = await GdbClient.connect(stub.transport, { debug: false });
  await new Promise((r) => setTimeout(r, 0));
  const before = stub.transport.writes.length;
  const values = await Promise.all([0, 1, 2, 3].map((hart) => gdb.readCsr(hart, CSR.mhartid)));
  deepStrictEqual(values, [0n, 1n, 2n, 3n]);
  const writes = stub.transport.writes.slice(before).filter((w) => w.includes("$"));
  strictEqual(writes.length, 1, `expected one write, got ${JSON.stringify(writes)}`);
  strictEqual(writes[0]!.match(/\$/g)!.length, 8); // Hg + p for each of the 4 harts
  const replies = await gdb.exchangeOnHart(1, [
    "p" + (34 + CSR.sscratch).toString(16),
    "P" + (34 + CSR.sscratch).toString(16) + "=0100000000000000",
    "p" + (34 + CSR.sscratch).toString(16),
  ]);
  deepStrictEqual(replies, ["0000000000000000", "OK", "0100000000000000"]);
  await gdb.close();
});

Deno.test(
  "GdbClient: a bad checksum or a NAK is a protocol error that ends the session",
  opts,
  async (t) => {
    await t.step("bad checksum", async () => {
      const stub = new FakeGdbStub();
      const gdb = await GdbClient.connect(stub.transport, { debug: false });
      stub.hook = () => {
        stub.transport.serverSend("$OK#00");
        return null;
      };
      await rejects(
        gdb.readCsr(0, SSCRATCH),
        (e) => e instanceof GdbProtocolError && /checksum should be 9a/.test(e.message),
      );
      ok(!gdb.connected);
      await gdb.close();
    });
    await t.step("NAK", async () => {
      const stub = new FakeGdbStub();
      const gdb = await GdbClient.connect(stub.transport, { debug: false });
      stub.hook = () => {
        stub.transport.serverSend("-");
        return null;
      };
      await rejects(
        gdb.readCsr(0, SSCRATCH),
        (e) => e instanceof GdbProtocolError && /NAK/.test(e.message),
      );
      await gdb.close();
    });
  },
);

Deno.test("GdbClient: time-outs and hang-ups reject every pending exchange", opts, async (t) => {
  await t.step("time-out", async () => {
    const stub = new FakeGdbStub();
    const gdb = await GdbClient.connect(stub.transport, { debug: false, timeoutMs: 20 });
    stub.hook = () => null;
    const [a, b] = [gdb.readCsr(0, SSCRATCH), gdb.readCsr(0, CSR.misa)];
    await rejects(
      a,
      (e) => e instanceof AxError && e.kind === "Timeout" && /within 20 ms/.test(e.message),
    );
    await rejects(b, (e) => e instanceof AxError && (e.kind === "Timeout" || e.kind === "Io"));
    const reason = await gdb.closed;
    ok(reason instanceof AxError && /time-out/.test(reason.message));
    await rejects(gdb.readCsr(0, SSCRATCH), (e) => e instanceof AxError && e.kind === "Io");
    await gdb.close();
  });
  await t.step("hang-up mid-exchange", async () => {
    const stub = new FakeGdbStub();
    const gdb = await GdbClient.connect(stub.transport, { debug: false });
    stub.hook = () => {
      stub.transport.serverClose();
      return null;
    };
    await rejects(
      gdb.readCsr(1, SSCRATCH),
      (e) => e instanceof AxError && e.kind === "Io" && /closed the connection/.test(e.message),
    );
    await gdb.close();
  });
});

Deno.test("GdbClient: beforeSend can refuse, and nothing is written then", opts, async () => {
  let running = false;
  const stub = new FakeGdbStub();
  const gdb = await GdbClient.connect(stub.transport, {
    debug: false,
    beforeSend: () => {
      if (running) throw new AxError("BadState", "the VM is running");
    },
  });
  const count = stub.packets.length;
  running = true;
  await rejects(gdb.readCsr(0, SSCRATCH), (e) => e instanceof AxError && e.kind === "BadState");
  await new Promise((r) => setTimeout(r, 0));
  strictEqual(stub.packets.length, count);
  running = false;
  strictEqual(await gdb.readCsr(0, SSCRATCH), 0n);
  await gdb.close();
});

Deno.test("GdbClient without multiprocess selects with plain thread ids", opts, async () => {
  const stub = new FakeGdbStub({ multiprocess: false, harts: 3 });
  const gdb = await GdbClient.connect(stub.transport, { debug: false });
  ok(!gdb.multiprocess);
  strictEqual(await gdb.readCsr(2, CSR.mhartid), 2n);
  ok(stub.packets.includes("Hg3"));
  await gdb.close();
});

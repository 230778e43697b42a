import { syncBatchOf } from "../../hal/_sync_batch.ts";
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError, CsrTrap, TraceDivergence, TraceFormatError } from "../../hal/errors.ts";
import { withTempDir, writeTrace } from "../../tests/_helpers/traces.ts";
import { createReplayHal } from "./replay_hal.ts";

/** Asserts a `TraceDivergence` with these fields and a message that says how to re-record. */
function divergence(
  fields: { index: number; hart: number; csr: number; expected: string; actual: string },
) {
  return (error: unknown) => {
    ok(error instanceof TraceDivergence, `expected TraceDivergence, got ${error}`);
    deepStrictEqual(
      {
        index: error.index,
        hart: error.hart,
        csr: error.csr,
        expected: error.expected,
        actual: error.actual,
      },
      fields,
    );
    ok(error.message.includes(`at event ${fields.index}`), error.message);
    ok(
      /re-record the trace with "rvhv record <manifest> -o .*"/.test(error.message),
      error.message,
    );
    return true;
  };
}

Deno.test("createReplayHal() answers reads, writes, set, clear and batches from the trace", async () => {
  await withTempDir(async (dir) => {
    const path = await writeTrace(dir, "basic.jsonl", [
      { hart: 0, op: "read", csr: "hgatp", ret: "0x0" },
      { hart: 0, op: "write", csr: "hedeleg", arg: "0xb10d", ret: "0x0" },
      { hart: 1, op: "set", csr: "sie", arg: "0x222", ret: "0x20" },
      { hart: 1, op: "clear", csr: "hvip", arg: "0x4", ret: "0x4" },
      { hart: 1, op: "read", csr: "hgatp", trap: 2 },
      { hart: 0, op: "write", csr: "sscratch", arg: "0xffffffffffffffff", ret: "0x1" },
      { hart: 0, op: "read", csr: "mhartid", trap: 2 },
      { hart: 0, op: "read", csr: "sscratch", ret: "0xffffffffffffffff" },
    ], {
      info: { backend: "emulator", isa: "rv64imafdch", profile: "spec", params: { geilen: 0 } },
    });
    const hal = await createReplayHal({ path, strict: true });
    deepStrictEqual(hal.harts, [0, 1]);
    deepStrictEqual(hal.info(), {
      backend: "replay",
      isa: "rv64imafdch",
      profile: "spec",
      params: { geilen: 0 },
      recorded: "emulator",
      trace: path,
    });
    strictEqual(typeof syncBatchOf(hal.csr), "function", "replay runs in memory");
    strictEqual(await hal.csr.read(0, CSR.hgatp), 0n);
    strictEqual(await hal.csr.write(0, CSR.hedeleg, 0xb10dn), 0n);
    strictEqual(await hal.csr.set(1, CSR.sie, 0x222n), 0x20n);
    strictEqual(await hal.csr.clear(1, CSR.hvip, 0x4n), 0x4n);
    const trap = await hal.csr.read(1, CSR.hgatp).catch((e) => e);
    ok(trap instanceof CsrTrap);
    deepStrictEqual([trap.hart, trap.csr, trap.trapCause], [1, CSR.hgatp, 2]);
    deepStrictEqual(
      await hal.csr.batch(0, [
        { op: "write", csr: CSR.sscratch, value: -1n },
        { op: "read", csr: CSR.mhartid },
        { op: "read", csr: CSR.sscratch },
      ]),
      [
        { ok: true, value: 1n },
        { ok: false, trapCause: 2 },
        { ok: true, value: (1n << 64n) - 1n },
      ],
    );
    strictEqual(hal.consumed, 8);
    await hal.close();
    await hal.close();
  });
});

Deno.test("createReplayHal(): the first request that differs rejects with TraceDivergence and consumes nothing", async (t) => {
  await withTempDir(async (dir) => {
    const path = await writeTrace(dir, "div.jsonl", [
      { hart: 0, op: "read", csr: "hgatp", ret: "0x0" },
      { hart: 1, op: "read", csr: "hgatp", ret: "0x0" },
      { hart: 0, op: "write", csr: "hedeleg", arg: "0xb10d", ret: "0x0" },
      { hart: 0, op: "write", csr: "hideleg", arg: "0x444", ret: "0x0" },
    ]);
    const hal = await createReplayHal({ path });
    await hal.csr.read(0, CSR.hgatp);
    await t.step("another operand", async () => {
      await rejects(
        hal.csr.write(0, CSR.hedeleg, 0xb109n),
        divergence({
          index: 2,
          hart: 0,
          csr: CSR.hedeleg,
          expected: "write hedeleg 0xb10d",
          actual: "write hedeleg 0xb109",
        }),
      );
      const error = await hal.csr.write(0, CSR.hedeleg, 0xb109n).catch((e) => e);
      strictEqual(
        error.message,
        `Cannot replay CSR "hedeleg" on hart 0: the run departs from ${path} at event 2: ` +
          `expected write hedeleg 0xb10d, got write hedeleg 0xb109; ` +
          `re-record the trace with "rvhv record <manifest> -o ${path}" if the change is intended`,
      );
    });
    await t.step("another operation or CSR", async () => {
      await rejects(
        hal.csr.set(0, CSR.hedeleg, 0xb10dn),
        divergence({
          index: 2,
          hart: 0,
          csr: CSR.hedeleg,
          expected: "write hedeleg 0xb10d",
          actual: "set hedeleg 0xb10d",
        }),
      );
      await rejects(
        hal.csr.read(0, CSR.hideleg),
        divergence({
          index: 2,
          hart: 0,
          csr: CSR.hideleg,
          expected: "write hedeleg 0xb10d",
          actual: "read hideleg",
        }),
      );
    });
    await t.step("a batch whose second operation differs consumes nothing", async () => {
      await rejects(
        hal.csr.batch(0, [
          { op: "write", csr: CSR.hedeleg, value: 0xb10dn },
          { op: "write", csr: CSR.hideleg, value: 0x404n },
        ]),
        divergence({
          index: 3,
          hart: 0,
          csr: CSR.hideleg,
          expected: "write hideleg 0x444",
          actual: "write hideleg 0x404",
        }),
      );
      deepStrictEqual(
        await hal.csr.batch(0, [
          { op: "write", csr: CSR.hedeleg, value: 0xb10dn },
          { op: "write", csr: CSR.hideleg, value: 0x444n },
        ]),
        [{ ok: true, value: 0n }, { ok: true, value: 0n }],
      );
    });
    await t.step("a request past the end of a hart's events", async () => {
      await rejects(
        hal.csr.read(0, CSR.hgatp),
        divergence({
          index: 4,
          hart: 0,
          csr: CSR.hgatp,
          expected: "end of trace for hart 0",
          actual: "read hgatp",
        }),
      );
    });
    await t.step("close() after a divergence reports nothing more", async () => {
      await hal.close();
    });
  });
});

Deno.test("createReplayHal() replays interleaved harts in any interleaving, per-hart order strict", async () => {
  await withTempDir(async (dir) => {
    const events = [];
    for (let k = 0; k < 6; k++) {
      for (const hart of [0, 1, 2]) {
        events.push({
          hart,
          op: "write" as const,
          csr: "sscratch",
          arg: `0x${k}`,
          ret: `0x${hart}${k}`,
        });
      }
    }
    const path = await writeTrace(dir, "interleaved.jsonl", events, { harts: [0, 1, 2] });
    // Hart 2 first, then 0, then 1: the reverse of how the trace interleaves them.
    const hal = await createReplayHal({ path, strict: true });
    for (const hart of [2, 0, 1]) {
      for (let k = 0; k < 6; k++) {
        strictEqual(await hal.csr.write(hart, CSR.sscratch, BigInt(k)), BigInt(`0x${hart}${k}`));
      }
    }
    await hal.close();
    // Per-hart order is strict: hart 1's second event cannot come first.
    const again = await createReplayHal({ path, strict: false });
    await rejects(
      again.csr.write(1, CSR.sscratch, 1n),
      divergence({
        index: 1,
        hart: 1,
        csr: CSR.sscratch,
        expected: "write sscratch 0x0",
        actual: "write sscratch 0x1",
      }),
    );
    await again.close();
  });
});

Deno.test("createReplayHal() holds at most lookahead events and rejects past the bound", async () => {
  await withTempDir(async (dir) => {
    const events = [
      ...Array.from({ length: 10 }, () => ({ hart: 0, csr: "sscratch" })),
      { hart: 1, csr: "hgatp" },
    ];
    const path = await writeTrace(dir, "skewed.jsonl", events);
    const tight = await createReplayHal({ path, lookahead: 5 });
    await rejects(tight.csr.read(1, CSR.hgatp), (e) => {
      ok(e instanceof AxError && e.kind === "InvalidData", String(e));
      ok(
        /Cannot replay hart 1 from .*skewed\.jsonl: its next event is not within the lookahead bound of 5 events held in memory \(read up to line 6\).*larger "lookahead"/
          .test(e.message),
        e.message,
      );
      return true;
    });
    await tight.close();
    // The 10 events of hart 0 it skips, and the one it asked for.
    const roomy = await createReplayHal({ path, lookahead: 11, strict: false });
    strictEqual(await roomy.csr.read(1, CSR.hgatp), 0n);
    await roomy.close();
  });
});

Deno.test("ReplayHal.close() in strict mode names the first unconsumed event and counts the rest", async () => {
  await withTempDir(async (dir) => {
    const path = await writeTrace(dir, "left.jsonl", [
      { hart: 0, csr: "hgatp" },
      { hart: 1, csr: "hgatp" },
      { hart: 0, op: "write", csr: "hedeleg", arg: "0xb10d" },
      { hart: 1, op: "write", csr: "hedeleg", arg: "0xb10d" },
      { hart: 1, op: "write", csr: "hideleg", arg: "0x444" },
    ]);
    const strict = await createReplayHal({ path });
    strictEqual(strict.strict, true, "strict is the default");
    await strict.csr.read(1, CSR.hgatp); // buffers hart 0's first event
    await rejects(
      strict.close(),
      divergence({
        index: 0,
        hart: 0,
        csr: CSR.hgatp,
        expected: "read hgatp",
        actual: "close() with 4 events left unconsumed",
      }),
    );
    await rejects(
      strict.csr.read(0, CSR.hgatp),
      (e) => e instanceof AxError && e.kind === "BadState",
    );
    const lenient = await createReplayHal({ path, strict: false });
    await lenient.csr.read(0, CSR.hgatp);
    await lenient.close();
  });
});

Deno.test("ReplayHal checks harts and arguments like every backend, before matching", async () => {
  await withTempDir(async (dir) => {
    const path = await writeTrace(dir, "args.jsonl", [{ hart: 0, csr: "hgatp" }]);
    const hal = await createReplayHal({ path, strict: false });
    await rejects(
      hal.csr.read(2, CSR.hgatp),
      (e) => e instanceof AxError && e.kind === "NotFound" && /has harts 0, 1/.test(e.message),
    );
    await rejects(hal.csr.batch(9, []), (e) => e instanceof AxError && e.kind === "NotFound");
    await rejects(
      hal.csr.write(0, CSR.hedeleg, 1 as unknown as bigint),
      (e) => e instanceof AxError && e.kind === "InvalidInput",
    );
    await rejects(
      hal.csr.read(0, 0x1000),
      (e) => e instanceof AxError && e.kind === "InvalidInput",
    );
    throws(
      () => syncBatchOf(hal.csr)!(0, [{ op: "swap", csr: 1 } as never]),
      (e) => e instanceof AxError && e.kind === "InvalidInput",
    );
    strictEqual(hal.consumed, 0);
    const frame = hal.allocFrame()!;
    strictEqual(hal.virtToPhys(hal.physToVirt(frame)), frame);
    hal.deallocFrame(frame);
    await hal.close();
  });
});

Deno.test("ReplayHal rejects with TraceFormatError when it reaches a malformed line", async () => {
  await withTempDir(async (dir) => {
    const path = await writeTrace(dir, "bad.jsonl", [{ hart: 0 }, { hart: 0 }]);
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.slice(0, -10));
    const hal = await createReplayHal({ path, strict: false });
    await hal.csr.read(0, CSR.sscratch);
    await rejects(
      hal.csr.read(0, CSR.sscratch),
      (e) => e instanceof TraceFormatError && e.line === 3 && /truncated/.test(e.message),
    );
    await hal.close();
  });
});

Deno.test("createReplayHal() rejects a missing trace and a bad lookahead", async () => {
  await rejects(
    createReplayHal({ path: "/nonexistent/run.jsonl" }),
    (e) => e instanceof AxError && e.kind === "NotFound",
  );
  await withTempDir(async (dir) => {
    const path = await writeTrace(dir, "t.jsonl", []);
    await rejects(
      createReplayHal({ path, lookahead: 0 }),
      (e) => e instanceof AxError && e.kind === "InvalidInput",
    );
  });
});

import { syncBatchOf } from "../hal/_sync_batch.ts";
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../hal/errors.ts";
import type { AxVCpuHal, CsrPort, CsrResult, HartId } from "../hal/types.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { SpyHal } from "../tests/_helpers/spy_hal.ts";
import { withTempDir } from "../tests/_helpers/traces.ts";
import { recordHal } from "./recorder.ts";
import { TraceReader } from "./reader.ts";
import { forwardingHal, forwardingPort } from "../tests/_helpers/forwarding_hal.ts";

function eventsOf(path: string): string[] {
  using reader = TraceReader.open(path);
  return [...reader].map((e) =>
    `${e.hart} ${e.op} ${e.csr.toString(16)}${
      e.arg === undefined ? "" : ` ${e.arg.toString(16)}`
    } ${e.trap === undefined ? `= ${e.ret!.toString(16)}` : `trap ${e.trap}`}`
  );
}

/** What a promise settles to: the value, or the error itself. */
function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then((value) => ({ value }), (error) => ({ error }));
}

Deno.test("recordHal() behaves exactly like the backend it wraps", async (t) => {
  await withTempDir(async (dir) => {
    const plain = await createEmulatorHal({ harts: 2, profile: "qemu-7.2" });
    const inner = await createEmulatorHal({ harts: 2, profile: "qemu-7.2" });
    const hal = await recordHal(inner, { path: `${dir}/same.jsonl` });

    await t.step("same harts, same info() object, in-process like the inner port", () => {
      deepStrictEqual(hal.harts, plain.harts);
      strictEqual(hal.info(), inner.info());
      strictEqual(typeof syncBatchOf(hal.csr), "function");
    });
    await t.step("same results and same errors for every kind of access", async () => {
      const calls: ((h: AxVCpuHal) => Promise<unknown>)[] = [
        (h) => h.csr.write(1, CSR.hedeleg, -1n),
        (h) => h.csr.read(1, CSR.hedeleg),
        (h) => h.csr.set(0, CSR.sie, 0x222n),
        (h) => h.csr.clear(0, CSR.sie, 0x2n),
        (h) => h.csr.read(0, 0x000),
        (h) => h.csr.write(0, CSR.mhartid, 1n),
        (h) => h.csr.read(5, CSR.hedeleg),
        (h) => h.csr.write(0, CSR.hedeleg, 5 as unknown as bigint),
        (h) =>
          h.csr.batch(0, [
            { op: "write", csr: CSR.sscratch, value: 7n },
            { op: "read", csr: 0x000 },
            { op: "read", csr: CSR.sscratch },
          ]),
        (h) => h.csr.batch(3, [{ op: "read", csr: CSR.sscratch }]),
      ];
      for (const call of calls) {
        const [want, got] = [await settle(call(plain)), await settle(call(hal))];
        if ("error" in want) {
          ok("error" in got, `expected ${want.error}`);
          strictEqual((got.error as Error).constructor, (want.error as Error).constructor);
          strictEqual((got.error as Error).message, (want.error as Error).message);
        } else {
          deepStrictEqual(got, want);
        }
      }
    });
    await t.step(
      "traps are recorded and rejected as CsrTrap, other errors are the backend's own objects",
      async () => {
        const io = new AxError("Io", "Cannot read CSR: the link is down");
        const answers: (() => Promise<CsrResult[]>)[] = [
          () => Promise.resolve([{ ok: false, trapCause: 2 }]),
          () => Promise.reject(io),
        ];
        const port = forwardingPort(inner.csr, { batch: () => answers.shift()!() });
        const other = await createEmulatorHal();
        const path = `${dir}/errors.jsonl`;
        const failing = await recordHal(forwardingHal(other, { csr: port }), { path });
        const trap = await failing.csr.read(0, CSR.hgatp).catch((e) => e);
        ok(trap instanceof CsrTrap);
        deepStrictEqual([trap.hart, trap.csr, trap.trapCause], [0, CSR.hgatp, 2]);
        strictEqual(await failing.csr.read(0, CSR.hgatp).catch((e) => e), io);
        await failing.close();
        deepStrictEqual(eventsOf(path), ["0 read 680 trap 2"]);
      },
    );
    await t.step("frames, translation and interrupts are forwarded", () => {
      const frame = hal.allocFrame()!;
      strictEqual(inner.allocFrame(), frame + 4096n, "the frame came from the inner allocator");
      strictEqual(hal.virtToPhys(hal.physToVirt(frame)), frame);
      strictEqual(hal.irqFetch(), 0);
      hal.deallocFrame(frame);
    });
    await t.step("close() closes the inner backend and finishes the trace", async () => {
      await hal.close();
      await hal.close();
      await rejects(
        inner.csr.read(0, CSR.sscratch),
        (e) => e instanceof AxError && e.kind === "BadState",
      );
      await rejects(
        hal.csr.read(0, CSR.sscratch),
        (e) => e instanceof AxError && e.kind === "BadState",
      );
      const events = eventsOf(`${dir}/same.jsonl`);
      deepStrictEqual(events, [
        "1 write 602 ffffffffffffffff = 0",
        "1 read 602 = b1ff",
        "0 set 104 222 = 0",
        "0 clear 104 2 = 222",
        "0 read 0 trap 2",
        "0 write f14 1 trap 2",
        // unknown hart and bad value: nothing reached a hart, nothing recorded
        "0 write 140 7 = 0",
        "0 read 0 trap 2",
        "0 read 140 = 7",
      ]);
    });
    await plain.close();
  });
});

/** An asynchronous backend whose accesses on hart 0 take longer than on hart 1. */
function delayed(inner: AxVCpuHal): AxVCpuHal {
  const wait = (hart: HartId) => new Promise((resolve) => setTimeout(resolve, hart === 0 ? 20 : 1));
  const port: CsrPort = {
    read: async (hart, csr) => (await wait(hart), inner.csr.read(hart, csr)),
    write: async (hart, csr, value) => (await wait(hart), inner.csr.write(hart, csr, value)),
    set: async (hart, csr, mask) => (await wait(hart), inner.csr.set(hart, csr, mask)),
    clear: async (hart, csr, mask) => (await wait(hart), inner.csr.clear(hart, csr, mask)),
    batch: async (hart, ops) => (await wait(hart), inner.csr.batch(hart, ops)),
  };
  return forwardingHal(inner, { csr: port });
}

Deno.test("recordHal() writes concurrent accesses as they complete, each hart in its order", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/order.jsonl`;
    const hal = await recordHal(delayed(await createEmulatorHal({ harts: 2 })), {
      path,
    });
    strictEqual(syncBatchOf(hal.csr), undefined, "an asynchronous backend stays asynchronous");
    const order: string[] = [];
    await Promise.all([
      hal.csr.write(0, CSR.sscratch, 1n).then(() => order.push("hart 0")),
      hal.csr.batch(1, [{ op: "write", csr: CSR.sscratch, value: 2n }, {
        op: "read",
        csr: CSR.sscratch,
      }]).then(() => order.push("hart 1")),
    ]);
    deepStrictEqual(order, ["hart 1", "hart 0"], "hart 1 completed first");
    await hal.close();
    deepStrictEqual(eventsOf(path), ["1 write 140 2 = 0", "1 read 140 = 2", "0 write 140 1 = 0"]);
  });
});

Deno.test("recordHal() records a PerCpuSet on an asynchronous backend, harts interleaved", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/spy.jsonl`;
    const spy = new SpyHal(await createEmulatorHal({ harts: 3 }));
    const hal = await recordHal(spy, { path });
    const set = await PerCpuSet.init(hal);
    await set.enableAll();
    await set.disableAll();
    await hal.close();
    strictEqual(spy.closed, 1);
    using reader = TraceReader.open(path);
    const events = [...reader];
    strictEqual(events.length, spy.ops.length, "one event per operation the backend served");
    for (const hart of [0, 1, 2]) {
      deepStrictEqual(
        events.filter((e) => e.hart === hart).map((e) => [e.op, e.csr, e.arg]),
        spy.ops.filter((o) => o.hart === hart).map((o) => [o.op, o.csr, o.value]),
        `hart ${hart} in the order the backend served it`,
      );
    }
    const firstWrite = events.findIndex((e) => e.hart === 0 && e.op !== "read");
    ok(
      events.findIndex((e) => e.hart === 1) < firstWrite,
      "hart 1 starts before hart 0's set-up writes: the harts interleave",
    );
  });
});

Deno.test("RecordingHal.close() finishes the trace even when the inner backend fails to close", async () => {
  await withTempDir(async (dir) => {
    const inner = await createEmulatorHal();
    const failing = forwardingHal(inner, {
      close: () => Promise.reject(new AxError("Io", "Cannot close the backend: it hung up")),
    });
    const hal = await recordHal(failing, { path: `${dir}/close.jsonl` });
    await hal.csr.read(0, CSR.hgatp);
    await rejects(hal.close(), /it hung up/);
    deepStrictEqual(eventsOf(`${dir}/close.jsonl`), ["0 read 680 = 0"]);
  });
});

Deno.test("recordHal() rejects when the trace cannot be created", async () => {
  const inner = await createEmulatorHal();
  await rejects(
    recordHal(inner, { path: "/nonexistent/dir/run.jsonl" }),
    (e) => e instanceof AxError && e.kind === "NotFound",
  );
  await inner.close();
});

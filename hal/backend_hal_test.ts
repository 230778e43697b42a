import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { BackendHal, type CheckedCsrOp, type HalBackend } from "./backend_hal.ts";
import { AxError, CsrTrap } from "./errors.ts";
import { syncBatchOf } from "./_sync_batch.ts";
import type { CsrOp, CsrResult, HartId } from "./types.ts";

/** A two-hart register file; CSR 0x123 traps, 0x7ff cannot be served at all. */
function registers(synchronous: boolean, extra: Partial<HalBackend> = {}) {
  const regs = new Map<string, bigint>();
  const executed: CheckedCsrOp[] = [];
  const run = (hart: HartId, ops: readonly CheckedCsrOp[]): CsrResult[] =>
    ops.map((op) => {
      executed.push(op);
      if (op.csr === 0x123) return { ok: false, trapCause: 2 };
      const key = `${hart}:${op.csr}`;
      const old = regs.get(key) ?? 0n;
      const next = op.op === "read"
        ? old
        : op.op === "write"
        ? op.value
        : op.op === "set"
        ? old | op.value
        : old & ~op.value;
      regs.set(key, next);
      return { ok: true, value: old };
    });
  const hal = new BackendHal({
    name: "test",
    harts: [0, 1],
    info: () => ({ backend: "test", isa: "rv64imafdch" }),
    synchronous,
    run: synchronous ? run : (hart, ops) => Promise.resolve(run(hart, ops)),
    checkCsr(csr) {
      if (csr === 0x7ff) throw new AxError("Unsupported", "not modelled");
    },
    ...extra,
  });
  return { hal, executed };
}

for (const synchronous of [true, false]) {
  const kind = synchronous ? "synchronous" : "asynchronous";

  Deno.test(`BackendHal (${kind}) maps csrrw/csrrs/csrrc and folds -1n into 64 bits`, async () => {
    const { hal } = registers(synchronous);
    strictEqual(await hal.csr.write(0, 0x140, -1n), 0n);
    strictEqual(await hal.csr.read(0, 0x140), (1n << 64n) - 1n);
    await hal.csr.clear(0, 0x140, (1n << 64n) - 1n - 0xffn);
    strictEqual(await hal.csr.set(0, 0x140, 0x100n), 0xffn);
    strictEqual(await hal.csr.read(0, 0x140), 0x1ffn);
    strictEqual(await hal.csr.read(1, 0x140), 0n, "harts are separate");
  });

  Deno.test(`BackendHal (${kind}) rejects traps as CsrTrap and bad input before running`, async () => {
    const { hal, executed } = registers(synchronous);
    await rejects(
      hal.csr.read(0, 0x123),
      (e) => e instanceof CsrTrap && e.trapCause === 2 && e.csr === 0x123 && e.hart === 0,
    );
    executed.length = 0;
    await rejects(
      hal.csr.read(2, 0x140),
      (e) =>
        e instanceof AxError && e.kind === "NotFound" &&
        /the test backend has harts 0, 1/.test(e.message),
    );
    await rejects(
      hal.csr.write(0, 0x140, 5 as unknown as bigint),
      (e) =>
        e instanceof AxError && e.kind === "InvalidInput" &&
        /CSR values are bigint/.test(e.message),
    );
    await rejects(
      hal.csr.read(0, 0x1000),
      (e) => e instanceof AxError && e.kind === "InvalidInput",
    );
    await rejects(hal.csr.write(0, 0x140, 1n << 64n), RangeError);
    await rejects(hal.csr.set(0, 0x140, -(1n << 63n) - 1n), RangeError);
    await rejects(hal.csr.read(0, 0x7ff), (e) => e instanceof AxError && e.kind === "Unsupported");
    const bad: CsrOp[] = [{ op: "write", csr: 0x140, value: 1n }, { op: "read", csr: 0x7ff }];
    await rejects(hal.csr.batch(0, bad), (e) => e instanceof AxError && e.kind === "Unsupported");
    await rejects(
      hal.csr.batch(0, [{ op: "swap", csr: 0x140 } as unknown as CsrOp]),
      /op must be read, write, set or clear/,
    );
    await rejects(hal.csr.batch(0, "x" as unknown as CsrOp[]), /ops is not an array/);
    deepStrictEqual(executed, [], "nothing malformed reached the backend");
  });

  Deno.test(`BackendHal (${kind}) batch reports traps in place and goes on`, async () => {
    const { hal } = registers(synchronous);
    const results = await hal.csr.batch(0, [
      { op: "write", csr: 0x140, value: 9n },
      { op: "read", csr: 0x123 },
      { op: "read", csr: 0x140 },
    ]);
    deepStrictEqual(results, [{ ok: true, value: 0n }, { ok: false, trapCause: 2 }, {
      ok: true,
      value: 9n,
    }]);
  });

  Deno.test(`BackendHal (${kind}) rejects every access after close, and close is idempotent`, async () => {
    let closes = 0;
    const { hal } = registers(synchronous, { close: () => void closes++ });
    await hal.close();
    await hal.close();
    strictEqual(closes, 1);
    await rejects(
      hal.csr.batch(0, []),
      (e) =>
        e instanceof AxError && e.kind === "BadState" && /test backend is closed/.test(e.message),
    );
  });

  Deno.test(`BackendHal (${kind}) offers the in-process fast path only when synchronous`, () => {
    const { hal } = registers(synchronous);
    strictEqual(syncBatchOf(hal.csr) !== undefined, synchronous);
  });
}

Deno.test("BackendHal runs an asynchronous backend's batches on one hart in order", async () => {
  const log: string[] = [];
  const hal = new BackendHal({
    name: "slow",
    harts: [0, 1],
    info: () => ({ backend: "slow", isa: "rv64imafdch" }),
    async run(hart, ops) {
      const value = (ops[0] as { value: bigint }).value;
      log.push(`start ${hart}:${value}`);
      // The first batch on hart 0 is the slowest: order must hold anyway.
      await new Promise((resolve) => setTimeout(resolve, value === 1n ? 20 : 0));
      log.push(`end ${hart}:${value}`);
      return ops.map(() => ({ ok: true, value: 0n }));
    },
  });
  await Promise.all([
    hal.csr.write(0, 0x140, 1n),
    hal.csr.write(0, 0x140, 2n),
    hal.csr.write(1, 0x140, 3n),
  ]);
  ok(log.indexOf("end 0:1") < log.indexOf("start 0:2"), log.join(", "));
  ok(log.indexOf("start 1:3") < log.indexOf("end 0:1"), "other harts overlap: " + log.join(", "));
});

Deno.test("BackendHal starts the next batch on a hart once the backend releases it", async () => {
  const log: string[] = [];
  let finish!: () => void;
  const hal = new BackendHal({
    name: "pipelined",
    harts: [0],
    info: () => ({ backend: "pipelined", isa: "rv64imafdch" }),
    async run(_hart, ops, release) {
      const value = (ops[0] as { value: bigint }).value;
      log.push(`sent ${value}`);
      release(); // its requests are on their way: the next batch may go too
      if (value === 1n) await new Promise<void>((resolve) => (finish = resolve));
      return ops.map(() => ({ ok: true, value: 0n }));
    },
  });
  const first = hal.csr.write(0, 0x140, 1n);
  const second = hal.csr.write(0, 0x140, 2n);
  await new Promise((resolve) => setTimeout(resolve, 0));
  deepStrictEqual(log, ["sent 1", "sent 2"]);
  finish();
  await Promise.all([first, second]);
});

Deno.test("BackendHal reports a lost backend as Io naming why", async () => {
  const { hal } = registers(false, {
    lost: () => new AxError("Io", "QEMU (pid 7) was killed by SIGKILL"),
  });
  await rejects(
    hal.csr.read(0, 0x140),
    (e) => e instanceof AxError && e.kind === "Io" && /killed by SIGKILL/.test(e.message),
  );
});

Deno.test("BackendHal serves frames from the backend's RAM with the linear map", () => {
  const { hal } = registers(true, { ram: { base: 0x9000_0000n, size: 0x2000n } });
  const a = hal.allocFrame()!;
  const b = hal.allocFrame()!;
  strictEqual(hal.allocFrame(), undefined, "two frames only");
  deepStrictEqual([a, b].sort(), [0x9000_0000n, 0x9000_1000n]);
  strictEqual(hal.virtToPhys(hal.physToVirt(b)), b);
  hal.deallocFrame(a);
  strictEqual(hal.allocFrame(), a);
  strictEqual(hal.irqFetch(), 0);
});

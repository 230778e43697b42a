import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { AxError, CsrTrap } from "./errors.ts";
import { SyncCsrPort } from "./sync_csr_port.ts";
import type { CsrOp } from "./types.ts";

function port() {
  const regs = new Map<number, bigint>();
  const executed: number[] = [];
  const sync = new SyncCsrPort({
    trapCause: 2,
    checkHart(hart) {
      if (hart !== 0) throw new AxError("NotFound", `no hart ${hart}`);
    },
    checkCsr(csr) {
      if (csr === 0x7ff) throw new AxError("Unsupported", "not modelled");
    },
    execute(_hart, csr, value, mask) {
      executed.push(csr);
      if (csr === 0x123) return undefined;
      const old = regs.get(csr) ?? 0n;
      if (mask !== 0n) regs.set(csr, (old & ~mask) | (value & mask));
      return old;
    },
  });
  return { sync, executed };
}

Deno.test("SyncCsrPort maps csrrw/csrrs/csrrc and folds -1n into 64 bits", async () => {
  const { sync } = port();
  strictEqual(await sync.write(0, 0x140, -1n), 0n);
  strictEqual(await sync.read(0, 0x140), (1n << 64n) - 1n);
  await sync.clear(0, 0x140, (1n << 64n) - 1n - 0xffn);
  strictEqual(await sync.set(0, 0x140, 0x100n), 0xffn);
  strictEqual(await sync.read(0, 0x140), 0x1ffn);
});

Deno.test("SyncCsrPort rejects traps as CsrTrap and bad input before executing", async () => {
  const { sync, executed } = port();
  await rejects(
    sync.read(0, 0x123),
    (e) => e instanceof CsrTrap && e.trapCause === 2 && e.csr === 0x123,
  );
  await rejects(sync.read(1, 0x140), (e) => e instanceof AxError && e.kind === "NotFound");
  await rejects(
    sync.write(0, 0x140, 5 as unknown as bigint),
    (e) => e instanceof AxError && e.kind === "InvalidInput",
  );
  await rejects(sync.read(0, 0x1000), (e) => e instanceof AxError && e.kind === "InvalidInput");
  executed.length = 0;
  const bad: CsrOp[] = [{ op: "write", csr: 0x140, value: 1n }, { op: "read", csr: 0x7ff }];
  await rejects(sync.batch(0, bad), (e) => e instanceof AxError && e.kind === "Unsupported");
  deepStrictEqual(executed, [], "a malformed batch executes nothing");
});

Deno.test("SyncCsrPort.batch() reports traps in place and goes on", async () => {
  const { sync } = port();
  const results = await sync.batch(0, [
    { op: "write", csr: 0x140, value: 9n },
    { op: "read", csr: 0x123 },
    { op: "read", csr: 0x140 },
  ]);
  deepStrictEqual(results, [{ ok: true, value: 0n }, { ok: false, trapCause: 2 }, {
    ok: true,
    value: 9n,
  }]);
});

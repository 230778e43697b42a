import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../hal/errors.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { SpyHal } from "../tests/_helpers/spy_hal.ts";
import { PerCpuSet } from "./percpu_set.ts";

const isKind = (kind: string) => (e: unknown) => e instanceof AxError && e.kind === kind;

Deno.test("PerCpuSet.init() on a mixed system writes nothing anywhere and rethrows the H-less hart's error", async () => {
  const hal = new SpyHal(
    await createEmulatorHal({
      harts: 4,
      isa: ["rv64imafdch", "rv64imafdch", "rv64imafdc", "rv64imafdch"],
    }),
  );
  const error = await PerCpuSet.init(hal).then(() => undefined, (e) => e);
  ok(error instanceof AxError, `expected AxError, got ${error}`);
  strictEqual(error.kind, "Unsupported");
  strictEqual(error.hart, 2);
  // Every hart was probed before any was written: nothing was written anywhere.
  deepStrictEqual(hal.writes(), []);
  deepStrictEqual(
    hal.ops.filter((o) => o.csr === CSR.hgatp).map((o) => o.hart),
    [0, 1, 2, 3],
  );
  for (const hart of [0, 1, 3]) {
    strictEqual(await hal.csr.read(hart, CSR.hedeleg), 0n, `hart ${hart} hedeleg`);
    strictEqual(await hal.csr.read(hart, CSR.hideleg), 0n, `hart ${hart} hideleg`);
    strictEqual(await hal.csr.read(hart, CSR.sie), 0n, `hart ${hart} sie`);
  }
  await hal.close();
});

Deno.test("PerCpuSet.init() rethrows the failing hart's own error, whatever its kind", async () => {
  const inner = await createEmulatorHal({ harts: 3 });
  const hal = new SpyHal(
    inner,
    (hart, op) => hart === 1 && op.csr === CSR.sie && op.op === "set" ? 2 : undefined,
  );
  const error = await PerCpuSet.init(hal, { concurrency: 1 }).then(() => undefined, (e) => e);
  ok(error instanceof CsrTrap, `expected CsrTrap, got ${error}`);
  strictEqual(error.hart, 1);
  strictEqual(error.csr, CSR.sie);
  // Hart 0 was set up before hart 1 failed and is restored; hart 2 was only
  // probed (phase 1 reads every hart), never written.
  strictEqual(await inner.csr.read(0, CSR.hedeleg), 0n);
  deepStrictEqual(hal.writes(2), []);
  ok(hal.ops.some((o) => o.hart === 2 && o.op === "read" && o.csr === CSR.hgatp));
  await hal.close();
});

Deno.test("PerCpuSet enables, reports and disables every hart", async () => {
  const hal = await createEmulatorHal({ harts: 4 });
  const set = await PerCpuSet.init(hal);
  deepStrictEqual(set.harts, [0, 1, 2, 3]);
  deepStrictEqual([...set.states().values()], Array(4).fill("initialized"));
  await set.enableAll();
  deepStrictEqual([...set.states().values()], Array(4).fill("enabled"));
  strictEqual(set.get(3).isEnabled(), true);
  await set.get(1).hardwareDisable();
  await set.enableAll();
  strictEqual(set.get(1).state, "enabled");
  await set.disableAll();
  deepStrictEqual([...set.states().values()], Array(4).fill("disabled"));
  for (const hart of hal.harts) strictEqual(await hal.csr.read(hart, CSR.hedeleg), 0n);
  await hal.close();
});

Deno.test("PerCpuSet.init() sets up only the harts asked for", async () => {
  const hal = await createEmulatorHal({ harts: 4 });
  const set = await PerCpuSet.init(hal, { harts: [3, 1], policy: "kvm-6.12" });
  deepStrictEqual(set.harts, [3, 1]);
  strictEqual(await hal.csr.read(1, CSR.hedeleg), 0xb109n);
  strictEqual(await hal.csr.read(0, CSR.hedeleg), 0n);
  throws(() => set.get(0), isKind("NotFound"));
  await hal.close();
});

Deno.test("PerCpuSet.init() refuses unknown and repeated harts before touching any", async () => {
  const hal = new SpyHal(await createEmulatorHal({ harts: 2 }));
  await rejects(PerCpuSet.init(hal, { harts: [0, 7] }), isKind("NotFound"));
  await rejects(PerCpuSet.init(hal, { harts: [1, 1] }), isKind("InvalidInput"));
  deepStrictEqual(hal.ops, []);
  await hal.close();
});

Deno.test("PerCpuSet.enableAll() disables what it enabled when a hart fails", async () => {
  const inner = await createEmulatorHal({ harts: 2 });
  let failEnable = false;
  const hal = new SpyHal(
    inner,
    (hart, op) => failEnable && hart === 1 && op.op === "write" ? 2 : undefined,
  );
  const set = await PerCpuSet.init(hal);
  await set.enableAll();
  await set.disableAll();
  failEnable = true;
  const error = await set.enableAll().then(() => undefined, (e) => e);
  ok(error instanceof AxError);
  strictEqual(error.hart, 1);
  strictEqual(set.get(0).state, "disabled");
  strictEqual(await inner.csr.read(0, CSR.hedeleg), 0n);
  await hal.close();
});

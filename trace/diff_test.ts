import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import type { PolicySpec } from "../percpu/policy.ts";
import { createEmulatorHal, type EmulatorOptions } from "../plugins/emulator/mod.ts";
import { withTempDir, writeTrace } from "../tests/_helpers/traces.ts";
import { diffStates, diffTraces } from "./diff.ts";
import { recordHal } from "./recorder.ts";
import { describeEvent } from "./format.ts";

async function recordSetUp(
  path: string,
  options: EmulatorOptions,
  policy: PolicySpec = "arceos",
): Promise<void> {
  const hal = await recordHal(await createEmulatorHal(options), { path });
  const set = await PerCpuSet.init(hal, { policy });
  await set.enableAll();
  await set.disableAll();
  await hal.close();
}

Deno.test("diffTraces() finds two recordings of the same run equal", async () => {
  await withTempDir(async (dir) => {
    await recordSetUp(`${dir}/a.jsonl`, { harts: 2 });
    await recordSetUp(`${dir}/b.jsonl`, { harts: 2 });
    const diff = await diffTraces(`${dir}/a.jsonl`, `${dir}/b.jsonl`);
    strictEqual(diff.equal, true);
    strictEqual(diff.first, undefined);
    deepStrictEqual(diff.header, []);
    strictEqual(diff.a.events, 54);
    ok(diff.csrs.every((c) => c.changed === 0 && c.onlyA === 0 && c.onlyB === 0 && c.same === c.a));
  });
});

Deno.test("diffTraces(): arceos against kvm-6.12 parts at hart 0's hedeleg write", async () => {
  await withTempDir(async (dir) => {
    await recordSetUp(`${dir}/arceos.jsonl`, { harts: 2 }, "arceos");
    await recordSetUp(`${dir}/kvm.jsonl`, { harts: 2 }, "kvm-6.12");
    const diff = await diffTraces(`${dir}/arceos.jsonl`, `${dir}/kvm.jsonl`);
    strictEqual(diff.equal, false);
    strictEqual(diff.first!.hart, 0);
    strictEqual(describeEvent(diff.first!.a!), "write hedeleg 0xb10d → 0x0");
    strictEqual(describeEvent(diff.first!.b!), "write hedeleg 0xb109 → 0x0");
    // Phase 1 reads both harts (7 events each) before hart 0's first write.
    strictEqual(diff.first!.a!.i, 14);
    const byName = new Map(diff.csrs.map((c) => [c.csr, c]));
    // Per hart, hedeleg is read (same), written, read back, and restored (whose old value differs).
    deepStrictEqual(
      { ...byName.get("hedeleg")! },
      { csr: "hedeleg", num: CSR.hedeleg, a: 8, b: 8, same: 2, changed: 6, onlyA: 0, onlyB: 0 },
    );
    strictEqual(byName.get("hideleg")!.changed, 0);
    strictEqual(byName.get("hcounteren")!.changed, 6);
    // kvm-6.12 runs no sie operations: arceos's three sets per hart have no partner.
    const sie = byName.get("sie")!;
    strictEqual(sie.a - sie.b, 6);
    strictEqual(sie.onlyA, 6);
  });
});

Deno.test("diffTraces(): a different interleaving of the harts is not a difference", async () => {
  await withTempDir(async (dir) => {
    const events = [0, 1, 0, 1].map((hart, k) => ({ hart, op: "write" as const, arg: `0x${k}` }));
    const a = await writeTrace(dir, "a.jsonl", events);
    const b = await writeTrace(dir, "b.jsonl", [events[0]!, events[2]!, events[1]!, events[3]!]);
    strictEqual((await diffTraces(a, b)).equal, true);
  });
});

Deno.test("diffTraces(): an extra event, a missing hart and another header are differences", async () => {
  await withTempDir(async (dir) => {
    const a = await writeTrace(dir, "a.jsonl", [{ hart: 0 }, { hart: 1 }, { hart: 0, ret: "0x5" }]);
    const b = await writeTrace(dir, "b.jsonl", [{ hart: 0 }, { hart: 0, trap: 2 }], {
      harts: [0],
      profile: "qemu-7.2",
    });
    const diff = await diffTraces(a, b);
    strictEqual(diff.equal, false);
    deepStrictEqual(diff.header, ["profile", "harts"]);
    strictEqual(diff.first!.hart, 1, "hart 1 (event 1) comes before hart 0's change (event 2)");
    strictEqual(diff.first!.b, undefined);
    deepStrictEqual(
      diff.csrs.map((c) => [c.csr, c.a, c.b, c.same, c.changed, c.onlyA, c.onlyB]),
      [["sscratch", 3, 2, 1, 1, 1, 0]],
    );
  });
});

Deno.test("diffTraces() rejects when more events than the lookahead bound are unmatched", async () => {
  await withTempDir(async (dir) => {
    const a = await writeTrace(dir, "a.jsonl", Array.from({ length: 20 }, () => ({ hart: 0 })));
    const b = await writeTrace(dir, "b.jsonl", Array.from({ length: 20 }, () => ({ hart: 1 })));
    await rejects(
      diffTraces(a, b, { lookahead: 4 }),
      (e) =>
        e instanceof AxError && e.kind === "InvalidData" && /more than 4 events/.test(e.message),
    );
  });
});

Deno.test("diffStates() compares live CSRs: spec against qemu-7.2 after the same set-up", async () => {
  const spec = await createEmulatorHal({ harts: 2, profile: "spec" });
  const qemu = await createEmulatorHal({ harts: 3, profile: "qemu-7.2" });
  await PerCpuSet.init(spec);
  await PerCpuSet.init(qemu);
  const diff = await diffStates(spec, { hal: qemu });
  strictEqual(diff.equal, false);
  deepStrictEqual(diff.onlyA, []);
  deepStrictEqual(diff.onlyB, [2]);
  const hcounteren = diff.harts[0]!.csrs.find((c) => c.csr === "hcounteren")!;
  // The spec hart keeps 32 bits of the all-ones write; QEMU 7.2 keeps 64.
  deepStrictEqual([hcounteren.a, hcounteren.b, hcounteren.equal], [
    { ok: true, value: 0xffff_ffffn },
    { ok: true, value: (1n << 64n) - 1n },
    false,
  ]);
  strictEqual(diff.harts[0]!.csrs.find((c) => c.csr === "hedeleg")!.equal, true);
  const same = await diffStates(spec, qemu, { csrs: ["hedeleg", CSR.hideleg], harts: [1] });
  strictEqual(same.equal, true);
  deepStrictEqual(same.harts.map((h) => h.hart), [1]);
  await spec.close();
  await qemu.close();
});

Deno.test("diffStates(): a trap is a value too, both systems must trap alike", async () => {
  const withH = await createEmulatorHal({ harts: 1 });
  const withoutH = await createEmulatorHal({ harts: 1, isa: "rv64imafdc" });
  const diff = await diffStates(withH, withoutH, { csrs: ["hgatp", "sscratch"] });
  deepStrictEqual(
    diff.harts[0]!.csrs.map((c) => [c.csr, c.a, c.b, c.equal]),
    [
      ["hgatp", { ok: true, value: 0n }, { ok: false, trapCause: 2 }, false],
      ["sscratch", { ok: true, value: 0n }, { ok: true, value: 0n }, true],
    ],
  );
  await rejects(diffStates(withH, withoutH, { csrs: ["nosuchcsr"] }), (e) => e instanceof AxError);
  await withH.close();
  await withoutH.close();
});

/**
 * The one set-up route's rollback: whatever fails after the first write
 * leaves no hart set up, for `RISCVPerCpu.create` and `PerCpuSet.init` alike,
 * and the rejection is the original error with any failed restore attached.
 */

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal, CsrOp, CsrResult, HartId } from "../hal/types.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { forwardingHal, forwardingPort } from "../tests/_helpers/forwarding_hal.ts";
import { PerCpuSet } from "./percpu_set.ts";
import { RISCVPerCpu } from "./riscv_percpu.ts";

const PRIOR_HEDELEG = 0x100n;

/** Whether a batch is a set-up's (it writes hedeleg with the policy's value). */
function isSetUp(ops: readonly CsrOp[]): boolean {
  return ops.some((op) =>
    op.op === "write" && op.csr === CSR.hedeleg && op.value !== PRIOR_HEDELEG
  );
}

/** Whether a batch is a restore (it writes hedeleg back to the prior value). */
function isRestore(ops: readonly CsrOp[]): boolean {
  return ops.some((op) =>
    op.op === "write" && op.csr === CSR.hedeleg && op.value === PRIOR_HEDELEG
  );
}

/**
 * A backend (not in-process: a plain `CsrPort`, as a third-party plugin's)
 * whose set-up batch on `failHart` reaches the hart and then fails, as an
 * I/O error or a time-out after the request left does; restores on
 * `restoreFails` fail too.
 */
async function applyingThenFailing(
  harts: number,
  failHart: HartId,
  options: { restoreFails?: readonly HartId[] } = {},
): Promise<{ hal: AxVCpuHal; inner: AxVCpuHal; error: AxError }> {
  const inner = await createEmulatorHal({ harts });
  for (const hart of inner.harts) await inner.csr.write(hart, CSR.hedeleg, PRIOR_HEDELEG);
  const error = new AxError("Timeout", "Cannot hear from the hart: no answer within 2000 ms");
  const batch = async (hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> => {
    if (isRestore(ops) && options.restoreFails?.includes(hart)) {
      throw new AxError("Io", `Cannot restore hart ${hart}: the link is down`);
    }
    const results = await inner.csr.batch(hart, ops);
    if (hart === failHart && isSetUp(ops)) throw error; // the writes happened
    return results;
  };
  const hal = forwardingHal(inner, { csr: forwardingPort(inner.csr, { batch }) });
  return { hal, inner, error };
}

async function hedelegs(hal: AxVCpuHal): Promise<bigint[]> {
  return await Promise.all(hal.harts.map((hart) => hal.csr.read(hart, CSR.hedeleg)));
}

Deno.test("RISCVPerCpu.create() restores the hart when its set-up batch fails after its writes", async () => {
  const { hal, inner, error } = await applyingThenFailing(1, 0);
  const rejection = await RISCVPerCpu.create(0, hal).catch((e: unknown) => e);
  strictEqual(rejection, error, "the original error");
  strictEqual((rejection as AxError).rollbackErrors, undefined, "the restore worked");
  deepStrictEqual(await hedelegs(inner), [PRIOR_HEDELEG], "no hart stays set up");
  strictEqual(await inner.csr.read(0, CSR.hideleg), 0n);
  await inner.close();
});

for (const concurrency of [1, 4]) {
  Deno.test(`PerCpuSet.init() leaves no hart set up when one hart's batch fails after its writes (concurrency ${concurrency})`, async () => {
    const { hal, inner, error } = await applyingThenFailing(4, 2);
    const rejection = await PerCpuSet.init(hal, { concurrency }).catch((e: unknown) => e);
    strictEqual(rejection, error, "the original error");
    strictEqual(error.hart, 2, "naming the hart");
    strictEqual(error.rollbackErrors, undefined);
    deepStrictEqual(await hedelegs(inner), Array(4).fill(PRIOR_HEDELEG), "no hart stays set up");
    for (const hart of inner.harts) strictEqual(await inner.csr.read(hart, CSR.hideleg), 0n);
    await inner.close();
  });
}

Deno.test("PerCpuSet.init() attaches a failed restore to the original error in rollbackErrors", async () => {
  const { hal, inner, error } = await applyingThenFailing(3, 1, { restoreFails: [0] });
  const rejection = await PerCpuSet.init(hal, { concurrency: 1 }).catch((e: unknown) => e);
  strictEqual(rejection, error);
  strictEqual(error.rollbackErrors?.length, 1);
  ok(error.rollbackErrors![0] instanceof AxError);
  strictEqual(
    (error.rollbackErrors![0] as AxError).message,
    "Cannot restore hart 0: the link is down",
  );
  deepStrictEqual(
    await hedelegs(inner),
    [0xb10dn, PRIOR_HEDELEG, PRIOR_HEDELEG],
    "hart 1 (the failing one) is restored; hart 0's restore is the one that failed",
  );
  await inner.close();
});

Deno.test("a re-enable whose set-up batch fails after its writes leaves the hart disabled and restored", async () => {
  const inner = await createEmulatorHal();
  let fail = false;
  const batch = async (hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> => {
    const results = await inner.csr.batch(hart, ops);
    if (fail && isSetUp(ops)) throw new AxError("Io", "Cannot hear from the hart");
    return results;
  };
  const hal = forwardingHal(inner, { csr: forwardingPort(inner.csr, { batch }) });
  const percpu = await RISCVPerCpu.create(0, hal);
  await percpu.hardwareEnable();
  await percpu.hardwareDisable();
  fail = true;
  await rejects(percpu.hardwareEnable(), /Cannot hear from the hart/);
  strictEqual(percpu.state, "disabled");
  strictEqual(await inner.csr.read(0, CSR.hedeleg), 0n);
  await inner.close();
});

Deno.test("a stick failure restores every hart and says so in its message", async () => {
  const inner = await createEmulatorHal({ harts: 2 });
  // Hart 1 refuses hedeleg bit 2 (a hart that cannot delegate illegal instruction).
  const batch = async (hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> => {
    const results = await inner.csr.batch(hart, ops);
    if (hart !== 1) return results;
    return results.map((result, i) =>
      ops[i]!.op === "read" && ops[i]!.csr === CSR.hedeleg && result.ok && i > 0
        ? { ok: true, value: result.value & ~0x4n }
        : result
    );
  };
  const hal = forwardingHal(inner, { csr: forwardingPort(inner.csr, { batch }) });
  const rejection = await PerCpuSet.init(hal).catch((e: unknown) => e) as AxError;
  strictEqual(rejection.kind, "Unsupported");
  strictEqual(rejection.hart, 1);
  ok(rejection.message.includes("did not keep bit 2 (ILLEGAL_INSTRUCTION)"), rejection.message);
  ok(rejection.message.endsWith("; the prior values were restored"), rejection.message);
  deepStrictEqual(await hedelegs(inner), [0n, 0n]);
  await inner.close();
});

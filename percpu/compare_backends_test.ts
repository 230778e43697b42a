import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { createEmulatorHal } from "../plugins/emulator/emulator_hal.ts";
import { recordHal } from "../trace/recorder.ts";
import { ALL_ONES } from "../hal/csr_fields.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { CSR } from "../hal/csr_numbers.ts";
import { PerCpuSet } from "./percpu_set.ts";
import { compareBackends, COMPARED_CSRS } from "./compare_backends.ts";

type Profile = "qemu-7.2" | "qemu-10.0" | "spec";

async function setUp(profile: Profile, harts = 2) {
  const hal = await createEmulatorHal({ harts, profile, firmware: "opensbi" });
  await PerCpuSet.init(hal);
  return hal;
}

/** Runs `body` on two set-up emulators, `a` and `b`, and closes them. */
async function withPair(
  a: Profile | [Profile, number],
  b: Profile | [Profile, number],
  body: (a: AxVCpuHal, b: AxVCpuHal) => Promise<void>,
): Promise<void> {
  const [first, second] = await Promise.all(
    [a, b].map((spec) => typeof spec === "string" ? setUp(spec) : setUp(...spec)),
  );
  try {
    await body(first!, second!);
  } finally {
    await first!.close();
    await second!.close();
  }
}

Deno.test("compareBackends(): the same profile twice agrees on every row", () =>
  withPair("qemu-7.2", "qemu-7.2", async (a, b) => {
    const report = await compareBackends([{ label: "a", hal: a }, { label: "b", hal: b }]);
    strictEqual(report.equal, true);
    strictEqual(report.rows.length, 2 * COMPARED_CSRS.length);
    deepStrictEqual(report.differences, []);
    // Both lack the PMP CSRs: that agrees too.
    deepStrictEqual(report.environment, []);
    // Without a routing backend, each value names the backend that read it.
    strictEqual(report.rows[0]!.values.every((value) => value.via === "emulator"), true);
  }));

Deno.test("compareBackends(): a set-up difference counts, a narrower width is named", () =>
  withPair("qemu-7.2", "spec", async (qemu, spec) => {
    const report = await compareBackends([
      { label: "qemu-7.2", hal: qemu },
      { label: "spec", hal: spec },
    ]);
    strictEqual(report.equal, false);
    const hcounteren = report.differences.filter((row) => row.csr === "hcounteren");
    deepStrictEqual(hcounteren.map((row) => row.hart), [0, 1]);
    const [wide, narrow] = hcounteren[0]!.values;
    strictEqual(wide!.ok && wide!.value, ALL_ONES);
    strictEqual(narrow!.ok && narrow!.value, 0xffff_ffffn);
  }));

Deno.test("compareBackends(): harts default to those every column has; a mask limits the bits", () =>
  withPair(["qemu-7.2", 2], ["qemu-7.2", 1], async (two, one) => {
    await two.csr.write(0, CSR.hcounteren, 0x1n);
    const columns = [{ label: "two", hal: two }, { label: "one", hal: one }];
    const masked = await compareBackends(columns, {
      csrs: [{ name: "hcounteren", kind: "setup", mask: 0x1n }],
    });
    deepStrictEqual(masked.rows.map((row) => row.hart), [0]);
    strictEqual(masked.equal, true);
    const whole = await compareBackends(columns, { csrs: [{ name: "hcounteren", kind: "setup" }] });
    strictEqual(whole.equal, false);
  }));

Deno.test("compareBackends(): an environment difference is reported, not counted", () =>
  withPair("qemu-7.2", "qemu-7.2", async (a, b) => {
    await b.csr.write(1, CSR.mscratch, 0x1234n);
    const report = await compareBackends([{ label: "a", hal: a }, { label: "b", hal: b }]);
    strictEqual(report.equal, true);
    deepStrictEqual(report.environment.map((row) => [row.hart, row.csr]), [[1, "mscratch"]]);
  }));

Deno.test("compareBackends(): a recorded backend is compared through its wrapper", () =>
  withPair("qemu-10.0", "qemu-10.0", async (inner, other) => {
    const dir = await Deno.makeTempDir();
    const recorded = await recordHal(inner, { path: `${dir}/run.jsonl` });
    try {
      const report = await compareBackends([
        { label: "recorded", hal: recorded },
        { label: "plain", hal: other },
      ]);
      strictEqual(report.equal, true);
      strictEqual(report.rows[0]!.values[0]!.via, "emulator");
    } finally {
      await recorded.close();
      await Deno.remove(dir, { recursive: true });
    }
  }));

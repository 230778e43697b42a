import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { CsrTrap } from "../hal/errors.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { SpyHal } from "../tests/_helpers/spy_hal.ts";
import { detectHExtension, detectReport, hasHardwareSupport } from "./h_extension.ts";

Deno.test("detectHExtension() reads hgatp and maps cause 2 to false", async () => {
  const hal = new SpyHal(await createEmulatorHal({ harts: 2, isa: ["rv64imafdch", "rv64imafdc"] }));
  strictEqual(await detectHExtension(hal, 0), true);
  strictEqual(await detectHExtension(hal, 1), false);
  deepStrictEqual(hal.ops, [
    { hart: 0, op: "read", csr: CSR.hgatp },
    { hart: 1, op: "read", csr: CSR.hgatp },
  ]);
  await hal.close();
});

Deno.test("detectHExtension() rethrows traps other than illegal instruction", async () => {
  const hal = new SpyHal(await createEmulatorHal(), () => 22);
  await rejects(detectHExtension(hal, 0), (e) => e instanceof CsrTrap && e.trapCause === 22);
  await hal.close();
});

Deno.test("hasHardwareSupport() probes once per backend and hart", async () => {
  const hal = new SpyHal(await createEmulatorHal({ harts: 2 }));
  strictEqual(await hasHardwareSupport(hal, 0), true);
  strictEqual(await hasHardwareSupport(hal, 0), true);
  strictEqual(await hasHardwareSupport(hal, 1), true);
  strictEqual(hal.ops.length, 2);
  const other = new SpyHal(await createEmulatorHal({ harts: 1 }));
  await hasHardwareSupport(other, 0);
  strictEqual(other.ops.length, 1, "another backend instance probes on its own");
  await hal.close();
  await other.close();
});

Deno.test("detectReport() cross-checks misa", async () => {
  const hal = await createEmulatorHal({ harts: 2, isa: ["rv64imafdch", "rv64imac"] });
  deepStrictEqual(await detectReport(hal, 0), { hart: 0, present: true, misaH: true, agree: true });
  deepStrictEqual(await detectReport(hal, 1), {
    hart: 1,
    present: false,
    probeTrap: 2,
    misaH: false,
    agree: true,
  });
  await hal.close();
});

Deno.test("detectReport() flags a probe that disagrees with misa", async () => {
  // A hart whose hgatp traps although misa says H: e.g. firmware hid the CSR.
  const hal = new SpyHal(
    await createEmulatorHal(),
    (_h, op) => op.csr === CSR.hgatp ? 2 : undefined,
  );
  deepStrictEqual(await detectReport(hal, 0), {
    hart: 0,
    present: false,
    probeTrap: 2,
    misaH: true,
    agree: false,
  });
  await hal.close();
});

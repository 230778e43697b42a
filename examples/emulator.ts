#!/usr/bin/env -S deno run
/**
 * The per-CPU set-up on a mixed emulated machine, from code: one hart has
 * no H extension, so the whole set-up is rolled back; then the same code on
 * the harts that have H.
 *
 * Run: deno run examples/emulator.ts
 */

import { AxError, CSR, hex, PerCpuSet } from "../mod.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";

const hal = await createEmulatorHal({
  harts: 4,
  isa: ["rv64imafdch", "rv64imafdch", "rv64imafdc", "rv64imafdch"],
  profile: "qemu-7.2",
});

try {
  await PerCpuSet.init(hal);
} catch (error) {
  if (!(error instanceof AxError)) throw error;
  console.log(`all harts: ${error.kind} on hart ${error.hart}: ${error.message}`);
  console.log(`hart 0 hedeleg after the rollback: ${hex(await hal.csr.read(0, CSR.hedeleg))}`);
}

const harts = await PerCpuSet.init(hal, { harts: [0, 1, 3] });
await harts.enableAll();
for (const percpu of harts) {
  const line = percpu.csrReport().map(({ name, kept }) => `${name}=${hex(kept)}`).join(" ");
  console.log(`hart ${percpu.cpuId} ${percpu.state}: ${line}`);
}
await harts.disableAll();
console.log(`hart 3 hedeleg after disable: ${hex(await hal.csr.read(3, CSR.hedeleg))}`);
await hal.close();

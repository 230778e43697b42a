#!/usr/bin/env -S deno run --allow-read --allow-write --allow-net --allow-run=qemu-system-riscv64
/**
 * The per-CPU set-up on the harts of a real QEMU (7.2 from Debian:
 * `apt-get install --no-install-recommends qemu-system-misc`), then the same
 * read-backs on the emulator's `qemu-7.2` profile, side by side.
 *
 * Run: deno run --allow-read --allow-write --allow-net --allow-run=qemu-system-riscv64 examples/qemu.ts
 */

import { CSR, hex, PerCpuSet } from "../mod.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { createQemuHal } from "../plugins/qemu/mod.ts";

const qemu = await createQemuHal({ harts: 2, firmware: "opensbi" });
const emulator = await createEmulatorHal({ harts: 2, profile: "qemu-7.2", firmware: "opensbi" });
try {
  console.log(`QEMU ${qemu.info().version} (pid ${qemu.info().pid}) beside the qemu-7.2 profile`);
  for (const hal of [qemu, emulator]) await (await PerCpuSet.init(hal)).enableAll();
  for (const name of ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "mideleg"] as const) {
    const onQemu = await qemu.csr.read(1, CSR[name]);
    const onEmulator = await emulator.csr.read(1, CSR[name]);
    console.log(`${name.padEnd(10)} qemu ${hex(onQemu).padEnd(20)} emulator ${hex(onEmulator)}`);
  }
} finally {
  await qemu.close(); // ends the QEMU process
  await emulator.close();
}

#!/usr/bin/env -S deno run --allow-read --allow-write --allow-net --allow-run=qemu-system-riscv64 --allow-env=LOG_TOKENS,LOG_STREAM
/**
 * One piece of per-CPU code, many backends: the same `setUpAndReport` runs
 * on the spec emulator, the QEMU 7.2 emulator profile, real QEMU (when it is
 * installed) and a replay of a recording, chosen by manifest text alone.
 *
 * Run: deno run --allow-read --allow-write --allow-net --allow-run=qemu-system-riscv64 \
 *        --allow-env=LOG_TOKENS,LOG_STREAM examples/swap_backends.ts
 */

import { boot, hex, parseManifest, type System } from "../mod.ts";

/** The code under test: it only knows the system, never the backend. */
function report(system: System): string {
  const hart = system.percpus.get(0);
  return hart.csrReport().map(({ name, kept }) => `${name}=${hex(kept)}`).join(" ");
}

const backends: Record<string, string> = {
  "emulator (spec)": "{ plugin: emulator, options: { harts: 2, profile: spec } }",
  "emulator (qemu-7.2)": "{ plugin: emulator, options: { harts: 2, profile: qemu-7.2 } }",
  "real QEMU": "{ plugin: qemu, options: { harts: 2, firmware: opensbi } }",
};

const dir = await Deno.makeTempDir({ prefix: "rvhv-swap-" });
try {
  for (const [label, backend] of Object.entries(backends)) {
    const record = label === "emulator (qemu-7.2)" ? `record: ${dir}/run.jsonl\n` : "";
    let system: System;
    try {
      system = await boot(parseManifest(`version: 1\nbackend: ${backend}\n${record}`));
    } catch (error) {
      console.log(`${label.padEnd(20)} unavailable: ${(error as Error).message}`);
      continue;
    }
    console.log(`${label.padEnd(20)} ${report(system)}`);
    await system.close();
  }
  const replay = await boot(parseManifest(
    `version: 1\nbackend: { plugin: replay, options: { path: ${dir}/run.jsonl } }\n`,
  ));
  console.log(`${"replay of qemu-7.2".padEnd(20)} ${report(replay)}`);
  await replay.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}

/**
 * rvhv: the per-CPU hypervisor set-up of a RISC-V host (ArceOS
 * `riscv_vcpu`'s `RISCVPerCpu`), run against swappable hardware backends.
 *
 * This module is the core: contracts and CSR facts (`hal`), the per-CPU
 * layer (`RISCVPerCpu`, `PerCpuSet`, policies), H detection, manifests,
 * traces (record and diff) and trap routing (`routeTrap`: where each trap
 * goes, M, HS or VS). Backends are separate entry points
 * (`@rvhv/percpu/emulator`, …) so the core never loads one you do not use.
 *
 * What it exports: the per-CPU API above, and these few more that users
 * need, each for its reason:
 * - `BackendHal`, `HalBackend`: the plugin API (a backend supplies its
 *   primitive accesses; the runtime does the contract).
 * - `trackChildProcess`, `stopAllChildProcesses`: a
 *   backend registers the processes it starts; a program that handles
 *   SIGINT/SIGTERM itself (as the CLI does) ends them all, even one still
 *   starting that no HAL owns yet.
 * - `invalidOption`: how a plugin's `parseOptions` names the bad option.
 * - `TraceRecording`: the type of the `recording` capability.
 * - `isReadOnlyCsr`, `ALL_ONES`, `VS_INTERRUPTS`, `exceptionMask`,
 *   `interruptMask`, `hex`, `parseHex`: what a backend or a script needs to
 *   build and print CSR values without magic numbers.
 * - `ARCEOS_POLICY`, `KVM_POLICY`, `resolvePolicy` and the policy types: to
 *   name and inspect a set-up.
 * - `CsrReportEntry`, `PriorValues`, `DetectReport`: what the per-CPU and
 *   detection calls return.
 * - `routeTrap`, `readDelegation` and their types: where a trap goes.
 * - `TraceReader`, `readTraceHeader`, `TraceEvent`, `TraceHeader`,
 *   `TraceDiff`, `StateDiff`, `RecordingHal`: to read traces and diffs.
 * - `IsaSpec`: the parsed ISA string that resolved backend options carry.
 * - `VERSION`: the package version.
 * Everything else lives in modules that are not part of the API.
 *
 * Permissions: the core needs none; `loadManifest` needs `--allow-read`, and
 * parsing YAML needs `--allow-env=LOG_TOKENS,LOG_STREAM`. `boot` needs what
 * its plugin needs (backends state theirs), plus `--allow-read` and
 * `--allow-write` for the trace's folder with `record:`, and the permission
 * to read or fetch a plugin given by module specifier.
 *
 * @example Usage
 * ```ts
 * import { CSR, PerCpuSet } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 4, profile: "qemu-7.2" });
 * const harts = await PerCpuSet.init(hal);
 * await harts.enableAll();
 * for (const hart of hal.harts) {
 *   strictEqual(await hal.csr.read(hart, CSR.hedeleg), 0xb10dn);
 * }
 * await harts.disableAll();
 * await hal.close();
 * ```
 *
 * @module
 */

export * from "./hal/mod.ts";
export * from "./percpu/mod.ts";
export * from "./detect/mod.ts";
export * from "./manifest/mod.ts";
export * from "./routing/mod.ts";
export * from "./trace/mod.ts";
export { VERSION } from "./version.ts";

/**
 * The QEMU backend: the harts of a real `qemu-system-riscv64 -machine virt`,
 * held at reset (`-S`, nothing runs), with QMP for the life cycle and
 * discovery and the gdbstub for every CSR access.
 *
 * ```
 * QemuHal (BackendHal: checks, ordering, closed state, frames)
 *  ├─ QemuSession      process held at -S, QMP (discovery, run state), gdb connection
 *  └─ CsrAccess        debugger: pipelined p/P over the one gdb CSR codec
 *                      native: the harts run csrrw/csrrs/csrrc under real OpenSBI
 * ```
 *
 * The same `RISCVPerCpu` code that runs on the emulator runs here; the
 * emulator's `qemu-7.2` and `qemu-10.0` profiles are checked against this
 * backend on QEMU 7.2 and 10.0 bit for bit (`tests/differential/qemu_test.ts`).
 *
 * With `access: "native"` QEMU boots its real OpenSBI and a small guest
 * agent instead (`-bios default -kernel`), and every CSR below machine level
 * is accessed by the hart itself, as a real `csrrw`/`csrrs`/`csrrc` in
 * HS-mode with real traps; machine-level CSRs still go through the
 * debugger while the VM is stopped. `QemuHal.batchVia` says which path
 * produced each value.
 *
 * Permissions: `--allow-run=qemu-system-riscv64` (or the binary given),
 * `--allow-read`, `--allow-write` and `--allow-net` for the unix sockets in
 * the temporary directory (Deno 2.9 checks all three for a unix-socket
 * connect), and optionally `--allow-env=RVHV_QEMU,RVHV_DEBUG`
 * (`RVHV_DEBUG=qmp,rsp` logs every exchange to stderr). Install QEMU with
 * `apt-get install --no-install-recommends qemu-system-misc` (QEMU 7.2 on
 * Debian 12); QEMU 10.0 installs beside it with the repository's
 * `scripts/install-qemu10.sh`.
 *
 * What this entry point exports, and why:
 * - {@linkcode createQemuHal}, {@linkcode QemuHal}, `QemuOptions` and the
 *   default export (the plugin `backend.plugin: qemu` loads): the design's
 *   names.
 * - `QemuAttachOptions`, `ResolvedQemuOptions`, `RoutedCsrResult`,
 *   `NativeStats`: the types in those names' signatures
 *   (`QemuOptions.attach`, the plugin's options, `QemuHal.batchVia`,
 *   `QemuHal.stats`).
 *
 * The QMP and gdb clients, the gdb CSR codec, the process and the access
 * strategies are internals (`_`-prefixed files).
 *
 * @example Usage
 * ```ts ignore
 * import { createQemuHal } from "@rvhv/percpu/qemu";
 * import { CSR, hex, PerCpuSet } from "@rvhv/percpu";
 *
 * const hal = await createQemuHal({ harts: 4, firmware: "opensbi" });
 * const harts = await PerCpuSet.init(hal);
 * console.log(hex(await hal.csr.read(3, CSR.hedeleg))); // 0xb10d
 * await harts.disableAll();
 * await hal.close(); // quits QEMU, removes its sockets
 * ```
 *
 * @module
 */

import type { HalPlugin } from "../../hal/types.ts";
import { QemuHal } from "./qemu_hal.ts";
import {
  parseQemuOptions,
  QEMU_OPTIONS_SHAPE,
  type ResolvedQemuOptions,
  withQemuArgs,
} from "./options.ts";
import { shapeJsonSchema } from "../../hal/_shape.ts";

export { createQemuHal, QemuHal } from "./qemu_hal.ts";
export type { QemuAttachOptions, QemuOptions, ResolvedQemuOptions } from "./options.ts";
export type { RoutedCsrResult } from "./_csr_access.ts";
export type { NativeStats } from "./native/_native_access.ts";

/**
 * The QEMU backend as a plugin: what `backend.plugin: qemu` loads (the
 * default export; its `parseOptions` validates `QemuOptions`).
 *
 * @example Usage
 * ```ts
 * import qemuPlugin from "@rvhv/percpu/qemu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const options = qemuPlugin.parseOptions({ harts: 2, firmware: "opensbi" });
 * strictEqual(options.harts, 2);
 * strictEqual(qemuPlugin.name, "qemu");
 * ```
 */
const qemuPlugin: HalPlugin<ResolvedQemuOptions> = Object.freeze({
  name: "qemu",
  describe: "the harts of a real qemu-system-riscv64 (virt, held at -S), over QMP and the gdbstub",
  permissions: Object.freeze([
    "--allow-run=qemu-system-riscv64",
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env=RVHV_QEMU,RVHV_DEBUG",
  ]) as readonly string[],
  parseOptions: parseQemuOptions,
  optionsSchema: shapeJsonSchema(QEMU_OPTIONS_SHAPE),
  withProcessArgs: withQemuArgs,
  create(options: ResolvedQemuOptions): Promise<QemuHal> {
    return QemuHal.start(options);
  },
});

export default qemuPlugin;

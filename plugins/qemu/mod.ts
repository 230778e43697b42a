/**
 * The QEMU backend: the harts of a real `qemu-system-riscv64 -machine virt`,
 * held at reset (`-S`, nothing runs), with QMP for the life cycle and
 * discovery and the gdbstub for every CSR access.
 *
 * ```
 * createQemuHal ─┬─ QemuProcess   spawns QEMU, sockets in a private temp dir
 *                ├─ QmpClient     greeting, ids, events, query-cpus-fast, qom-get h, stop, quit
 *                └─ GdbClient     target.xml → register map, Hg, pipelined p/P
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
 * produced each value ({@linkcode csrAccessPath} tells in advance).
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
 * @example Usage
 * ```ts ignore
 * import { createQemuHal } from "@rvhv/percpu/qemu";
 * import { CSR, PerCpuSet } from "@rvhv/percpu";
 *
 * const hal = await createQemuHal({ harts: 4, firmware: "opensbi" });
 * const harts = await PerCpuSet.init(hal);
 * console.log(await hal.csr.read(3, CSR.hedeleg)); // 0xb10dn
 * await harts.disableAll();
 * await hal.close(); // quits QEMU, removes its sockets
 * ```
 *
 * @module
 */

import type { HalPlugin } from "../../hal/types.ts";
import { QemuHal } from "./qemu_hal.ts";
import { parseQemuOptions, type ResolvedQemuOptions } from "./options.ts";

export { createQemuHal, QemuHal } from "./qemu_hal.ts";
export {
  cpuArgument,
  DEFAULT_QEMU_BINARY,
  DEFAULT_QEMU_BOOT_TIMEOUT_MS,
  DEFAULT_QEMU_ISA,
  DEFAULT_QEMU_TIMEOUT_MS,
  MAX_QEMU_HARTS,
  parseQemuOptions,
  type QemuAttachOptions,
  type QemuOptions,
  type ResolvedQemuOptions,
} from "./options.ts";
export {
  QMP_ID_PREFIX,
  type QmpCallOptions,
  QmpClient,
  type QmpClientOptions,
  type QmpRunstate,
} from "./_qmp_client.ts";
export {
  type QmpEvent,
  type QmpEventListener,
  type QmpGreeting,
  QmpProtocolError,
  type QmpVersion,
} from "./_qmp_messages.ts";
export { GdbClient, type GdbClientOptions, type GdbExchangeOptions } from "./_gdb_client.ts";
export { decodeLe64, encodeLe64 } from "./_gdb_codec.ts";
export { decodeGdbPayload, encodeGdbPacket } from "./_gdb_packets.ts";
export { type GdbRegister, parseTargetRegisters } from "./_gdb_target.ts";
export {
  qemuArguments,
  QemuProcess,
  type QemuSpawnOptions,
  stopAllQemuProcesses,
  VIRT_MTIMECMP_BASE,
} from "./qemu_process.ts";
export { csrAccessPath } from "./native/codegen.ts";
export { type NativeStats } from "./native/native_access.ts";
export type { CsrAccessPath, RoutedCsrResult } from "./_csr_access.ts";
export {
  type ByteTransport,
  type ConnectUnixOptions,
  connectUnixSocket,
  writeAll,
} from "./_transport.ts";

/**
 * The QEMU backend as a plugin: what `backend.plugin: qemu` loads.
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
export const qemuPlugin: HalPlugin<ResolvedQemuOptions> = Object.freeze({
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
  create(options: ResolvedQemuOptions): Promise<QemuHal> {
    return QemuHal.start(options);
  },
});

export default qemuPlugin;

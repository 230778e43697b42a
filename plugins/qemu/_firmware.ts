/**
 * Firmware presets on a QEMU held at reset (debugger access): which preset
 * a session gets, the mtimecmp QEMU is started with, and writing the preset
 * into every hart (mideleg before sie, which it gates; the CLINT's mtimecmp
 * through loader devices or, attached, gdb memory writes).
 *
 * Needs what the QEMU backend needs (`--allow-net` etc. for its sockets).
 *
 * @module
 */

import { AxError } from "../../hal/errors.ts";
import { type FirmwarePreset, resolveFirmware } from "../../hal/firmware.ts";
import { hex } from "../../hal/hex.ts";
import type { HartId } from "../../hal/types.ts";
import type { QemuSession } from "./_session.ts";
import type { ResolvedQemuOptions } from "./options.ts";
import { VIRT_MTIMECMP_BASE } from "./qemu_process.ts";
import { joinReads, readPackets, writePackets } from "./_guest_memory.ts";

/** What a preset needs of a QEMU session. */
export type FirmwareSession = Pick<QemuSession, "gdb" | "harts" | "hasH" | "process" | "version">;

/** The OpenSBI preset that ships with a QEMU version (7.x/8.x → 1.1, ≥ 9 → 1.6). */
function opensbiOf(version: string): "opensbi-1.1" | "opensbi-1.6" {
  return Number(version.split(".")[0]) >= 9 ? "opensbi-1.6" : "opensbi-1.1";
}

/**
 * Chooses the firmware preset for these options and this QEMU: the option,
 * else `opensbi` for a QEMU started here and `none` for an attached one.
 *
 * @example Usage
 * ```ts
 * import { firmwareFor } from "./_firmware.ts";
 * import { parseQemuOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(firmwareFor(parseQemuOptions({}), "10.0.13").name, "opensbi-1.6");
 * ```
 *
 * @param options The backend's options.
 * @param version The QEMU version.
 * @returns The preset.
 */
export function firmwareFor(options: ResolvedQemuOptions, version: string): FirmwarePreset {
  const name = options.firmware ?? (options.attach !== undefined ? "none" : "opensbi");
  return resolveFirmware(name, opensbiOf(version));
}

/**
 * The mtimecmp the loader devices write at start-up: the preset's. Both
 * OpenSBI presets program all ones, so the value is known before the QEMU
 * version (which picks between them) is.
 *
 * @example Usage
 * ```ts
 * import { spawnMtimecmp } from "./_firmware.ts";
 * import { parseQemuOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(spawnMtimecmp(parseQemuOptions({ firmware: "none" })), undefined);
 * ```
 *
 * @param options The backend's options.
 * @returns The value, or `undefined` for QEMU's reset value (0).
 */
export function spawnMtimecmp(options: ResolvedQemuOptions): bigint | undefined {
  return resolveFirmware(options.firmware ?? "opensbi", "opensbi-1.1").mtimecmp;
}

/** Where a hart's mtimecmp sits in the CLINT of `virt`. */
function mtimecmpAddress(hart: HartId): number {
  return Number(VIRT_MTIMECMP_BASE) + 8 * hart;
}

/** Reads every hart's mtimecmp from the CLINT (gdb memory reads do reach MMIO). */
async function readMtimecmp(session: FirmwareSession): Promise<bigint[]> {
  const replies = await session.gdb.exchangeOnHart(
    session.harts[0]!,
    session.harts.flatMap((hart) => readPackets(mtimecmpAddress(hart), 8)),
  );
  return replies.map((reply) => new DataView(joinReads([reply], 8).buffer).getBigUint64(0, true));
}

/**
 * Writes a firmware preset into every hart (mideleg first: it gates sie)
 * and checks the mtimecmp the loader devices wrote.
 *
 * @example Usage
 * ```ts ignore
 * import { applyFirmware, firmwareFor } from "./_firmware.ts";
 *
 * const mtimecmp = await applyFirmware(session, firmwareFor(options, session.version), options);
 * console.log(mtimecmp); // 0xffffffffffffffff: every hart's timer is quiet
 * ```
 *
 * @param session The QEMU session (VM stopped).
 * @param firmware The preset.
 * @param options The backend's options.
 * @returns What became of mtimecmp (for `info()`), or `undefined` when the preset sets none.
 * @throws {AxError} Kind `"InvalidData"` when QEMU was started with another mtimecmp.
 */
export async function applyFirmware(
  session: FirmwareSession,
  firmware: FirmwarePreset,
  options: ResolvedQemuOptions,
): Promise<string | undefined> {
  const { gdb } = session;
  let mtimecmp: string | undefined;
  if (session.process !== undefined) {
    const expected = spawnMtimecmp(options) ?? 0n;
    if ((firmware.mtimecmp ?? 0n) !== expected) {
      throw new AxError(
        "InvalidData",
        `Cannot apply firmware "${firmware.name}": its mtimecmp ${
          hex(firmware.mtimecmp ?? 0n)
        } differs from the ${hex(expected)} QEMU was started with`,
      );
    }
    if (firmware.mtimecmp !== undefined) {
      // A QEMU whose timer resets after the loader ran would keep 0: report
      // it (info().mtimecmp) rather than refuse to work.
      const found = await readMtimecmp(session);
      const wrong = found.findIndex((value) => value !== expected);
      mtimecmp = wrong < 0
        ? hex(expected)
        : `not applied (hart ${session.harts[wrong]} reads ${hex(found[wrong]!)})`;
    }
  } else if (firmware.mtimecmp !== undefined) {
    // An attached QEMU has no loader devices: write the CLINT over gdb. QEMU
    // 10.0's gdbstub reaches MMIO; 7.2's drops the write silently, so read back.
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigUint64(0, firmware.mtimecmp, true);
    await gdb.exchangeOnHart(
      session.harts[0]!,
      session.harts.flatMap((hart) => writePackets(mtimecmpAddress(hart), value)),
    );
    const found = await readMtimecmp(session);
    const wrong = found.findIndex((read) => read !== firmware.mtimecmp);
    mtimecmp = wrong < 0
      ? hex(firmware.mtimecmp)
      : `not applied (QEMU ${session.version} drops gdb writes to the CLINT; hart ${
        session.harts[wrong]
      } reads ${hex(found[wrong]!)})`;
  }
  await Promise.all(session.harts.map(async (hart, i) => {
    const writes = firmware.writes(session.hasH[i]!);
    if (writes.length === 0) return;
    const replies = await gdb.exchangeOnHart(
      hart,
      writes.map(({ csr, value }) => gdb.codec.write(csr, value)),
    );
    replies.forEach((reply, k) => gdb.codec.checkWrite(hart, writes[k]!.csr, reply));
  }));
  return mtimecmp;
}

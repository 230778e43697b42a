/**
 * Which emulator profile models a given QEMU: what `profile: auto` means
 * when an emulator is compared with a QEMU backend.
 *
 * @module
 */

import type { HalInfo } from "../../hal/types.ts";
import { AUTO_PROFILE, PROFILE_NAMES } from "./options.ts";

/**
 * The emulator profile to compare with a QEMU backend. For a manifest whose
 * `profile` is `auto`: the profile that models the connected QEMU (its
 * `info().profile` hint, else the nearest version: 7.x/8.x → `qemu-7.2`,
 * ≥ 9 → `qemu-10.0`, with a warning). For a manifest that names a QEMU
 * profile of another version: no replacement, and `mismatch` says which
 * profile would model that QEMU.
 *
 * @example Usage
 * ```ts
 * import { profileForQemu } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const qemu = { backend: "qemu", isa: "rv64imafdch", version: "10.0.13", profile: "qemu-10.0" };
 * deepStrictEqual(profileForQemu("auto", qemu), { profile: "qemu-10.0" });
 * deepStrictEqual(profileForQemu("spec", qemu), {}); // compared as named
 * deepStrictEqual(profileForQemu("qemu-7.2", qemu), { mismatch: "qemu-10.0" });
 * ```
 *
 * @param named The emulator manifest's `profile` option as written (`undefined` when absent).
 * @param qemu The QEMU backend's `info()`.
 * @returns `profile`: the profile to boot the emulator with (absent: keep the
 *   manifest's); `warning`: why `auto` took only the nearest; `mismatch`: the
 *   profile that models this QEMU when the manifest names another QEMU's.
 */
export function profileForQemu(
  named: unknown,
  qemu: HalInfo,
): { profile?: string; warning?: string; mismatch?: string } {
  const hint = qemu.profile;
  let match: string;
  let nearest: string | undefined;
  if (typeof hint === "string" && (PROFILE_NAMES as readonly string[]).includes(hint)) {
    match = hint;
  } else {
    const major = Number(String(qemu.version ?? "").split(".")[0]);
    match = major >= 9 ? "qemu-10.0" : "qemu-7.2";
    nearest = `no emulator profile models QEMU ${qemu.version ?? "of an unknown version"}; ` +
      `"auto" uses the nearest, ${match}`;
  }
  if (named === AUTO_PROFILE) {
    return { profile: match, ...(nearest === undefined ? {} : { warning: nearest }) };
  }
  if (typeof named === "string" && named.startsWith("qemu-") && named !== match) {
    return { mismatch: match };
  }
  return {};
}

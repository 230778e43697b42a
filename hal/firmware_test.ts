import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { CSR } from "./csr_numbers.ts";
import { FIRMWARE_PRESETS, resolveFirmware } from "./firmware.ts";

Deno.test("OpenSBI presets delegate what OpenSBI 1.1 and 1.6 delegate", () => {
  const medeleg = (name: "opensbi-1.1" | "opensbi-1.6", hasH: boolean) =>
    FIRMWARE_PRESETS.get(name)!.writes(hasH).find((w) => w.csr === CSR.medeleg)!.value;
  deepStrictEqual(
    [
      medeleg("opensbi-1.1", true),
      medeleg("opensbi-1.1", false),
      medeleg("opensbi-1.6", true),
      medeleg("opensbi-1.6", false),
    ],
    [0xf0b509n, 0xb109n, 0xf4b509n, 0x4b109n],
  );
  // mideleg is written first: a sie write before it would be lost.
  strictEqual(FIRMWARE_PRESETS.get("opensbi-1.1")!.writes(true)[0]!.csr, CSR.mideleg);
  strictEqual(FIRMWARE_PRESETS.get("opensbi-1.6")!.mtimecmp, (1n << 64n) - 1n);
  deepStrictEqual(FIRMWARE_PRESETS.get("none")!.writes(true), []);
});

Deno.test("resolveFirmware() maps opensbi to the matching version", () => {
  strictEqual(resolveFirmware("opensbi", "opensbi-1.6").name, "opensbi-1.6");
  strictEqual(resolveFirmware("none", "opensbi-1.1").name, "none");
});

import { deepStrictEqual } from "node:assert/strict";
import { profileForQemu } from "./qemu_match.ts";

Deno.test("profileForQemu() takes the QEMU backend's hint, else the nearest version with a warning", () => {
  deepStrictEqual(
    profileForQemu("auto", { backend: "qemu", isa: "", version: "7.2.22", profile: "qemu-7.2" }),
    { profile: "qemu-7.2" },
  );
  deepStrictEqual(
    profileForQemu("auto", { backend: "qemu", isa: "", version: "10.0.13", profile: "qemu-10.0" }),
    { profile: "qemu-10.0" },
  );
  deepStrictEqual(profileForQemu("auto", { backend: "qemu", isa: "", version: "8.2.2" }), {
    profile: "qemu-7.2",
    warning: 'no emulator profile models QEMU 8.2.2; "auto" uses the nearest, qemu-7.2',
  });
  deepStrictEqual(profileForQemu("auto", { backend: "qemu", isa: "", version: "9.2.0" }), {
    profile: "qemu-10.0",
    warning: 'no emulator profile models QEMU 9.2.0; "auto" uses the nearest, qemu-10.0',
  });
});

Deno.test("profileForQemu() keeps a named profile and flags another QEMU version's", () => {
  const qemu72 = { backend: "qemu", isa: "", version: "7.2.22", profile: "qemu-7.2" };
  deepStrictEqual(profileForQemu("spec", qemu72), {});
  deepStrictEqual(profileForQemu(undefined, qemu72), {});
  deepStrictEqual(profileForQemu("qemu-7.2", qemu72), {});
  deepStrictEqual(profileForQemu("qemu-10.0", qemu72), { mismatch: "qemu-7.2" });
});

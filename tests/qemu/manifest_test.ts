/** `plugin: qemu` in manifests: option errors located, and a boot on real QEMU. */

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { ManifestError } from "../../hal/errors.ts";
import { boot } from "../../manifest/boot.ts";
import { parseManifest } from "../../manifest/parse.ts";
import { loadPlugin } from "../../manifest/registry.ts";
import { QEMU_BINARY, QEMU_TEST_TIMEOUTS, qemuTest } from "../_helpers/qemu.ts";

Deno.test("the qemu plugin is built in and loads lazily", async () => {
  const plugin = await loadPlugin("qemu");
  strictEqual(plugin.name, "qemu");
  ok(plugin.permissions.includes("--allow-net"));
});

Deno.test("a bad qemu option is a ManifestError at its line, and nothing starts", async () => {
  const manifest = parseManifest(
    "version: 1\nbackend:\n  plugin: qemu\n  options:\n    harts: 4\n    cpuProps: [sscofpmf]\n",
    { file: "qemu.yaml" },
  );
  await rejects(boot(manifest), (e) => {
    ok(e instanceof ManifestError, String(e));
    deepStrictEqual([e.line, e.path], [6, ["backend", "options", "cpuProps", "0"]]);
    return /expected a "name=value" -cpu property/.test(e.message);
  });
});

qemuTest(
  "boot() on plugin: qemu sets up the chosen harts with the kvm policy and binds a vCPU",
  async () => {
    const system = await boot(parseManifest(
      `version: 1
backend:
  plugin: qemu
  options:
    { harts: 3, qemu: ${
        JSON.stringify(QEMU_BINARY)
      }, firmware: opensbi, timeoutMs: ${QEMU_TEST_TIMEOUTS.timeoutMs} }
percpu:
  harts: [0, 2]
  policy: kvm
vcpus:
  - { hart: 2, vm: 1 }
`,
      { file: "kvm.yaml" },
    ));
    try {
      deepStrictEqual([...system.percpus].map((p) => [p.cpuId, p.state]), [[0, "enabled"], [
        2,
        "enabled",
      ]]);
      // KVM delegates per vCPU: the bound vCPU's hart only.
      strictEqual(await system.hal.csr.read(2, CSR.hedeleg), 0xb10dn);
      strictEqual(await system.hal.csr.read(0, CSR.hedeleg), 0n);
      strictEqual(await system.hal.csr.read(2, CSR.hcounteren), 0x2n);
      deepStrictEqual(system.vcpus.map((v) => [v.hart, v.vmId, v.state]), [[2, 1, "bound"]]);
      strictEqual(await system.hal.csr.read(1, CSR.hedeleg), 0n, "hart 1 was not asked for");
    } finally {
      await system.close();
    }
    strictEqual(await system.hal.csr.read(0, CSR.hedeleg).catch((e) => e.kind), "BadState");
  },
);

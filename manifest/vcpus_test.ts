import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { manifestErrorAt } from "../tests/_helpers/manifest_error.ts";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError } from "../hal/errors.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { boot } from "./boot.ts";
import { parseManifest } from "./parse.ts";
import { counts } from "../tests/fixtures/plugins/counting_plugin.ts";

const COUNTING_PLUGIN =
  new URL("../tests/fixtures/plugins/counting_plugin.ts", import.meta.url).pathname;

function manifest(lines: readonly string[]) {
  return parseManifest(lines.join("\n") + "\n", { file: "vcpus.yaml" });
}

const KVM_FOUR_HARTS = [
  "version: 1",
  "backend: { plugin: emulator, options: { harts: 4, profile: qemu-10.0 } }",
  "percpu:",
  "  policy: kvm",
];

async function delegation(hal: AxVCpuHal, hart: number): Promise<string> {
  const [e, i] = [await hal.csr.read(hart, CSR.hedeleg), await hal.csr.read(hart, CSR.hideleg)];
  return `0x${e.toString(16)}/0x${i.toString(16)}`;
}

Deno.test("vcpus: are bound after the set-up, each on its hart; close() unbinds, then disables", async () => {
  const system = await boot(manifest([
    ...KVM_FOUR_HARTS,
    "vcpus:",
    "  - { hart: 1, vm: 3 }",
    "  - { hart: 2, vm: 3 }",
  ]));
  const hal = system.hal;
  deepStrictEqual(system.vcpus.map((v) => [v.hart, v.vmId, v.state]), [
    [1, 3, "bound"],
    [2, 3, "bound"],
  ]);
  deepStrictEqual(
    await Promise.all(hal.harts.map((hart) => delegation(hal, hart))),
    ["0x0/0x0", "0xb10d/0x444", "0xb10d/0x444", "0x0/0x0"],
  );
  strictEqual(system.percpus.get(1).vcpu, system.vcpus[0]);
  const vcpus = system.vcpus;
  await system.close();
  deepStrictEqual(vcpus.map((v) => v.state), ["free", "free"]);
  deepStrictEqual([...system.percpus.states().values()], Array(4).fill("disabled"));
});

Deno.test("vcpus: a hart the set-up did not take is a manifest error at its line; the backend is closed", async () => {
  const before = { ...counts() };
  const text = [
    "version: 1",
    `backend: { plugin: ${JSON.stringify(COUNTING_PLUGIN)}, options: { harts: 4 } }`,
    "percpu: { harts: [0, 1] }",
    "vcpus:",
    "  - { hart: 1, vm: 1 }",
    "  - { hart: 3, vm: 1 }",
  ];
  await rejects(
    boot(manifest(text), { allowPlugins: true }),
    manifestErrorAt(
      6,
      ["vcpus", 1, "hart"],
      /hart 3 is not set up, so no vCPU can be bound there; the set-up has harts 0, 1/,
    ),
  );
  strictEqual(counts().created - before.created, 1);
  strictEqual(counts().closed - before.closed, 1, "the failed boot closed its backend");
});

Deno.test("vcpus: on harts left initialized (enable: false) is a manifest error naming why", async () => {
  await rejects(
    boot(manifest([
      "version: 1",
      "backend: { plugin: emulator }",
      "percpu: { enable: false }",
      "vcpus: [{ hart: 0, vm: 2 }]",
    ])),
    manifestErrorAt(
      4,
      ["vcpus", 0, "hart"],
      /hart 0 is initialized, and a vCPU is created only on an enabled hart/,
    ),
  );
});

Deno.test("vcpus: the parser refuses a second vCPU on a hart, a missing key and a bad id", () => {
  throws(
    () =>
      manifest([...KVM_FOUR_HARTS, "vcpus:", "  - { hart: 1, vm: 1 }", "  - { hart: 1, vm: 2 }"]),
    manifestErrorAt(
      7,
      ["vcpus", 1, "hart"],
      /hart 1 has a vCPU already; one vCPU is bound per hart/,
    ),
  );
  throws(
    () => manifest([...KVM_FOUR_HARTS, "vcpus:", "  - { hart: 1 }"]),
    manifestErrorAt(6, ["vcpus", 0], /missing key "vm"/),
  );
  throws(
    () => manifest([...KVM_FOUR_HARTS, "vcpus:", "  - { hart: 1, vm: -1 }"]),
    manifestErrorAt(6, ["vcpus", 0, "vm"], /expected an integer ≥ 0, got number -1/),
  );
  throws(
    () => manifest([...KVM_FOUR_HARTS, "vcpus:", "  - { hart: 1, vm: 1, vmid: 2 }"]),
    manifestErrorAt(6, ["vcpus", 0, "vmid"], /unknown key "vmid"/),
  );
});

Deno.test("vcpus: a bind the hart refuses fails the boot, and every hart is restored", async () => {
  const text = [
    "version: 1",
    "backend: { plugin: emulator, options: { harts: 2, profile: qemu-7.2 } }",
    "percpu:",
    // An ecall from VS cannot be delegated: hedeleg bit 10 is read-only zero.
    "  policy: { hedeleg: [3, 10], hideleg: [], hcounteren: 0, sie: [], delegation: per-vcpu }",
    "vcpus: [{ hart: 1, vm: 1 }]",
  ];
  await rejects(boot(manifest(text)), (error) => {
    ok(error instanceof AxError);
    strictEqual(error.kind, "Unsupported");
    ok(/Cannot bind vCPU 0 of VM 1 on hart 1: hedeleg did not keep/.test(error.message));
    strictEqual(error.rollbackErrors, undefined, "the restore worked");
    return true;
  });
});

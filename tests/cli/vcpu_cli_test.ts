/**
 * The vCPUs a manifest binds, as `up` and `verify` show them.
 */

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { rvhvInProcess } from "../_helpers/cli.ts";
import { withTempDir } from "../_helpers/traces.ts";

const KVM_WITH_VCPUS = `version: 1
backend: { plugin: emulator, options: { harts: 4, profile: qemu-10.0 } }
percpu: { policy: kvm }
vcpus:
  - { hart: 2, vm: 1 }
  - { hart: 3, vm: 7 }
`;

async function withManifest(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/vcpus.yaml`, text);
    await fn(`${dir}/vcpus.yaml`);
  });
}

Deno.test("rvhv up shows each hart's vCPU and the delegation its bind loaded", async () => {
  await withManifest(KVM_WITH_VCPUS, async (path) => {
    const { code, stdout, stderr } = await rvhvInProcess(["up", path]);
    strictEqual(code, 0, stderr);
    const rows = stdout.split("\n").filter((line) => /^\d/.test(line));
    deepStrictEqual(rows.map((row) => row.split(/\s+/).slice(0, 5)), [
      ["0", "enabled", "yes", "0x0", "0x0"],
      ["1", "enabled", "yes", "0x0", "0x0"],
      ["2", "enabled", "yes", "0xb10d", "0x444"],
      ["3", "enabled", "yes", "0xb10d", "0x444"],
    ]);
    match(stdout, /\nvcpus: harts 0–1 none; hart 2 vm 1 bound; hart 3 vm 7 bound\n$/);
    match(stderr, /closed \(vCPUs unbound, enabled harts disabled, prior values restored\)/);
  });
});

Deno.test("rvhv up --json gives each hart its vcpu object, null where there is none", async () => {
  await withManifest(KVM_WITH_VCPUS, async (path) => {
    const { code, stdout } = await rvhvInProcess(["up", "--json", path]);
    strictEqual(code, 0);
    const { harts } = JSON.parse(stdout);
    deepStrictEqual(harts.map((h: { vcpu: unknown }) => h.vcpu), [
      null,
      null,
      { vm: 1, state: "bound" },
      { vm: 7, state: "bound" },
    ]);
    deepStrictEqual(harts[2].csrs.hedeleg, {
      value: "0xb10d",
      asked: "0xb10d",
      kept: "0xb10d",
      refused: "0x0",
      bits: harts[2].csrs.hedeleg.bits,
    });
  });
});

Deno.test("rvhv verify holds a vCPU's hart to the vCPU's delegation, and shows the vCPU", async () => {
  await withManifest(KVM_WITH_VCPUS, async (path) => {
    const text = await rvhvInProcess(["verify", path]);
    strictEqual(text.code, 0, text.stdout);
    match(text.stdout, /\n2–3\s+hedeleg\s+0xb10d\s+0xb10d\s+ok\n/);
    match(text.stdout, /\n0–1\s+hedeleg\s+0x0\s+0x0\s+ok\n/);
    match(text.stdout, /vcpus: harts 0–1 none; hart 2 vm 1 bound; hart 3 vm 7 bound\n/);
    match(text.stdout, /no drift on 4 harts\n$/);
    const json = JSON.parse((await rvhvInProcess(["verify", "--json", path])).stdout);
    deepStrictEqual(
      json.harts.map((
        h: { hart: number; vcpu: unknown; drift: boolean },
      ) => [h.hart, h.vcpu, h.drift]),
      [[0, null, false], [1, null, false], [2, { vm: 1, state: "bound" }, false], [
        3,
        { vm: 7, state: "bound" },
        false,
      ]],
    );
  });
});

Deno.test("rvhv up: a vCPU on a hart the set-up left out is a manifest error (exit 2) at its line", async () => {
  await withManifest(
    KVM_WITH_VCPUS.replace("percpu: { policy: kvm }", "percpu: { policy: kvm, harts: [0, 2] }"),
    async (path) => {
      const { code, stderr } = await rvhvInProcess(["up", path]);
      strictEqual(code, 2);
      match(stderr, /vcpus\.yaml:6:\d+ \(vcpus\.1\.hart\): hart 3 is not set up/);
    },
  );
});

Deno.test("rvhv record and replay carry the vCPUs' accesses like any others", async () => {
  await withManifest(KVM_WITH_VCPUS, async (path) => {
    const trace = path.replace(/\.yaml$/, ".jsonl");
    const recorded = await rvhvInProcess(["record", path, "-o", trace]);
    strictEqual(recorded.code, 0, recorded.stderr);
    const events = (await Deno.readTextFile(trace)).trim().split("\n").slice(1).map((line) =>
      JSON.parse(line)
    );
    // The binds' hgatp loads are in the trace, on the vCPUs' harts only.
    deepStrictEqual(
      [
        ...new Set(
          events.filter((e) => e.csr === "hgatp" && e.op === "write" && e.arg !== "0x0")
            .map((e) => e.hart),
        ),
      ],
      [2, 3],
    );
    const replayed = await rvhvInProcess(["replay", trace]);
    strictEqual(replayed.code, 0, replayed.stderr);
    match(
      replayed.stdout + replayed.stderr,
      /vcpus: harts 0–1 none; hart 2 vm 1 bound; hart 3 vm 7 bound/,
    );
  });
});

/**
 * The vCPU layer on real QEMU equals the emulator's matching profile: under
 * each policy, the per-CPU set-up, then a vCPU created, set up, bound,
 * unbound and bound again on one hart, then everything undone, is recorded
 * on QEMU (debugger access, and native access under real OpenSBI) and on
 * the emulator; the two traces must hold the same events, access by access
 * (operation, CSR, value written, value returned or trap).
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { STATUS } from "../../hal/csr_fields.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import type { AxVCpuHal } from "../../hal/types.ts";
import { PerCpuSet } from "../../percpu/percpu_set.ts";
import type { PolicySpec } from "../../percpu/policy.ts";
import { RISCVVCpu } from "../../percpu/riscv_vcpu.ts";
import { createEmulatorHal } from "../../plugins/emulator/mod.ts";
import { createQemuHal } from "../../plugins/qemu/mod.ts";
import { diffTraces } from "../../trace/diff.ts";
import { describeEvent } from "../../trace/format.ts";
import { recordHal } from "../../trace/recorder.ts";
import { withTempDir } from "../_helpers/traces.ts";
import { QEMU_TARGETS, QEMU_TEST_TIMEOUTS, qemuTest } from "../_helpers/qemu.ts";

const POLICIES: readonly PolicySpec[] = ["arceos", "kvm", "kvm-6.12"];

/** The vCPU's hart. */
const HART = 1;
/**
 * A G-stage root every backend has in RAM: the default comes from each
 * backend's frame allocator, whose first free frame differs (native access
 * keeps its agent in RAM).
 */
const GSTAGE_ROOT = 0x8100_0000n;

/** Runs the scenario under every policy on one backend, recording it. */
async function scenario(hal: AxVCpuHal, path: string): Promise<string[]> {
  // The guest image takes the live sstatus, whose FP state is the
  // environment's: real OpenSBI leaves FS dirty, a debugger-written model
  // leaves it off. Start both from FS off (SD follows).
  for (const hart of hal.harts) await hal.csr.clear(hart, CSR.sstatus, STATUS.FS);
  const recorded = await recordHal(hal, { path });
  const seen: string[] = [];
  try {
    for (const policy of POLICIES) {
      const set = await PerCpuSet.init(recorded, { policy });
      await set.enableAll();
      const vcpu = await RISCVVCpu.create(set.get(HART), { vmId: 5, gstageRoot: GSTAGE_ROOT });
      await vcpu.setup();
      await vcpu.bind();
      seen.push(`${set.policy.name}: ${vcpu.csrReport().map((e) => `${e.name}=${e.kept}`)}`);
      await vcpu.unbind();
      await vcpu.bind();
      await vcpu.unbind();
      await set.disableAll();
    }
  } finally {
    await recorded.close();
  }
  return seen;
}

for (const target of QEMU_TARGETS) {
  for (const access of ["debugger", "native"] as const) {
    qemuTest(
      `vCPU bind/unbind under arceos, kvm and kvm-6.12: QEMU ${target.version} (${access}) ` +
        `equals the emulator's ${target.profile}`,
      async () => {
        await withTempDir(async (dir) => {
          const qemu = await createQemuHal({
            ...QEMU_TEST_TIMEOUTS,
            harts: 2,
            qemu: target.binary,
            access,
            ...(access === "debugger" ? { firmware: "opensbi" as const } : {}),
          });
          const onQemu = await scenario(qemu, `${dir}/qemu.jsonl`);
          const emulator = await createEmulatorHal({
            harts: 2,
            profile: target.profile,
            firmware: "opensbi",
          });
          const onEmulator = await scenario(emulator, `${dir}/emulator.jsonl`);
          deepStrictEqual(onQemu, onEmulator, "what each bind kept");
          const diff = await diffTraces(`${dir}/qemu.jsonl`, `${dir}/emulator.jsonl`);
          const first = diff.first;
          strictEqual(
            diff.equal,
            true,
            first === undefined
              ? "the traces differ in length"
              : `hart ${first.hart}: QEMU ${
                first.a === undefined ? "ends" : describeEvent(first.a)
              }, emulator ${first.b === undefined ? "ends" : describeEvent(first.b)}`,
          );
        });
      },
      target,
    );
  }
}

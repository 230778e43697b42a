/**
 * The vCPU routes' work (module-internal): bind a vCPU of a VM on a hart,
 * reusing the hart's free vCPU of that VM, and unbind the bound one.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";
import { latestVcpuOf } from "../percpu/_bound.ts";
import type { RISCVPerCpu } from "../percpu/riscv_percpu.ts";
import { RISCVVCpu } from "../percpu/riscv_vcpu.ts";

/**
 * Binds a vCPU of VM `vm` on the hart of `percpu`: the hart's latest vCPU
 * again when it is free and of that VM, else a new one, created, set up and
 * bound (the gate, the per-vCPU set-up and the bind are `RISCVVCpu`'s). A
 * new vCPU's G-stage root comes from the backend's frames; it is given back
 * when the set-up or bind fails, and the root of a free vCPU this app
 * created is given back once another replaces it (nothing else can reach
 * that vCPU then).
 *
 * @param percpu The hart's per-CPU state.
 * @param vm The VM id.
 * @param created The vCPUs this app created (it owns their roots).
 * @throws {AxError} Kind `"ResourceBusy"` when a vCPU is bound on the hart
 *   (before anything is written); `"BadState"` when the hart is not enabled
 *   or in another transition; what the set-up and bind throw.
 */
export async function bindVcpu(
  percpu: RISCVPerCpu,
  vm: number,
  created: WeakSet<RISCVVCpu>,
): Promise<void> {
  const bound = percpu.vcpu;
  if (bound !== undefined) {
    throw new AxError(
      "ResourceBusy",
      `Cannot bind a vCPU of VM ${vm} on hart ${percpu.cpuId}: vCPU ${bound.vcpuId} of VM ` +
        `${bound.vmId} is bound there; unbind it first`,
      { hart: percpu.cpuId },
    );
  }
  const latest = latestVcpuOf(percpu);
  if (latest?.state === "free" && latest.vmId === vm) {
    await latest.bind();
    return;
  }
  const vcpu = await RISCVVCpu.create(percpu, { vmId: vm });
  try {
    await vcpu.setup();
    await vcpu.bind();
  } catch (error) {
    percpu.hal.deallocFrame(vcpu.gstageRoot);
    throw error;
  }
  created.add(vcpu);
  if (latest !== undefined && latest.state === "free" && created.has(latest)) {
    created.delete(latest);
    percpu.hal.deallocFrame(latest.gstageRoot);
  }
}

/**
 * Unbinds the vCPU bound on the hart of `percpu`.
 *
 * @param percpu The hart's per-CPU state.
 * @throws {AxError} Kind `"BadState"` when no vCPU is bound there, or while
 *   another transition runs on the hart.
 */
export async function unbindVcpu(percpu: RISCVPerCpu): Promise<void> {
  const bound = percpu.vcpu;
  if (bound === undefined) {
    throw new AxError(
      "BadState",
      `Cannot unbind a vCPU on hart ${percpu.cpuId}: no vCPU is bound there`,
      { hart: percpu.cpuId },
    );
  }
  await bound.unbind();
}

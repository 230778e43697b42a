/**
 * `verify`: compare the live CSRs of a manifest's harts with its policy.
 *
 * @module
 */

import { VS_INTERRUPTS } from "../../hal/csr_fields.ts";
import { hex } from "../../hal/hex.ts";
import type { AxVCpuHal, CsrOp, HartId } from "../../hal/types.ts";
import { bootForCli } from "../boot.ts";
import { readManifestArg } from "../manifest_arg.ts";
import {
  describePolicy,
  type PerCpuPolicy,
  resolvePolicy,
  setupTable,
} from "../../percpu/policy.ts";
import {
  currentExpectations,
  type Expectation,
  judgeCsr,
  latestVcpuOf,
} from "../../percpu/_bound.ts";
import type { RISCVPerCpu } from "../../percpu/riscv_percpu.ts";
import { type Command, EXIT, renderTable } from "../io.ts";
import { defineCommand } from "../command_line.ts";
import { closeReporting, describeBackend, groupedRows, hartRanges, vcpuLine } from "./_report.ts";

const HELP = `Usage: rvhv verify <manifest> [--json] [--no-setup]

Boots the manifest (sets the harts up, and enables them as the manifest
says), then reads every set-up hart's CSRs afresh and compares them with the
policy: hedeleg and hideleg must equal the policy's values, hvip must have
the VS bits (${hex(VS_INTERRUPTS)}) clear, hcounteren and sie must hold the policy's bits.
Under a policy that delegates per vCPU (kvm), a hart where one of the
manifest's vcpus: was bound must hold that vCPU's delegation instead. Bits
the hart refused during the set-up (e.g. the upper half of a 32-bit
hcounteren) are facts of the hart: reported as "refused", not as drift.
Anything else that differs is drift. Each hart's vCPU is shown (vm and
state). The vCPUs are then unbound, the harts disabled and closed.

With --no-setup the backend is only created, nothing is written: for a
system someone else set up (a QEMU attached to a running hypervisor, a
replayed trace). Each hart's live CSRs are compared with the policy as they
are, and a hart without H is drift.

Options:
  --json        print JSON ({ policy, drift, harts: [{ hart, csrs }] })
  --no-setup    compare the backend as it is, without running the set-up
  -h, --help    show this help

Exit codes: 0 no drift, 1 drift (or a hart cannot be set up), 2 usage or
manifest error, 3 backend failure.
`;

/** One verified CSR. */
interface CsrVerdict {
  csr: string;
  policy: string;
  mask: string;
  live: string;
  refused: string;
  drift: string;
  status: "ok" | "refused" | "drift";
}

/**
 * What a hart should hold: the policy's table without a set-up, or, for a
 * set-up hart, what it asks now (a bound vCPU's delegation under a per-vCPU
 * policy) with the bits the hart refused when they were written.
 */
function expectationsOf(policy: PerCpuPolicy, percpu?: RISCVPerCpu): Expectation[] {
  if (percpu === undefined) return setupTable(policy).map((row) => ({ row, refused: 0n }));
  return currentExpectations(percpu);
}

async function verifyHart(
  hal: AxVCpuHal,
  hart: HartId,
  expectations: readonly Expectation[],
): Promise<{ hart: HartId; h: boolean; drift: boolean; csrs: CsrVerdict[] }> {
  const reads = expectations.map(({ row }): CsrOp => ({ op: "read", csr: row.csr }));
  const results = await hal.csr.batch(hart, reads);
  const csrs = expectations.map((expect, k): CsrVerdict => {
    const result = results[k]!;
    const { name, mask } = expect.row;
    const asked = expect.row.asked ?? 0n;
    const base = { csr: name, policy: hex(asked), mask: hex(mask) };
    if (!result.ok) {
      return {
        ...base,
        live: `trap ${result.trapCause}`,
        refused: "0x0",
        drift: hex(mask),
        status: "drift",
      };
    }
    const { status, differs, drift } = judgeCsr(expect, result.value);
    return {
      ...base,
      live: hex(result.value),
      refused: hex(differs & expect.refused),
      drift: hex(drift),
      status,
    };
  });
  return {
    hart,
    h: results[0]!.ok,
    drift: csrs.some((c) => c.status === "drift"),
    csrs,
  };
}

/** Which harts drift on which CSRs, harts with the same drift grouped: `harts 0–1 (hedeleg)`. */
function driftSummary(drifting: readonly { hart: HartId; csrs: CsrVerdict[] }[]): string {
  const groups = new Map<string, HartId[]>();
  for (const v of drifting) {
    const csrs = v.csrs.filter((c) => c.status === "drift").map((c) => c.csr).join(", ");
    groups.set(csrs, [...(groups.get(csrs) ?? []), v.hart]);
  }
  return [...groups].map(([csrs, harts]) =>
    `hart${harts.length === 1 ? "" : "s"} ${hartRanges(harts)} (${csrs})`
  ).join("; ");
}

/** The `verify` command. */
export const verifyCommand: Command = defineCommand({
  name: "verify",
  summary: "compare the live CSRs of a manifest's harts with its policy; exit 1 on drift",
  help: HELP,
  options: {
    "no-setup": { type: "boolean", default: false },
  },
  takes: "manifest",
  async run({ values, path, trust }, io): Promise<number> {
    const manifest = await readManifestArg(path, io.stdin);
    const noSetup = values["no-setup"];
    io.err(
      `rvhv: booting ${manifest.file} (backend ${manifest.backend.plugin})${
        noSetup ? " without the set-up" : ""
      }\n`,
    );
    const system = await bootForCli(manifest, { ...trust, halOnly: noSetup });
    try {
      const policy = noSetup ? resolvePolicy(manifest.percpu.policy) : system.percpus.policy;
      io.err(
        `rvhv: ${describeBackend(system.hal.info())}; verifying against ${
          describePolicy(policy)
        }\n`,
      );
      const harts = noSetup
        ? (manifest.percpu.harts === "all" ? system.hal.harts : manifest.percpu.harts)
        : system.percpus.harts;
      const verdicts = [];
      for (const hart of harts) {
        const expectations = expectationsOf(policy, noSetup ? undefined : system.percpus.get(hart));
        const vcpu = noSetup ? undefined : latestVcpuOf(system.percpus.get(hart));
        verdicts.push({
          ...await verifyHart(system.hal, hart, expectations),
          vcpu: vcpu === undefined ? null : { vm: vcpu.vmId, state: vcpu.state },
        });
      }
      const drift = verdicts.some((v) => v.drift);
      if (values.json) {
        io.out(JSON.stringify({ policy: policy.name, drift, harts: verdicts }, null, 2) + "\n");
      } else {
        const rows = groupedRows(
          new Map(verdicts.map((v) => [
            v.hart,
            v.csrs.map((c) => [
              c.csr,
              c.policy,
              c.live,
              c.status === "ok"
                ? "ok"
                : c.status === "refused"
                ? `refused ${c.refused}`
                : `DRIFT ${c.drift}`,
            ]),
          ])),
        );
        let text = renderTable(["harts", "csr", "policy", "live", "status"], rows);
        const drifting = verdicts.filter((v) => v.drift);
        if (!noSetup) text += vcpuLine(system.percpus) ?? "";
        text += drift
          ? `\ndrift on ${driftSummary(drifting)}\n`
          : `\nno drift on ${verdicts.length} hart${verdicts.length === 1 ? "" : "s"}\n`;
        io.out(text);
      }
      return drift ? EXIT.check : EXIT.ok;
    } finally {
      await closeReporting(system, io);
    }
  },
});

/**
 * The QEMU backend on 64 harts of a real QEMU:
 *
 * - the verified set-up (probe, priors, the reference's nine operations, the
 *   read-back) through `PerCpuSet.init` with pipelined batches, against the
 *   sequential round-trip floor measured in the same run on the same QEMU:
 *   the same packets, each sent only after the previous reply arrived;
 * - the whole run: spawn → set-up → quit;
 * - the same CSR work as a `gdb-multiarch -batch` script (the tool a user
 *   would otherwise script), against our attach → set-up → close.
 *
 * Skipped, with the reason printed, when QEMU (or gdb-multiarch, for the
 * last figure) is not installed.
 */

import { CSR } from "../hal/csr_numbers.ts";
import { resolveFirmware } from "../hal/firmware.ts";
import type { CsrNum, HartId } from "../hal/types.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { ARCEOS_POLICY } from "../percpu/policy.ts";
import { OPERATIONS, PROBE_AND_PRIORS, READ_BACK, RESTORE } from "./_setup_steps.ts";
import { createQemuHal } from "../plugins/qemu/mod.ts";
import { GdbClient } from "../plugins/qemu/_gdb_client.ts";
import { connectUnixSocket } from "../plugins/qemu/_transport.ts";
import { QemuProcess } from "../plugins/qemu/qemu_process.ts";
import type { Figure } from "./figure.ts";
import { installed, median, qemuVersion } from "./figure.ts";

const HARTS = 64;
const ROUNDS = 7;
const RUNS = 5;
const QEMU = Deno.env.get("RVHV_QEMU") || "qemu-system-riscv64";
const GDB = "gdb-multiarch";
// The sequential floor sends the packets the set-up sends, in its order
// (./_setup_steps.ts): the probe, the priors, the operations, the read-back, the restore.

/**
 * The floor: the set-up of one hart over the raw gdb client, one packet in
 * flight at a time (what any client that waits for each reply costs).
 * Returns the priors so the caller can restore them.
 */
async function sequentialSetup(gdb: GdbClient, hart: HartId): Promise<Map<CsrNum, bigint>> {
  const { codec } = gdb;
  const one = async (payload: string) => (await gdb.exchange([payload]))[0]!;
  const read = async (csr: CsrNum) => codec.readValue(hart, csr, await one(codec.read(csr)));
  const write = async (csr: CsrNum, value: bigint) => {
    codec.checkWrite(hart, csr, await one(codec.write(csr, value)));
  };
  if ((await one(`Hgp1.${(hart + 1).toString(16)}`)) !== "OK") throw new Error("Hg failed");
  const priors = new Map<CsrNum, bigint>();
  for (const csr of PROBE_AND_PRIORS) priors.set(csr, await read(csr));
  for (const op of OPERATIONS) {
    if (op.op === "read") continue;
    const old = await read(op.csr);
    await write(
      op.csr,
      op.op === "write" ? op.value : op.op === "set" ? old | op.value : old & ~op.value,
    );
  }
  const kept = [];
  for (const csr of READ_BACK) kept.push(await read(csr));
  if (kept[0] !== ARCEOS_POLICY.hedeleg || kept[1] !== ARCEOS_POLICY.hideleg) {
    throw new Error(`hart ${hart} did not keep the set-up`);
  }
  return priors;
}

/** Puts the priors back (untimed), so every round starts from the same state. */
async function restore(gdb: GdbClient, hart: HartId, priors: Map<CsrNum, bigint>): Promise<void> {
  const replies = await gdb.exchangeOnHart(
    hart,
    RESTORE.map((csr) => gdb.codec.write(csr, priors.get(csr)!)),
  );
  if (replies.some((r) => r !== "OK")) throw new Error("restore failed");
}

async function floorRound(qemu: QemuProcess): Promise<number> {
  const gdb = await GdbClient.connect(await connectUnixSocket(qemu.gdbPath, { retryForMs: 2000 }));
  try {
    const start = performance.now();
    const priors = [];
    for (let hart = 0; hart < HARTS; hart++) priors.push(await sequentialSetup(gdb, hart));
    const took = performance.now() - start;
    for (let hart = 0; hart < HARTS; hart++) await restore(gdb, hart, priors[hart]!);
    return took;
  } finally {
    await gdb.close();
  }
}

async function pipelinedRound(qemu: QemuProcess): Promise<{ ms: number; packets: number }> {
  const hal = await createQemuHal({
    attach: { qmp: qemu.qmpPath, gdb: qemu.gdbPath },
    qemu: QEMU,
  });
  try {
    const before = hal.stats().packets;
    const start = performance.now();
    const set = await PerCpuSet.init(hal);
    const ms = performance.now() - start;
    const packets = hal.stats().packets - before;
    for (const hart of hal.harts) {
      if ((await hal.csr.read(hart, CSR.hedeleg)) !== 0xb10dn) throw new Error("not set up");
    }
    for (const percpu of set) await percpu.restorePriors();
    return { ms, packets };
  } finally {
    await hal.close();
  }
}

async function wholeRun(): Promise<number> {
  const start = performance.now();
  const hal = await createQemuHal({ harts: HARTS, qemu: QEMU, firmware: "opensbi" });
  try {
    await PerCpuSet.init(hal);
  } finally {
    await hal.close();
  }
  return performance.now() - start;
}

/** A gdb script doing the set-up's reads and writes on every hart, read-back verified. */
function gdbScript(socket: string): string {
  const lines = [
    "set pagination off",
    "set confirm off",
    "set architecture riscv:rv64",
    `target remote ${socket}`,
  ];
  for (let hart = 0; hart < HARTS; hart++) {
    lines.push(`thread ${hart + 1}`);
    for (const name of ["hgatp", "hedeleg", "hideleg", "hvip", "hcounteren", "sie", "vsie"]) {
      lines.push(`p/x $${name}`);
    }
    lines.push(
      "set $hedeleg = 0xb10d",
      "set $hideleg = 0x444",
      "set $hvip = $hvip & ~0x4",
      "set $hvip = $hvip & ~0x40",
      "set $hvip = $hvip & ~0x400",
      "set $hcounteren = 0xffffffffffffffff",
      "set $sie = $sie | 0x200",
      "set $sie = $sie | 0x2",
      "set $sie = $sie | 0x20",
      // gdb would otherwise answer from its register cache, not from the hart.
      "maintenance flush register-cache",
    );
    for (const name of ["hedeleg", "hideleg", "hvip", "hcounteren", "sie"]) {
      lines.push(`p/x $${name}`);
    }
  }
  // `disconnect`, not detach: a detach would resume the VM.
  lines.push("disconnect");
  return lines.join("\n") + "\n";
}

async function gdbRound(script: string): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(GDB, {
    args: ["-batch", "-nx", "-x", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - start;
  const text = new TextDecoder().decode(out.stdout);
  const values = [...text.matchAll(/^\$\d+ = (0x[0-9a-f]+)$/gm)].map((m) => m[1]);
  // Per hart: 7 prior reads, then 5 read-backs starting with hedeleg.
  for (let hart = 0; hart < HARTS; hart++) {
    if (values[hart * 12 + 7] !== "0xb10d") {
      throw new Error(
        `gdb-multiarch did not set hart ${hart} up: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
  }
  return ms;
}

async function oursAttached(qemu: QemuProcess): Promise<number> {
  const start = performance.now();
  const hal = await createQemuHal({ attach: { qmp: qemu.qmpPath, gdb: qemu.gdbPath } });
  try {
    await PerCpuSet.init(hal);
  } finally {
    await hal.close();
  }
  return performance.now() - start;
}

/** A QEMU of 64 harts in the opensbi preset's state, for the attached measurements. */
async function spawnPrepared(): Promise<QemuProcess> {
  const firmware = resolveFirmware("opensbi", "opensbi-1.1");
  const qemu = await QemuProcess.spawn({
    binary: QEMU,
    harts: HARTS,
    cpu: "rv64,h=true",
    mtimecmp: firmware.mtimecmp,
  });
  // Apply the preset's CSR writes once through an attached backend.
  const hal = await createQemuHal({
    attach: { qmp: qemu.qmpPath, gdb: qemu.gdbPath },
    firmware: "opensbi",
  });
  await hal.close();
  return qemu;
}

/** Runs the QEMU benchmark; `[]` (with the reason on stderr) when QEMU is absent. */
export async function benchQemu(): Promise<Figure[]> {
  if (!installed(QEMU)) {
    console.error(
      `qemu benchmark skipped: "${QEMU}" is not installed (apt-get install --no-install-recommends qemu-system-misc)`,
    );
    return [];
  }
  const on = qemuVersion(QEMU);
  const figures: Figure[] = [];

  // Pipelined set-up against the sequential floor, alternating rounds on one QEMU.
  const qemu = await spawnPrepared();
  const pipelined: number[] = [];
  const floor: number[] = [];
  let packets = 0;
  try {
    await pipelinedRound(qemu); // warm-up
    await floorRound(qemu);
    for (let round = 0; round < ROUNDS; round++) {
      const result = await pipelinedRound(qemu);
      pipelined.push(result.ms);
      packets = result.packets;
      floor.push(await floorRound(qemu));
    }
  } finally {
    await qemu.stop();
  }
  const pipelinedMs = median(pipelined);
  const floorMs = median(floor);
  const perHart = pipelinedMs / HARTS;
  figures.push(
    { name: `qemu.setup.pipelined.${HARTS}harts`, value: pipelinedMs, unit: "ms" },
    {
      name: "qemu.setup.pipelined.per_hart",
      value: perHart,
      unit: "ms",
      target: "<= 1.2",
      ok: perHart <= 1.2,
    },
    { name: "qemu.setup.packets_per_hart", value: packets / HARTS, unit: "packets" },
    { name: `qemu.setup.sequential_floor.${HARTS}harts`, value: floorMs, unit: "ms" },
    {
      name: "qemu.setup.pipelined_vs_floor",
      value: pipelinedMs / floorMs,
      unit: "x",
      floor: "qemu.setup.sequential_floor",
      target: "<= 0.8",
      ok: pipelinedMs / floorMs <= 0.8,
    },
  );

  // The whole run: spawn, set up, quit.
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) runs.push(await wholeRun());
  figures.push({ name: `qemu.run.${HARTS}harts`, value: median(runs), unit: "ms" });

  // gdb-multiarch doing the same work, against ours attached to the same QEMU.
  if (!installed(GDB)) {
    console.error(
      `gdb-multiarch comparison skipped: "${GDB}" is not installed (apt-get install gdb-multiarch)`,
    );
    return figures.map((figure) => ({ ...figure, on }));
  }
  const target = await spawnPrepared();
  const dir = await Deno.makeTempDir({ prefix: "rvhv-bench-" });
  const gdbTimes: number[] = [];
  const ours: number[] = [];
  try {
    const script = `${dir}/setup.gdb`;
    await Deno.writeTextFile(script, gdbScript(target.gdbPath));
    for (let run = 0; run < RUNS; run++) {
      gdbTimes.push(await gdbRound(script));
      ours.push(await oursAttached(target));
    }
  } finally {
    await target.stop();
    await Deno.remove(dir, { recursive: true });
  }
  const gdbMs = median(gdbTimes);
  const oursMs = median(ours);
  figures.push(
    { name: `qemu.gdb_multiarch.${HARTS}harts`, value: gdbMs, unit: "ms" },
    { name: `qemu.attach_setup_close.${HARTS}harts`, value: oursMs, unit: "ms" },
    {
      name: "qemu.speedup_vs_gdb_multiarch",
      value: gdbMs / oursMs,
      unit: "x",
      floor: `qemu.gdb_multiarch.${HARTS}harts`,
      target: ">= 20",
      ok: gdbMs / oursMs >= 20,
    },
  );
  return figures.map((figure) => ({ ...figure, on }));
}

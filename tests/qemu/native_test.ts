/**
 * Native access on real QEMU: the real firmware in `info()`, the path of
 * every result, machine-level operations in their place in a batch, the
 * hart's own traps, the agent's stvec, operations it refuses, a wake-up it
 * cannot do, a hart that never parks or never finishes (Timeout naming it),
 * reset, and 128 harts on OpenSBI 1.6 (QEMU 10.0, when installed).
 */

import {
  deepStrictEqual,
  match,
  notStrictEqual,
  ok,
  rejects,
  strictEqual,
} from "node:assert/strict";
import { ALL_ONES } from "../../hal/csr_fields.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../../hal/errors.ts";
import type { CsrResult } from "../../hal/types.ts";
import { createQemuHal, type QemuOptions } from "../../plugins/qemu/mod.ts";
import { agentBase, agentLayout, buildAgent } from "../../plugins/qemu/native/_agent.ts";
import { bootAgent } from "../../plugins/qemu/native/_boot.ts";
import { QemuSession } from "../../plugins/qemu/_session.ts";
import { parseQemuOptions } from "../../plugins/qemu/options.ts";
import { QEMU_BINARY, QEMU_TEST_TIMEOUTS, qemuTest } from "../_helpers/qemu.ts";
import { qemuVersions, qemuVersionTest } from "../_helpers/qemu_versions.ts";

/** A QEMU backend with native access, on QEMU 7.2 unless `qemu` says otherwise. */
function nativeHal(options: QemuOptions) {
  return createQemuHal({ ...QEMU_TEST_TIMEOUTS, qemu: QEMU_BINARY, access: "native", ...options });
}

function plain(results: readonly CsrResult[]): CsrResult[] {
  return results.map((r) =>
    r.ok ? { ok: true, value: r.value } : { ok: false, trapCause: r.trapCause }
  );
}

qemuTest("native access reports the real firmware and the path of every result", async () => {
  const hal = await nativeHal({ harts: 2 });
  try {
    const info = hal.info();
    strictEqual(info.access, "native");
    match(String(info.firmware), /^OpenSBI v1\.\d+$/);
    match(String(info.sbi), /^\d+\.\d+$/);
    const agent = info.agent as { base: string; bootHart: number; started: number };
    deepStrictEqual([agent.base, agent.started], ["0x80200000", 1]);
    ok(agent.bootHart === 0 || agent.bootHart === 1);
    const ops = [
      { op: "read", csr: CSR.hedeleg },
      { op: "read", csr: CSR.mideleg },
    ] as const;
    const routed = await hal.batchVia(1, ops);
    deepStrictEqual(routed.map((r) => r.via), ["native", "debugger"]);
    // The plain port's results carry no path (CsrPort is unchanged).
    deepStrictEqual(await hal.csr.batch(1, ops), plain(routed));
    const stats = hal.stats().native!;
    deepStrictEqual(stats.harts[1], { native: 2, debugger: 2 });
    strictEqual(stats.resumes, 2);
    // What `rvhv up` shows per hart: the paths so far.
    strictEqual(hal.accessPath(1), "native 2, debugger 2");
    await hal.csr.read(0, CSR.hedeleg);
    strictEqual(hal.accessPath(0), "native");
    await hal.csr.read(0, CSR.mhartid);
    strictEqual(hal.accessPath(0), "native 1, debugger 1");
  } finally {
    await hal.close();
  }
});

qemuTest("harts running the same operations share one copy of the batch code", async () => {
  const hal = await nativeHal({ harts: 4 });
  try {
    const ops = [
      { op: "write", csr: CSR.sscratch, value: 0x5n },
      { op: "read", csr: CSR.sscratch },
    ] as const;
    const round = () => Promise.all(hal.harts.map((hart) => hal.csr.batch(hart, ops)));
    deepStrictEqual(
      await round(),
      Array(4).fill([{ ok: true, value: 0n }, { ok: true, value: 5n }]),
    );
    const first = hal.stats().native!;
    deepStrictEqual([first.resumes, first.codeWrites], [1, 1], "one resume, one copy for 4 harts");
    deepStrictEqual(
      await round(),
      Array(4).fill([{ ok: true, value: 5n }, { ok: true, value: 5n }]),
    );
    const second = hal.stats().native!;
    deepStrictEqual([second.resumes, second.codeWrites], [2, 1], "the cached copy runs again");
    // Different operands, same code: still one copy.
    await Promise.all(
      hal.harts.map((hart) => hal.csr.write(hart, CSR.sscratch, BigInt(hart))),
    );
    strictEqual(hal.stats().native!.codeWrites, 2, "a write is one more program, shared");
    deepStrictEqual(
      await Promise.all(hal.harts.map((hart) => hal.csr.read(hart, CSR.sscratch))),
      [0n, 1n, 2n, 3n],
    );
  } finally {
    await hal.close();
  }
});

qemuTest("64 harts: 100 rounds of a write on every hart, one resume each", async () => {
  const hal = await nativeHal({ harts: 64 });
  try {
    strictEqual((hal.info().agent as { started: number }).started, 63);
    for (let round = 0; round < 100; round++) {
      const values = await Promise.all(
        hal.harts.map((hart) => hal.csr.write(hart, CSR.sscratch, BigInt(round * 64 + hart))),
      );
      if (round > 0) {
        deepStrictEqual(
          values,
          hal.harts.map((hart) => BigInt((round - 1) * 64 + hart)),
        );
      }
    }
    const stats = hal.stats().native!;
    deepStrictEqual([stats.resumes, stats.nativeOps, stats.codeWrites], [100, 6400, 1]);
  } finally {
    await hal.close();
  }
});

qemuTest("native access runs machine-level operations in their place in a batch", async () => {
  const hal = await nativeHal({ harts: 2 });
  try {
    // mscratch is OpenSBI's per-hart scratch pointer: put it back at the end.
    const firmware = await hal.csr.read(0, CSR.mscratch);
    ok(firmware >= 0x8000_0000n && firmware < 0x8020_0000n, "inside OpenSBI's region");
    const results = await hal.batchVia(0, [
      { op: "write", csr: CSR.mscratch, value: 0x1111n },
      { op: "write", csr: CSR.sscratch, value: 0x2222n },
      { op: "write", csr: CSR.mscratch, value: 0x3333n },
      { op: "read", csr: CSR.sscratch },
      { op: "set", csr: CSR.sscratch, value: 0x1n },
      { op: "write", csr: CSR.mscratch, value: firmware },
      { op: "read", csr: CSR.sscratch },
    ]);
    deepStrictEqual(results.map((r) => [r.ok ? r.value : -1n, r.via]), [
      [firmware, "debugger"],
      [0n, "native"],
      [0x1111n, "debugger"],
      [0x2222n, "native"],
      [0x2222n, "native"],
      [0x3333n, "debugger"],
      [0x2223n, "native"],
    ]);
    strictEqual(hal.stats().native!.resumes, 3, "three native runs between debugger operations");
  } finally {
    await hal.close();
  }
});

qemuTest(
  "native traps are the hart's own: OpenSBI redirects them and the trap CSRs show it",
  async (t) => {
    const hal = await nativeHal({ harts: 2 });
    try {
      await t.step("an unimplemented CSR: illegal instruction, redirected by OpenSBI", async () => {
        const error = await hal.csr.read(1, 0x000).then(() => undefined, (e) => e);
        ok(error instanceof CsrTrap, String(error));
        strictEqual(error.trapCause, 2);
        const [scause, stval, sepc] = await hal.csr.batch(1, [
          { op: "read", csr: CSR.scause },
          { op: "read", csr: CSR.stval },
          { op: "read", csr: CSR.sepc },
        ]);
        deepStrictEqual(scause, { ok: true, value: 2n });
        deepStrictEqual(stval, { ok: true, value: 0x000022f3n }, "csrrs t0, 0x000, zero");
        // In the batch code: the shared code cache, or the hart's own work area.
        const layout = agentLayout(2);
        ok(
          sepc!.ok && sepc!.value >= BigInt(layout.codeCache) && sepc!.value < BigInt(layout.end),
          "in the batch code",
        );
      });
      await t.step("a write to a read-only counter traps; a read does not", async () => {
        const [write, read] = await hal.csr.batch(0, [
          { op: "write", csr: CSR.cycle, value: 0n },
          { op: "read", csr: CSR.cycle },
        ]);
        deepStrictEqual(write, { ok: false, trapCause: 2 });
        ok(read!.ok && read!.value > 0n);
      });
    } finally {
      await hal.close();
    }
  },
);

qemuTest("native access writes stvec for real and keeps the agent's own handler", async () => {
  const hal = await nativeHal({ harts: 2 });
  try {
    const before = await hal.csr.read(1, CSR.stvec);
    // OpenSBI sets stvec to the address it entered the hart at.
    const agent = buildAgent(agentLayout(2));
    ok(
      before === BigInt(agent.symbols._start!) || before === BigInt(agent.symbols.secondary_entry!),
    );
    strictEqual(await hal.csr.write(1, CSR.stvec, 0x8030_0000n), before);
    // A trap in a later batch still reaches the agent's handler.
    deepStrictEqual(
      await hal.csr.batch(1, [{ op: "read", csr: 0x000 }, { op: "read", csr: CSR.stvec }]),
      [{ ok: false, trapCause: 2 }, { ok: true, value: 0x8030_0000n }],
    );
  } finally {
    await hal.close();
  }
});

qemuTest("native access refuses what would take the agent down, before anything runs", async () => {
  const hal = await nativeHal({ harts: 2 });
  try {
    await hal.csr.write(0, CSR.sscratch, 7n);
    await rejects(
      hal.csr.batch(0, [
        { op: "write", csr: CSR.sscratch, value: 8n },
        { op: "write", csr: CSR.satp, value: 8n << 60n },
      ]),
      (e) =>
        e instanceof AxError && e.kind === "Unsupported" && /address translation/.test(e.message),
    );
    await rejects(
      hal.csr.set(0, CSR.sstatus, 2n),
      (e) => e instanceof AxError && e.kind === "Unsupported" && /sstatus\.SIE/.test(e.message),
    );
    strictEqual(await hal.csr.read(0, CSR.sscratch), 7n, "the batch did not run at all");
    strictEqual(await hal.csr.read(0, CSR.satp), 0n);
    // Bare mode is fine.
    strictEqual(await hal.csr.write(0, CSR.satp, 0n), 0n);
  } finally {
    await hal.close();
  }
});

qemuTest("native access will not wake a hart the debugger made unwakeable", async (t) => {
  const hal = await nativeHal({ harts: 2 });
  try {
    await t.step("mideleg without the supervisor software interrupt", async () => {
      const mideleg = await hal.csr.read(1, CSR.mideleg);
      await hal.csr.write(1, CSR.mideleg, mideleg & ~2n);
      await rejects(
        hal.csr.read(1, CSR.sscratch),
        (e) =>
          e instanceof AxError && e.kind === "BadState" && e.hart === 1 &&
          /mideleg/.test(e.message),
      );
      await hal.csr.write(1, CSR.mideleg, mideleg);
      strictEqual(await hal.csr.read(1, CSR.sscratch), 0n);
    });
    await t.step("mstatus.SIE set over the debugger", async () => {
      await hal.csr.set(1, CSR.mstatus, 2n);
      await rejects(
        hal.csr.read(1, CSR.sscratch),
        (e) => e instanceof AxError && e.kind === "BadState" && /SIE set/.test(e.message),
      );
      await hal.csr.clear(1, CSR.mstatus, 2n);
      strictEqual(await hal.csr.read(1, CSR.sscratch), 0n);
    });
  } finally {
    await hal.close();
  }
});

qemuTest("a hart stuck in M-mode is a Timeout naming it; the other harts go on", async () => {
  const hal = await nativeHal({ harts: 2, timeoutMs: 300 });
  try {
    // Point hart 1's M-mode trap vector at zeros: OpenSBI never gets the
    // illegal instruction below, the hart loops on traps in M-mode.
    await hal.csr.write(1, CSR.mtvec, 0x8030_0000n);
    const error = await hal.csr.read(1, 0x000).then(() => undefined, (e) => e);
    ok(error instanceof AxError && error.kind === "Timeout", String(error));
    strictEqual(error.hart, 1);
    match(
      error.message,
      /^Cannot run native operations on hart 1: it did not finish within \d+ ms/,
    );
    match(error.message, /it is in M-mode at pc 0x8030000/);
    // Left out of later operations, at once.
    await rejects(hal.csr.read(1, CSR.sscratch), (e) => e === error);
    strictEqual(await hal.csr.write(0, CSR.sscratch, 5n), 0n);
    strictEqual(await hal.csr.read(0, CSR.sscratch), 5n);
  } finally {
    await hal.close();
  }
});

qemuTest("a hart that never parks at boot is a Timeout naming it and where it is", async () => {
  // An agent that starts only hart 0's share: built for 1 hart, run on 3.
  // Whichever hart boots starts at most hart 0, so one hart is never started.
  const layout = agentLayout(3);
  const session = await QemuSession.open(parseQemuOptions({ harts: 3, qemu: QEMU_BINARY }), {
    bios: "default",
    kernel: buildAgent(agentLayout(1, agentBase(3))).elf,
  });
  try {
    const error = await bootAgent(session, { layout, bootTimeoutMs: 400 })
      .then(() => undefined, (e) => e);
    ok(error instanceof AxError && error.kind === "Timeout", String(error));
    ok(error.hart === 1 || error.hart === 2, `hart ${error.hart}`);
    match(
      error.message,
      /^Cannot boot the native agent on 3 harts: hart [12] did not park within 400 ms( \(nor did 1 more\))?: it is in M-mode at pc 0x800\w+, never entered the agent, and the boot hart did not start it$/,
    );
    strictEqual(session.running, false, "the VM is left stopped");
  } finally {
    await session.close();
  }
});

qemuTest("reset() relaunches QEMU and boots the agent again", async () => {
  const hal = await nativeHal({ harts: 2 });
  try {
    const firmware = await hal.csr.read(1, CSR.mscratch);
    await hal.csr.write(1, CSR.sscratch, 0x55n);
    await hal.csr.write(1, CSR.mscratch, 0x66n);
    const pid = hal.info().pid;
    await hal.reset();
    notStrictEqual(hal.info().pid, pid);
    strictEqual(hal.info().access, "native");
    deepStrictEqual(
      plain(
        await hal.batchVia(1, [
          { op: "read", csr: CSR.sscratch },
          { op: "read", csr: CSR.mscratch },
        ]),
      ),
      [{ ok: true, value: 0n }, { ok: true, value: firmware }],
    );
  } finally {
    await hal.close();
  }
});

const qemu10 = qemuVersions()[1]!;
qemuVersionTest(qemu10, "128 harts boot on OpenSBI 1.6 with the agent at 0x80400000", async () => {
  const hal = await nativeHal({ harts: 128, qemu: qemu10.binary });
  try {
    const agent = hal.info().agent as { base: string; started: number };
    deepStrictEqual([agent.base, agent.started], ["0x80400000", 127]);
    deepStrictEqual(
      await hal.csr.batch(127, [
        { op: "write", csr: CSR.hcounteren, value: ALL_ONES },
        { op: "read", csr: CSR.hcounteren },
      ]),
      [{ ok: true, value: 0n }, { ok: true, value: 0x7ffffn }],
    );
  } finally {
    await hal.close();
  }
});

/**
 * The faults the QEMU backend must handle: a missing binary, QEMU exiting
 * during start-up, QEMU killed mid-run, a malformed QMP line, E14, a hart
 * out of range, two backends at once, and attaching to a running VM.
 */

import { scaled } from "../_helpers/time_scale.ts";
import {
  deepStrictEqual,
  match,
  notStrictEqual,
  ok,
  rejects,
  strictEqual,
} from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError, CsrTrap } from "../../hal/errors.ts";
import { createQemuHal } from "../../plugins/qemu/mod.ts";
import { QmpClient } from "../../plugins/qemu/_qmp_client.ts";
import { QmpProtocolError } from "../../plugins/qemu/_qmp_messages.ts";
import { connectUnixSocket } from "../../plugins/qemu/_transport.ts";
import { QemuProcess } from "../../plugins/qemu/qemu_process.ts";
import { QEMU_BINARY, QEMU_TEST_TIMEOUTS, qemuTest } from "../_helpers/qemu.ts";

const SANITIZE = { sanitizeOps: true, sanitizeResources: true } as const;

/** Whether a process exists (`kill -0`): a reaped process does not. */
function alive(pid: number): boolean {
  return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync()
    .success;
}

Deno.test({
  name: "createQemuHal() without the binary rejects NotFound and says how to install it",
  ...SANITIZE,
  async fn() {
    const error = await createQemuHal({
      ...QEMU_TEST_TIMEOUTS,
      qemu: "/nonexistent/qemu-system-riscv64",
    }).then(
      () => undefined,
      (e) => e,
    );
    ok(error instanceof AxError, String(error));
    strictEqual(error.kind, "NotFound");
    match(
      error.message,
      /^Cannot start QEMU: "\/nonexistent\/qemu-system-riscv64" was not found; install it with "apt-get install --no-install-recommends qemu-system-misc"/,
    );
  },
});

Deno.test({
  name: "createQemuHal() reports a QEMU that exits during start-up, with its stderr",
  ...SANITIZE,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rvhv-fake-qemu-" });
    try {
      const fake = `${dir}/qemu-system-riscv64`;
      await Deno.writeTextFile(
        fake,
        `#!/bin/sh\necho "qemu-system-riscv64: cannot set up guest memory 'riscv.virt.ram'" >&2\nexit 1\n`,
      );
      await Deno.chmod(fake, 0o755);
      const started = performance.now();
      const error = await createQemuHal({ ...QEMU_TEST_TIMEOUTS, qemu: fake }).then(
        () => undefined,
        (e) => e,
      );
      ok(error instanceof AxError, String(error));
      strictEqual(error.kind, "Io");
      match(
        error.message,
        /^Cannot start QEMU: .*qemu-system-riscv64 exited with code 1: qemu-system-riscv64: cannot set up guest memory 'riscv\.virt\.ram'$/,
      );
      ok(
        performance.now() - started < scaled(1500),
        "an exit is noticed without waiting for the time-out",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "createQemuHal() attached to a QMP socket that sends a malformed greeting fails with a protocol error",
  ...SANITIZE,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rvhv-fake-qmp-" });
    const path = `${dir}/qmp.sock`;
    const listener = Deno.listen({ transport: "unix", path });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.write(new TextEncoder().encode(`{"QMP": {"version": "7.2"}}\r\n`));
      // Hold the connection until the client hangs up.
      await conn.read(new Uint8Array(64)).catch(() => null);
      conn.close();
    })();
    try {
      const error = await createQemuHal({
        ...QEMU_TEST_TIMEOUTS,
        attach: { qmp: path, gdb: `${dir}/gdb.sock` },
      }).then(
        () => undefined,
        (e) => e,
      );
      ok(error instanceof QmpProtocolError, String(error));
      match(
        error.message,
        /Cannot accept the QMP greeting: 'QMP' member 'version' must be a JSON object/,
      );
      await served;
    } finally {
      listener.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

qemuTest("createQemuHal() reports QEMU's own start-up error (a bad -cpu property)", async () => {
  const error = await createQemuHal({
    ...QEMU_TEST_TIMEOUTS,
    qemu: QEMU_BINARY,
    cpuProps: ["no-such-prop=true"],
  }).then(
    () => undefined,
    (e) => e,
  );
  ok(error instanceof AxError, String(error));
  strictEqual(error.kind, "Io");
  match(error.message, /exited with code 1: .*Property 'rv64-riscv-cpu\.no-such-prop' not found/);
});

qemuTest(
  "QEMU killed mid-run: the pending call rejects Io within 5 s, close() is clean, no orphan",
  async () => {
    const hal = await createQemuHal({ ...QEMU_TEST_TIMEOUTS, harts: 2, qemu: QEMU_BINARY });
    const pid = hal.info().pid as number;
    ok(alive(pid));
    // Freeze QEMU so the call stays pending, then kill it.
    Deno.kill(pid, "SIGSTOP");
    const pending = hal.csr.read(1, CSR.hedeleg);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    Deno.kill(pid, "SIGKILL");
    const error = await pending.then(() => undefined, (e) => e);
    const took = performance.now() - started;
    ok(error instanceof AxError, String(error));
    strictEqual(error.kind, "Io");
    // Usually the process is reaped in time to say how it died; under heavy load
    // the socket error may be all there is yet.
    match(
      error.message,
      /^Cannot access hart 1: (QEMU \(pid \d+\) was killed by SIGKILL|the gdb connection to QEMU ended)/,
    );
    ok(took < scaled(5000), `rejected after ${took} ms`);
    // Later calls reject at once with Io too, and (once QEMU is reaped) say why.
    for (let waited = 0;; waited += 20) {
      const later = await hal.csr.write(0, CSR.sscratch, 1n).then(() => undefined, (e) => e);
      ok(later instanceof AxError && later.kind === "Io", String(later));
      if (/QEMU \(pid \d+\) was killed by SIGKILL/.test(later.message)) break;
      ok(waited < scaled(3000), `still no exit status: ${later.message}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await hal.close();
    await hal.close();
    strictEqual(alive(pid), false, "QEMU must be reaped");
  },
);

qemuTest(
  "E14 from QEMU is a CsrTrap with cause 2, on reads and on the read before a write",
  async () => {
    const hal = await createQemuHal({
      ...QEMU_TEST_TIMEOUTS,
      harts: 2,
      qemu: QEMU_BINARY,
      isa: "rv64imafdc",
    });
    try {
      // hstateen0 needs Smstateen (absent in 7.2's rv64); hedeleg needs H (off here).
      for (const csr of [CSR.hstateen0, CSR.hedeleg, CSR.hgatp]) {
        const error = await hal.csr.read(1, csr).then(() => undefined, (e) => e);
        ok(error instanceof CsrTrap, String(error));
        deepStrictEqual([error.hart, error.csr, error.trapCause], [1, csr, 2]);
      }
      await rejects(hal.csr.write(0, CSR.hedeleg, 0xb10dn), (e) => e instanceof CsrTrap);
      deepStrictEqual(await hal.csr.batch(0, [{ op: "set", csr: CSR.hvip, value: 4n }]), [
        { ok: false, trapCause: 2 },
      ]);
      strictEqual(hal.info().h, false);
    } finally {
      await hal.close();
    }
  },
);

qemuTest("a hart out of range rejects NotFound and sends nothing", async () => {
  const hal = await createQemuHal({ ...QEMU_TEST_TIMEOUTS, harts: 2, qemu: QEMU_BINARY });
  try {
    strictEqual(await hal.csr.read(0, CSR.mhartid), 0n);
    const before = hal.stats();
    for (const hart of [2, -1, 1.5, 512]) {
      await rejects(
        hal.csr.read(hart, CSR.mhartid),
        (e) => e instanceof AxError && e.kind === "NotFound" && e.hart === hart,
      );
      await rejects(
        hal.csr.batch(hart, [{ op: "write", csr: CSR.sscratch, value: 1n }]),
        (e) => e instanceof AxError && e.kind === "NotFound",
      );
    }
    deepStrictEqual(hal.stats(), before);
    strictEqual(await hal.csr.read(0, CSR.mhartid), 0n);
    strictEqual(hal.stats().packets, before.packets + 1); // hart 0 is still selected: one p
  } finally {
    await hal.close();
  }
});

qemuTest(
  "debugger access: batchVia and accessPath say debugger, csr.batch carries no path",
  async () => {
    const hal = await createQemuHal({ ...QEMU_TEST_TIMEOUTS, harts: 2, qemu: QEMU_BINARY });
    try {
      const ops = [
        { op: "write", csr: CSR.sscratch, value: 7n },
        { op: "read", csr: CSR.mhartid },
      ] as const;
      deepStrictEqual(await hal.batchVia(1, ops), [
        { ok: true, value: 0n, via: "debugger" },
        { ok: true, value: 1n, via: "debugger" },
      ]);
      deepStrictEqual(await hal.csr.batch(1, ops), [
        { ok: true, value: 7n },
        { ok: true, value: 1n },
      ]);
      strictEqual(hal.accessPath(1), "debugger");
      strictEqual(hal.stats().native, undefined);
    } finally {
      await hal.close();
    }
  },
);

qemuTest("two backends at once have their own QEMU and sockets", async () => {
  const [a, b] = await Promise.all([
    createQemuHal({ ...QEMU_TEST_TIMEOUTS, harts: 2, qemu: QEMU_BINARY }),
    createQemuHal({ ...QEMU_TEST_TIMEOUTS, harts: 3, qemu: QEMU_BINARY }),
  ]);
  try {
    notStrictEqual(a.info().pid, b.info().pid);
    await Promise.all([a.csr.write(1, CSR.sscratch, 0xaan), b.csr.write(1, CSR.sscratch, 0xbbn)]);
    deepStrictEqual(
      await Promise.all([a.csr.read(1, CSR.sscratch), b.csr.read(1, CSR.sscratch)]),
      [0xaan, 0xbbn],
    );
    deepStrictEqual([a.harts, b.harts], [[0, 1], [0, 1, 2]]);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  ok(!alive(a.info().pid as number) && !alive(b.info().pid as number));
});

qemuTest("reset() relaunches QEMU and returns every hart to the preset state", async () => {
  const hal = await createQemuHal({
    ...QEMU_TEST_TIMEOUTS,
    harts: 2,
    qemu: QEMU_BINARY,
    firmware: "opensbi",
  });
  try {
    const firstPid = hal.info().pid as number;
    await hal.csr.write(1, CSR.hedeleg, 0xb1ffn);
    await hal.csr.write(1, CSR.medeleg, 0n);
    await hal.reset();
    notStrictEqual(hal.info().pid, firstPid);
    ok(!alive(firstPid));
    strictEqual(await hal.csr.read(1, CSR.hedeleg), 0n);
    strictEqual(await hal.csr.read(1, CSR.medeleg), 0xf0b509n);
    strictEqual(await hal.csr.read(1, CSR.mideleg), 0x1666n);
    // The preset's mtimecmp (all ones) came from the loader devices: no machine timer pending.
    strictEqual(hal.info().mtimecmp, "0xffffffffffffffff");
    strictEqual(await hal.csr.read(1, CSR.mip), 0n);
  } finally {
    await hal.close();
  }
});

qemuTest(
  "reset(): batches called before it end on the old QEMU, those called during it on the new",
  async () => {
    const hal = await createQemuHal({
      ...QEMU_TEST_TIMEOUTS,
      harts: 2,
      qemu: QEMU_BINARY,
      firmware: "none",
    });
    try {
      // Hart 0 has two writes queued when reset() is called: both still go to the old QEMU.
      const before = [
        hal.csr.write(0, CSR.sscratch, 1n),
        hal.csr.write(0, CSR.sscratch, 2n),
        hal.csr.write(1, CSR.sscratch, 3n),
      ];
      const reset = hal.reset();
      const during = [hal.csr.read(0, CSR.sscratch), hal.csr.write(1, CSR.sscratch, 4n)];
      deepStrictEqual(await Promise.all(before), [0n, 1n, 0n]);
      await reset;
      deepStrictEqual(await Promise.all(during), [0n, 0n], "the new QEMU's reset values");
      deepStrictEqual(
        [await hal.csr.read(0, CSR.sscratch), await hal.csr.read(1, CSR.sscratch)],
        [0n, 4n],
      );
    } finally {
      await hal.close();
    }
  },
);

qemuTest(
  "attach: a running VM is stopped for gdb traffic, resumed on close, never killed",
  async () => {
    // A QEMU this test owns, running a wfi loop on every hart (nothing else runs).
    const qemu = await QemuProcess.spawn({
      binary: QEMU_BINARY,
      harts: 2,
      cpu: "rv64,h=true",
      extraArgs: ["-device", "loader,addr=0x80000000,data=0xffdff06f10500073,data-len=8"],
    });
    const status = async () => {
      const qmp = await QmpClient.connect(
        await connectUnixSocket(qemu.qmpPath, { retryForMs: 2000 }),
      );
      try {
        return (await qmp.execute<{ status: string }>("query-status")).status;
      } finally {
        await qmp.close();
      }
    };
    try {
      const starter = await QmpClient.connect(
        await connectUnixSocket(qemu.qmpPath, { retryForMs: 2000 }),
      );
      await starter.execute("cont");
      await starter.close();
      strictEqual(await status(), "running");
      const hal = await createQemuHal({
        ...QEMU_TEST_TIMEOUTS,
        attach: { qmp: qemu.qmpPath, gdb: qemu.gdbPath },
      });
      try {
        const info = hal.info();
        strictEqual(info.attached, true);
        strictEqual(info.pid, undefined);
        strictEqual(info.firmware, "none");
        strictEqual(info.isa, "rv64imafdch");
        deepStrictEqual(hal.harts, [0, 1]);
        strictEqual(await hal.csr.read(1, CSR.mhartid), 1n);
        await hal.csr.write(1, CSR.sscratch, 0x5an);
        strictEqual(await hal.csr.read(1, CSR.sscratch), 0x5an);
        await rejects(hal.reset(), (e) => e instanceof AxError && e.kind === "Unsupported");
      } finally {
        await hal.close();
      }
      ok(alive(qemu.pid));
      strictEqual(await status(), "running");
    } finally {
      await qemu.stop(0);
    }
    ok(!alive(qemu.pid));
  },
);

qemuTest(
  "QEMU hung: a call times out after timeoutMs, later calls reject, close() still ends it",
  async () => {
    const hal = await createQemuHal({ harts: 2, qemu: QEMU_BINARY, timeoutMs: 300 });
    const pid = hal.info().pid as number;
    Deno.kill(pid, "SIGSTOP");
    const started = performance.now();
    const error = await hal.csr.read(0, CSR.misa).then(() => undefined, (e) => e);
    const took = performance.now() - started;
    ok(error instanceof AxError, String(error));
    strictEqual(error.kind, "Timeout");
    ok(took >= 280 && took < scaled(2000), `timed out after ${took} ms`);
    await rejects(hal.csr.read(0, CSR.misa), (e) => e instanceof AxError && e.kind === "Io");
    await hal.close();
    strictEqual(alive(pid), false);
  },
);

qemuTest("a reset that cannot relaunch QEMU rejects, and later calls say why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rvhv-vanishing-" });
  const wrapper = `${dir}/qemu-system-riscv64`;
  await Deno.writeTextFile(wrapper, `#!/bin/sh\nexec ${QEMU_BINARY} "$@"\n`);
  await Deno.chmod(wrapper, 0o755);
  const hal = await createQemuHal({ ...QEMU_TEST_TIMEOUTS, harts: 2, qemu: wrapper });
  try {
    const pid = hal.info().pid as number;
    await Deno.remove(dir, { recursive: true });
    await rejects(hal.reset(), (e) => e instanceof AxError && e.kind === "NotFound");
    ok(!alive(pid), "the old QEMU was ended before the relaunch");
    await rejects(
      hal.csr.read(0, CSR.misa),
      (e) =>
        e instanceof AxError && e.kind === "Io" &&
        /relaunching QEMU failed: Cannot start QEMU: .* was not found/.test(e.message),
    );
  } finally {
    await hal.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

qemuTest("a failed attach says why and leaves the VM as it was found", async (t) => {
  const qemu = await QemuProcess.spawn({
    binary: QEMU_BINARY,
    harts: 1,
    cpu: "rv64,h=true",
    extraArgs: ["-device", "loader,addr=0x80000000,data=0xffdff06f10500073,data-len=8"],
  });
  const qmpDo = async (command: string) => {
    const qmp = await QmpClient.connect(
      await connectUnixSocket(qemu.qmpPath, { retryForMs: 2000 }),
    );
    try {
      return await qmp.execute<{ status: string }>(command);
    } finally {
      await qmp.close();
    }
  };
  try {
    await t.step("the gdb socket is missing: the running VM is resumed", async () => {
      await qmpDo("cont");
      await rejects(
        createQemuHal({
          attach: { qmp: qemu.qmpPath, gdb: `${qemu.socketDir}/nope.sock` },
          timeoutMs: 200,
        }),
        (e) => e instanceof AxError && e.kind === "Io" && /nope\.sock/.test(e.message),
      );
      strictEqual((await qmpDo("query-status")).status, "running");
    });
    await t.step(
      "another gdb client holds the socket: the time-out names the likely cause",
      async () => {
        // That client's connection alone pauses the VM (QEMU pauses on a gdb connect).
        const other = await connectUnixSocket(qemu.gdbPath, { retryForMs: 2000 });
        try {
          await rejects(
            createQemuHal({ attach: { qmp: qemu.qmpPath, gdb: qemu.gdbPath }, timeoutMs: 300 }),
            (e) =>
              e instanceof AxError && e.kind === "Timeout" &&
              /is another gdb client connected to it\?/.test(e.message),
          );
        } finally {
          other.close();
        }
      },
    );
    ok(alive(qemu.pid), "an attached QEMU is never killed, not even on failure");
  } finally {
    await qemu.stop(0);
  }
});

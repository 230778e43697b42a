import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { AxError } from "../../hal/errors.ts";
import { qemuArguments, QemuProcess } from "./qemu_process.ts";
import { stopAllChildProcesses } from "../../hal/child_processes.ts";

Deno.test("qemuArguments() holds the machine at reset with only the two sockets", () => {
  const args = qemuArguments(
    { binary: "qemu-system-riscv64", harts: 4, cpu: "rv64,h=true" },
    "/tmp/a,b/qmp.sock",
    "/tmp/a,b/gdb.sock",
  );
  const at = (flag: string) => args[args.indexOf(flag) + 1];
  deepStrictEqual(
    [at("-machine"), at("-cpu"), at("-smp"), at("-bios"), at("-display"), at("-accel")],
    ["virt", "rv64,h=true", "4", "none", "none", "tcg,thread=single"],
  );
  for (const flag of ["-S", "-nodefaults"]) ok(args.includes(flag), flag);
  strictEqual(at("-monitor"), "none");
  strictEqual(at("-serial"), "none");
  // Commas in a path are doubled, as QEMU's option syntax wants.
  strictEqual(at("-qmp"), "unix:/tmp/a,,b/qmp.sock,server=on,wait=off");
  strictEqual(at("-gdb"), "unix:/tmp/a,,b/gdb.sock,server=on,wait=off");
  ok(!args.includes("-device"));
  ok(!args.includes("-nographic"), "-nographic would put the monitor on stdio");
});

Deno.test("qemuArguments() programs mtimecmp with one loader device per hart", () => {
  const args = qemuArguments(
    { binary: "q", harts: 2, cpu: "rv64", mtimecmp: -1n, extraArgs: ["-d", "guest_errors"] },
    "/q",
    "/g",
  );
  const devices = args.flatMap((arg, i) => args[i - 1] === "-device" ? [arg] : []);
  deepStrictEqual(devices, [
    "loader,addr=0x2004000,data=0xffffffffffffffff,data-len=8",
    "loader,addr=0x2004008,data=0xffffffffffffffff,data-len=8",
  ]);
  deepStrictEqual(args.slice(-2), ["-d", "guest_errors"]);
});

Deno.test({
  name: "QemuProcess.spawn() of a missing binary rejects NotFound and leaves nothing",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await rejects(
      QemuProcess.spawn({ binary: "/nonexistent/qemu", harts: 1, cpu: "rv64" }),
      (e) => e instanceof AxError && e.kind === "NotFound" && /install it with/.test(e.message),
    );
    await stopAllChildProcesses();
  },
});

Deno.test({
  name: "QemuProcess.stop() reaps a process, keeps its stderr and removes its directory",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rvhv-fake-" });
    try {
      // A stand-in for QEMU that ignores SIGTERM-free waiting: it sleeps until signalled.
      const fake = `${dir}/fake-qemu`;
      await Deno.writeTextFile(fake, `#!/bin/sh\necho started >&2\nexec sleep 30\n`);
      await Deno.chmod(fake, 0o755);
      const process = await QemuProcess.spawn({ binary: fake, harts: 1, cpu: "rv64" });
      strictEqual(process.exitStatus, undefined);
      const status = await process.stop(50);
      strictEqual(status.signal, "SIGTERM");
      strictEqual(process.stderr, "started\n");
      strictEqual(await process.describeExit(), "was killed by SIGTERM: started");
      await rejects(Deno.stat(process.socketDir), Deno.errors.NotFound);
      strictEqual(await process.stop(), status, "stop() is idempotent");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

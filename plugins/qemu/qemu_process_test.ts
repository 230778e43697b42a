import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { AxError } from "../../hal/errors.ts";
import { qemuArguments, type QemuLogging, QemuProcess } from "./qemu_process.ts";
import { stopAllChildProcesses } from "../../hal/child_processes.ts";

Deno.test("qemuArguments() holds the machine at reset with only the session's sockets", () => {
  const args = qemuArguments(
    { binary: "qemu-system-riscv64", harts: 4, cpu: "rv64,h=true" },
    "/tmp/a,b",
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
  strictEqual(at("-gdb"), "unix:/tmp/a,,b/gdb.sock,server=on,wait=off");
  // This program's QMP connection, and a second monitor for the user's tools.
  deepStrictEqual(args.flatMap((arg, i) => args[i - 1] === "-qmp" ? [arg] : []), [
    "unix:/tmp/a,,b/qmp.sock,server=on,wait=off",
    "unix:/tmp/a,,b/qmp-user.sock,server=on,wait=off",
  ]);
  ok(!args.includes("-device"));
  for (const flag of ["-d", "-D", "-trace"]) ok(!args.includes(flag), `no ${flag} unless asked`);
  ok(!args.includes("-nographic"), "-nographic would put the monitor on stdio");
});

Deno.test("qemuArguments() programs mtimecmp with one loader device per hart", () => {
  const args = qemuArguments(
    { binary: "q", harts: 2, cpu: "rv64", mtimecmp: -1n, extraArgs: ["-d", "guest_errors"] },
    "/t",
  );
  const devices = args.flatMap((arg, i) => args[i - 1] === "-device" ? [arg] : []);
  deepStrictEqual(devices, [
    "loader,addr=0x2004000,data=0xffffffffffffffff,data-len=8",
    "loader,addr=0x2004008,data=0xffffffffffffffff,data-len=8",
  ]);
  deepStrictEqual(args.slice(-2), ["-d", "guest_errors"]);
});

Deno.test("qemuArguments() logs to a file of the session folder, qemu.log unless named", () => {
  const log = (logging: QemuLogging) =>
    qemuArguments({ binary: "q", harts: 1, cpu: "rv64", logging }, "/t").slice(-8).join(" ");
  strictEqual(
    log({ items: "int,guest_errors", trace: ["gdbstub_*", "qmp_*"], file: "run.log" }),
    "-d int,guest_errors -D /t/run.log -trace enable=gdbstub_* -trace enable=qmp_*",
  );
  match(log({ trace: ["gdbstub_*"] }), /-D \/t\/qemu\.log -trace enable=gdbstub_\*$/);
  match(log({ items: "int", trace: [] }), /-d int -D \/t\/qemu\.log$/);
  ok(!log({ trace: [] }).includes("-D"), "nothing to log: no log file");
});

Deno.test({
  name: "QemuProcess.stop() keeps QEMU's log and removes the rest of the session folder",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rvhv-fake-" });
    let logDir: string | undefined;
    try {
      // A stand-in for QEMU that writes its -D file and the sockets' files, then waits.
      const fake = `${dir}/fake-qemu`;
      await Deno.writeTextFile(
        fake,
        `#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ "$1" = -D ]; then echo logged > "$2"; ` +
          `touch "$(dirname "$2")/qmp.sock" "$(dirname "$2")/gdb.sock"; fi\n  shift\ndone\n` +
          `exec sleep 30\n`,
      );
      await Deno.chmod(fake, 0o755);
      const process = await QemuProcess.spawn({
        binary: fake,
        harts: 1,
        cpu: "rv64",
        logging: { items: "int", trace: [], file: "run.log" },
      });
      logDir = process.socketDir;
      strictEqual(process.logPath, `${process.socketDir}/run.log`);
      while ((await Deno.stat(process.gdbPath).catch(() => undefined)) === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await process.stop(50);
      strictEqual(await Deno.readTextFile(process.logPath!), "logged\n");
      const left = [];
      for await (const entry of Deno.readDir(process.socketDir)) left.push(entry.name);
      deepStrictEqual(left, ["run.log"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
      if (logDir !== undefined) await Deno.remove(logDir, { recursive: true });
    }
  },
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

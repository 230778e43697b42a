import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { AxError } from "../../hal/errors.ts";
import { parseIsa } from "../../hal/isa.ts";
import { cpuArgument, parseQemuArgs, parseQemuOptions, withQemuArgs } from "./options.ts";

function rejectsAt(raw: unknown, path: string[], message: RegExp): void {
  throws(
    () => parseQemuOptions(raw),
    (e: unknown) => {
      deepStrictEqual((e as { path?: string[] }).path, path);
      return e instanceof TypeError && message.test(e.message);
    },
  );
}

Deno.test("parseQemuOptions() fills in the defaults", () => {
  const options = parseQemuOptions(undefined);
  strictEqual(options.harts, 1);
  strictEqual(options.isa.text, "rv64imafdch");
  strictEqual(options.isaGiven, false);
  strictEqual(options.firmware, undefined);
  strictEqual(options.access, "debugger");
  strictEqual(options.timeoutMs, 2000);
  strictEqual(options.bootTimeoutMs, 20_000);
  strictEqual(options.attach, undefined);
  strictEqual(options.cpu, "rv64,i=true,m=true,a=true,f=true,d=true,c=true,v=false,h=true");
  strictEqual(typeof options.qemu, "string");
});

Deno.test("parseQemuOptions() takes every option", () => {
  const options = parseQemuOptions({
    harts: 64,
    isa: "rv64imac_sstc_zicsr",
    firmware: "opensbi-1.6",
    qemu: "/opt/qemu/bin/qemu-system-riscv64",
    cpuProps: { sscofpmf: true, "x-smaia": false },
    attach: { qmp: "/run/q.sock", gdb: "/run/g.sock" },
    timeoutMs: 500,
  });
  deepStrictEqual(
    [options.harts, options.firmware, options.qemu, options.timeoutMs, options.attach],
    [64, "opensbi-1.6", "/opt/qemu/bin/qemu-system-riscv64", 500, {
      qmp: "/run/q.sock",
      gdb: "/run/g.sock",
    }],
  );
  strictEqual(
    options.cpu,
    "rv64,i=true,m=true,a=true,f=false,d=false,c=true,v=false,h=false,sstc=true,Zicsr=true,sscofpmf=true,x-smaia=false",
  );
  deepStrictEqual(parseQemuOptions({ cpuProps: ["vlen=256"] }).cpuProps, ["vlen=256"]);
});

Deno.test("parseQemuOptions() rejects bad options with their key path", () => {
  rejectsAt({ harts: 0 }, ["harts"], /from 1 to 512, got number 0/);
  rejectsAt({ harts: 513 }, ["harts"], /from 1 to 512/);
  rejectsAt({ isa: ["rv64imafdch", "rv64imafdc"] }, ["isa"], /QEMU gives every hart the same -cpu/);
  rejectsAt({ isa: "rv32imac" }, ["isa"], /only RV64/);
  rejectsAt({ firmware: "uboot" }, ["firmware"], /expected one of "none", "opensbi"/);
  rejectsAt({ access: "gdb" }, ["access"], /expected one of "debugger", "native"/);
  rejectsAt({ access: "native", firmware: "opensbi" }, ["firmware"], /real OpenSBI .* leave out/);
  rejectsAt(
    { access: "native", attach: { qmp: "/q", gdb: "/g" } },
    ["attach"],
    /cannot attach to a running one/,
  );
  rejectsAt({ bootTimeoutMs: 0 }, ["bootTimeoutMs"], /from 1 to 600000/);
  rejectsAt({ qemu: "" }, ["qemu"], /path or name of the QEMU binary/);
  rejectsAt({ cpuProps: ["sscofpmf"] }, ["cpuProps", "0"], /"name=value"/);
  rejectsAt({ cpuProps: { "a,b": true } }, ["cpuProps", "a,b"], /not a valid -cpu property/);
  rejectsAt({ attach: { qmp: "/q.sock" } }, ["attach"], /missing option "gdb" in "attach"/);
  rejectsAt({ attach: { qmp: "/q.sock", gdb: "" } }, ["attach", "gdb"], /gdb unix socket/);
  rejectsAt({ cpuProps: { sscofpmf: 1.5 } }, ["cpuProps", "sscofpmf"], /a string, an integer/);
  rejectsAt({ harts: 4, hart: 2 }, ["hart"], /unknown option "hart" \(did you mean "harts"\?\)/);
  rejectsAt({ attach: { qmp: "/q", gdb: "/g", tcp: 1 } }, ["attach", "tcp"], /unknown option/);
  rejectsAt({ timeoutMs: -1 }, ["timeoutMs"], /from 1 to 600000/);
  rejectsAt({ profile: "qemu-7.2" }, ["profile"], /unknown option "profile"/);
});

Deno.test("parseQemuOptions() takes native access without a firmware", () => {
  const options = parseQemuOptions({ harts: 4, access: "native", bootTimeoutMs: 5000 });
  deepStrictEqual(
    [options.access, options.firmware, options.bootTimeoutMs],
    ["native", undefined, 5000],
  );
});

Deno.test("cpuArgument() sets every letter QEMU has a property for, explicitly", () => {
  strictEqual(
    cpuArgument(parseIsa("rv64gc")),
    "rv64,i=true,m=true,a=true,f=true,d=true,c=true,v=false,h=false,Zicsr=true,Zifencei=true",
  );
  // Extensions QEMU 7.2 always has get no property.
  strictEqual(
    cpuArgument(parseIsa("rv64imafdch_zicntr_zihpm"), ["pmp=false"]),
    "rv64,i=true,m=true,a=true,f=true,d=true,c=true,v=false,h=true,pmp=false",
  );
});

Deno.test("parseQemuArgs() takes -d, -D and -trace, as separate words or with their value", () => {
  deepStrictEqual(
    parseQemuArgs(["-d", "int", "-d guest_errors,trace:gdbstub_*", "-D", "run.log", "-trace"]
      .concat(["enable=qmp_*", "-trace gdbstub_io_*"])),
    {
      items: "int,guest_errors,trace:gdbstub_*",
      trace: ["qmp_*", "gdbstub_io_*"],
      file: "run.log",
    },
  );
  deepStrictEqual(parseQemuArgs([]), { trace: [] });
});

Deno.test("parseQemuArgs() refuses anything outside the allow-list, naming what it takes", () => {
  const refused = (words: string[], message: RegExp) =>
    throws(
      () => parseQemuArgs(words),
      (e: unknown) => e instanceof AxError && e.kind === "InvalidInput" && message.test(e.message),
    );
  const allowList = /takes only -d <items>, -D <file> and -trace <pattern>/;
  refused(["-monitor", "stdio"], allowList);
  refused(["-device", "loader,file=/etc/passwd"], allowList);
  refused(["int"], allowList);
  refused(["-d"], /-d without its value: write -d <items>/);
  refused(["-d", "-D", "x.log"], /-d without its value/);
  refused(["-d", "int;rm"], /expected log items/);
  refused(["-d", "help"], /expected log items/);
  refused(["-trace", "file=/tmp/x"], /expected an event pattern/);
  refused(["-trace", "events=/etc/passwd"], /expected an event pattern/);
  // The log file is a plain name in the session's folder: no path, and none of its sockets.
  for (
    const file of ["../x.log", "/tmp/x.log", "a/b.log", ".hidden", "gdb.sock", "qmp-user.sock"]
  ) {
    refused(["-D", file], /expected a plain file name .* in the session's own folder/);
  }
  refused(["-D", "a.log", "-D", "b.log"], /-D twice/);
});

Deno.test("withQemuArgs() adds the logging, and refuses a QEMU it attaches to", () => {
  const options = withQemuArgs(parseQemuOptions({ harts: 2 }), ["-d", "int"]);
  deepStrictEqual(options.logging, { items: "int", trace: [] });
  strictEqual(options.harts, 2);
  strictEqual(parseQemuOptions({}).logging, undefined);
  throws(
    () => withQemuArgs(parseQemuOptions({ attach: { qmp: "/q", gdb: "/g" } }), ["-d", "int"]),
    (e: unknown) =>
      e instanceof AxError && /attached QEMU: it was started elsewhere/.test(e.message),
  );
});

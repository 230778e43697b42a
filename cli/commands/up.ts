/**
 * `up`: boot a manifest, set up (and enable) every hart, print what each
 * hart kept, then restore and close.
 *
 * @module
 */

import { bootForCli } from "../boot.ts";
import { readManifestArg } from "../manifest_arg.ts";
import { describePolicy } from "../../percpu/policy.ts";
import { type Command, EXIT } from "../io.ts";
import { defineCommand } from "../command_line.ts";
import { accessPaths, writeHartTable, writeUpJson } from "./_report.ts";
import { shareHeld } from "./_hold.ts";
import { nextInterrupt, signalExitCode } from "../signals.ts";

const HELP = `Usage: rvhv up <manifest> [--json] [--no-enable] [--hold]

Boots the manifest's backend, runs the per-CPU hypervisor set-up on every
hart (probe for H, keep the prior values, the policy's nine operations in the
reference's order, read back), enables the harts, and prints per hart: state,
H, hedeleg, hideleg, hvip, hcounteren, sie, and the bits the hart refused.
On the QEMU backend a "via" column says how each hart's values were produced:
"native" (the hart executed the CSR instructions itself, in HS-mode under the
real OpenSBI: access: native) or "debugger" (gdbstub writes from outside).
On exit every enabled hart is disabled (prior values restored) and the
backend is closed.

Options:
  --json        print JSON (one object with a "harts" list) instead of a table
  --no-enable   set the harts up but leave them initialized
  --hold        keep the system up after printing until SIGINT or SIGTERM,
                then restore and close; on QEMU, print how to reach it (its
                QMP and gdb sockets) and leave the gdbstub to your own gdb
  -h, --help    show this help

Exit codes: 0 ok, 1 a hart cannot be set up (e.g. no H extension),
2 usage or manifest error, 3 backend failure.

Example:
  npx -y deno@2.9.6 run --allow-read=examples --allow-env=LOG_TOKENS,LOG_STREAM \\
    cli/main.ts up examples/emulator.yaml
`;

/** The `up` command. */
export const upCommand: Command = defineCommand({
  name: "up",
  summary: "set up every hart of a manifest and print the CSRs each kept",
  help: HELP,
  options: {
    "no-enable": { type: "boolean", default: false },
    hold: { type: "boolean", default: false },
  },
  takes: "manifest",
  async run({ values, path, trust }, io): Promise<number> {
    const manifest = await readManifestArg(path, io.stdin);
    io.err(`rvhv: booting ${manifest.file} (backend ${manifest.backend.plugin})\n`);
    const system = await bootForCli(manifest, { ...trust, noEnable: values["no-enable"] });
    // A held system ended by a signal exits as the signal says (130, 143).
    let ended: number = EXIT.ok;
    try {
      const info = system.hal.info();
      const access = typeof info.access === "string" ? ` (${info.access} access)` : "";
      io.err(
        `rvhv: ${info.backend} ${info.profile ?? ""} ${info.firmware ?? ""}${access}, ` +
          `${system.hal.harts.length} hart(s); policy ${describePolicy(system.percpus.policy)}\n`,
      );
      const via = accessPaths(system.hal);
      // Both forms stream: a machine of 65,536 harts is never held as text.
      const out = (text: string) => io.out(text);
      if (values.json) {
        writeUpJson(info, system.percpus.policy.name, system.percpus, via, out);
      } else {
        writeHartTable(system.percpus, via, out);
      }
      if (values.hold) {
        io.err("rvhv: holding the system up; SIGINT or SIGTERM restores and closes it\n");
        await shareHeld(system.hal, io);
        const signal = await nextInterrupt();
        io.err(`rvhv: ${signal}: closing\n`);
        ended = signalExitCode(signal);
      }
    } finally {
      await system.close();
      io.err(
        `rvhv: closed (${
          system.vcpus.length > 0 ? "vCPUs unbound, " : ""
        }enabled harts disabled, prior values restored)\n`,
      );
    }
    return ended;
  },
});

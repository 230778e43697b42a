/**
 * `route`: boot a manifest and print, per hart, where each exception and
 * interrupt goes from each origin mode (M, HS or VS), and where it ends up
 * after the firmware's redirect.
 *
 * @module
 */

import { hex } from "../../hal/hex.ts";
import { causeNumber, Exception, Interrupt } from "../../hal/trap_bits.ts";
import { bootForCli } from "../boot.ts";
import { readManifestArg } from "../manifest_arg.ts";
import {
  describeRoutes,
  firmwareModel,
  readDelegation,
  type RouteRow,
  type RoutesDescription,
  type RouteTableOptions,
} from "../../routing/route_table.ts";
import {
  type DelegationCsrs,
  TRAP_ORIGINS,
  type TrapOrigin,
  type TrapRoute,
} from "../../routing/route_trap.ts";
import { type Command, EXIT, renderTable, UsageError } from "../io.ts";
import { defineCommand } from "../command_line.ts";

const HELP =
  `Usage: rvhv route <manifest> [--hart N] [--cause N|NAME] [--from MODE] [--interrupt|--exception] [--json]

Boots the manifest (set-up and enable as it says), reads medeleg, mideleg,
hedeleg and hideleg from each hart and prints where each trap goes, by the
privileged spec's delegation rules: rows are exceptions 0-23 and the standard
interrupts, columns the origin modes U, HS, VU, VS (and M with --from M).

A cell is the mode whose handler runs:
  HS        delivered to HS-mode
  VS:5      delivered to VS-mode, which sees cause 5 (VS interrupts 10/6/2 -> 9/5/1)
  M>VS      delivered to M-mode; the firmware (OpenSBI) redirects it to VS-mode
  (VS)      the interrupt is not taken in that mode (it stays pending)
  -         the exception is not raised in that mode (or the cause is reserved)
With both --cause and --from, each route is printed with its reasons.

Options:
  --hart N          only hart N (default: every hart; harts with equal CSRs share a table)
  --cause N|NAME    only cause N (exception and interrupt), or a cause name
  --from MODE       only origin MODE: U, HS, VU, VS or M
  --interrupt       only interrupts
  --exception       only exceptions
  --json            print JSON (one object with a "harts" list)
  -h, --help        show this help

Exit codes: 0 ok, 1 a hart cannot be set up (e.g. no H extension),
2 usage or manifest error, 3 backend failure.

Example:
  npx -y deno@2.9.6 run --allow-read=examples --allow-env=LOG_TOKENS,LOG_STREAM \\
    cli/main.ts route examples/emulator.yaml --from VU
`;

function parseHart(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const hart = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(hart)) {
    throw new UsageError(`--hart needs a hart id, got "${text}"`);
  }
  return hart;
}

function parseOrigin(text: string | undefined): TrapOrigin | undefined {
  if (text === undefined) return undefined;
  const upper = text.toUpperCase();
  const origin = TRAP_ORIGINS.find((o) => o === upper);
  if (origin === undefined) {
    throw new UsageError(`--from needs one of ${TRAP_ORIGINS.join(", ")}, got "${text}"`);
  }
  return origin;
}

/** A cause number, and the kind a name implies. */
function parseCause(text: string | undefined): { cause?: number; interrupt?: boolean } {
  if (text === undefined) return {};
  if (/^\d+$/.test(text)) {
    const cause = Number(text);
    if (cause > 63) throw new UsageError(`--cause needs a cause from 0 to 63, got ${text}`);
    return { cause };
  }
  const exception = causeNumber(text, "exception");
  if (exception !== undefined) return { cause: exception, interrupt: false };
  const interrupt = causeNumber(text, "interrupt");
  if (interrupt !== undefined) return { cause: interrupt, interrupt: true };
  const names = [...Object.keys(Exception), ...Object.keys(Interrupt)].slice(0, 3).join(", ");
  throw new UsageError(`--cause needs a number or a cause name (such as ${names}), got "${text}"`);
}

/**
 * One grid cell: `HS`, `VS:5` (the cause VS-mode sees), `M>VS` (redirected),
 * `(X)` (an interrupt not taken there), `-` (not raised there).
 */
function cell(row: RouteRow, route: TrapRoute): string {
  if (!route.arises) return "-";
  let text: string = route.effective.destination === route.destination
    ? route.destination
    : `${route.destination}>${route.effective.destination}`;
  if (row.interrupt && route.cause !== row.cause) text += `:${route.cause}`;
  return route.taken ? text : `(${text})`;
}

function header(harts: readonly number[], view: RoutesDescription): string {
  const who = harts.length === 1 ? `hart ${harts[0]}` : `harts ${harts.join(", ")}`;
  const { medeleg, mideleg, hedeleg, hideleg } = view.csrs;
  return `${who}: medeleg ${medeleg}  mideleg ${mideleg}  hedeleg ${hedeleg}  hideleg ${hideleg}` +
    `  firmware ${view.firmware}\n`;
}

function renderGrid(view: RoutesDescription): string {
  const headers = ["kind", "cause", "name", ...view.origins];
  const rows = view.rows.map((row) => [
    row.interrupt ? "int" : "exc",
    String(row.cause),
    row.name,
    ...view.origins.map((from) => cell(row, row.routes[from]!)),
  ]);
  return renderTable(headers, rows);
}

function renderDetail(view: RoutesDescription): string {
  const lines: string[] = [];
  for (const row of view.rows) {
    for (const from of view.origins) {
      const route = row.routes[from]!;
      const kind = row.interrupt ? "interrupt" : "exception";
      lines.push(`${kind} ${row.cause} (${row.name}) from ${from}:`);
      lines.push(`  hardware:  ${route.destination} sees cause ${route.cause}: ${route.reason}`);
      lines.push(
        `  effective: ${route.effective.destination} sees cause ${route.effective.cause}: ` +
          route.effective.reason,
      );
      if (row.interrupt) {
        lines.push(`  taken from ${from}: ${route.taken ? "yes" : "no"}`);
      } else if (!route.arises) {
        lines.push(`  raised in ${from}: no`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** The `route` command. */
export const routeCommand: Command = defineCommand({
  name: "route",
  summary: "print where each exception and interrupt goes (M, HS or VS) from each mode",
  help: HELP,
  options: {
    hart: { type: "string" },
    cause: { type: "string" },
    from: { type: "string" },
    interrupt: { type: "boolean", default: false },
    exception: { type: "boolean", default: false },
  },
  takes: "manifest",
  async run({ values, path: manifestPath, trust }, io): Promise<number> {
    if (values.interrupt && values.exception) {
      throw new UsageError("--interrupt and --exception exclude each other");
    }
    const only = parseHart(values.hart);
    const from = parseOrigin(values.from);
    const picked = parseCause(values.cause);
    const kind = values.interrupt ? true : values.exception ? false : picked.interrupt;
    const manifest = await readManifestArg(manifestPath, io.stdin);
    io.err(`rvhv: booting ${manifest.file} (backend ${manifest.backend.plugin})\n`);
    const system = await bootForCli(manifest, trust);
    try {
      const harts = system.percpus.harts;
      if (only !== undefined && !harts.includes(only)) {
        throw new UsageError(`--hart ${only}: the system has harts ${harts.join(", ")}`);
      }
      const options: RouteTableOptions = {
        firmware: firmwareModel(system.hal.info()),
        origins: from === undefined ? TRAP_ORIGINS.filter((o) => o !== "M") : [from],
        ...(picked.cause === undefined ? {} : { cause: picked.cause }),
        ...(kind === undefined ? {} : { interrupt: kind }),
      };
      const views: RoutesDescription[] = [];
      const groups = new Map<string, { harts: number[]; view: RoutesDescription }>();
      for (const hart of only === undefined ? harts : [only]) {
        const csrs: DelegationCsrs = await readDelegation(system.hal, hart);
        const view = describeRoutes(hart, csrs, options);
        views.push(view);
        const key = [csrs.medeleg, csrs.mideleg, csrs.hedeleg, csrs.hideleg].map(hex).join("/");
        const group = groups.get(key);
        if (group === undefined) groups.set(key, { harts: [hart], view });
        else group.harts.push(hart);
      }
      if (values.json) {
        io.out(JSON.stringify({ backend: system.hal.info(), harts: views }, null, 2) + "\n");
      } else {
        const detail = picked.cause !== undefined && from !== undefined;
        const blocks = [...groups.values()].map(({ harts, view }) =>
          header(harts, view) + (detail ? renderDetail(view) : renderGrid(view))
        );
        io.out(blocks.join("\n"));
        if (!detail) {
          io.err(
            "rvhv: A>B: delivered to A, redirected by the firmware to B; VS:N: VS-mode sees cause N; " +
              "(X): not taken in that mode; -: not raised in that mode\n",
          );
        }
      }
    } finally {
      await system.close();
    }
    return EXIT.ok;
  },
});

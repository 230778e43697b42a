/**
 * `diff`: compare two traces event by event, or two manifests' live CSRs.
 *
 * @module
 */

import { ALL_ONES } from "../../hal/csr_fields.ts";
import { ManifestError } from "../../hal/errors.ts";
import { hex } from "../../hal/hex.ts";
import type { BootOptions, System } from "../../manifest/boot.ts";
import { bootForCli, forSeveral } from "../boot.ts";
import { readManifestArg } from "../manifest_arg.ts";
import type { Manifest } from "../../manifest/schema.ts";
import { manifestError } from "../../manifest/source.ts";
import { profileForQemu } from "../../plugins/emulator/mod.ts";
import { diffStates, diffTraces, type TraceSide } from "../../trace/diff.ts";
import { describeEvent } from "../../trace/format.ts";
import { csrHex, TRACE_FORMAT } from "../../trace/format.ts";
import { type CliIo, type Command, EXIT, renderTable, UsageError } from "../io.ts";
import { defineCommand } from "../command_line.ts";
import { describeBackend, eventJson, groupedRows, hartRanges, resultText } from "./_report.ts";
import {
  compareBackends,
  type ComparedValue,
  type CompareRow,
} from "../../percpu/compare_backends.ts";

const HELP = `Usage: rvhv diff <a> <b> [--json] [--lookahead N]
       rvhv diff --compare <manifest> <manifest> [<manifest>...] [--json]

Compares two traces, or two manifests, or (--compare, implied by three or more
manifests) several manifests side by side.

Two traces: event by event in per-hart order (harts interleaved differently
are not a difference). Prints the first event where they part, with both
sides, and per CSR how many accesses are the same, changed, or only in one
trace (the nth access of a hart to a CSR is paired with the other's nth).

Two manifests: boots both (set-up and enable, as "up" does), reads the live
CSRs of every hart both have (medeleg, mideleg, hstatus, hedeleg, hideleg,
hvip, hcounteren, hgatp, sie, vsie) and prints the values that differ, e.g.
the spec profile against qemu-7.2, or the arceos policy against kvm. Both
systems are then disabled and closed.

An emulator manifest against a QEMU manifest: QEMU is booted first, and an
emulator "profile: auto" becomes the profile that models the connected QEMU's
version (qemu-7.2 or qemu-10.0; the nearest, with a warning, for a version
no profile models). A manifest that names a QEMU profile of another version
than the connected QEMU gets a warning on stderr.

Side by side (--compare): boots every manifest (set-up and enable), then
prints per hart the set-up's CSRs (hedeleg, hideleg, hvip & 0x444,
hcounteren, sie) and the delegation (mideleg, medeleg) of every system in its
own column, each value with the path that produced it: "native" (the hart
executed the instruction: QEMU with access: native), "debugger" (the
gdbstub, with the VM stopped), or the backend's name (emulator, replay).
Firmware-owned state (mstatus, mtvec, PMP, counter enables, ...) is listed
only where it differs, as environment: it is not a difference, since a
debugger-written model has no firmware that set it. E.g. native vs debugger
vs emulator:
  rvhv diff native.yaml debugger.yaml emulator.yaml

Options:
  --compare        side by side, any number of manifests (two or more)
  --json           print JSON instead of text
  --lookahead N    traces: how many unmatched events may be held (default 65536)
  -h, --help       show this help

Exit codes: 0 no difference, 1 a difference (environment does not count),
2 usage error (a trace against a manifest), a malformed trace or a manifest
error, 3 backend failure.
`;

/** Whether a file is an rvhv trace (its first line is a trace header). */
async function isTrace(path: string): Promise<boolean> {
  let text: string;
  try {
    using file = await Deno.open(path);
    const buffer = new Uint8Array(64 * 1024);
    const n = await file.read(buffer);
    text = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const first = text.split("\n", 1)[0]!.trim();
  if (!first.startsWith("{")) return false;
  try {
    return JSON.parse(first)?.format === TRACE_FORMAT;
  } catch {
    // A header cut by the 64 KiB read, or a JSON-style manifest: decide on the text.
    return first.includes(`"format":"${TRACE_FORMAT}"`);
  }
}

function sideText(label: string, side: TraceSide): string {
  const harts = side.header.harts;
  return `${label}: ${side.file}  ${describeBackend(side.header.info)}, ` +
    `harts ${harts.length > 4 ? `${harts[0]}-${harts.at(-1)}` : harts.join(", ")}, ` +
    `${side.events} events\n`;
}

async function diffTraceFiles(
  a: string,
  b: string,
  json: boolean,
  lookahead: number | undefined,
  io: CliIo,
): Promise<number> {
  const diff = await diffTraces(a, b, lookahead === undefined ? {} : { lookahead });
  if (json) {
    io.out(
      JSON.stringify(
        {
          kind: "traces",
          equal: diff.equal,
          a: { file: diff.a.file, events: diff.a.events, header: diff.a.header },
          b: { file: diff.b.file, events: diff.b.events, header: diff.b.header },
          header: diff.header,
          first: diff.first === undefined ? null : {
            hart: diff.first.hart,
            a: diff.first.a === undefined ? null : eventJson(diff.first.a),
            b: diff.first.b === undefined ? null : eventJson(diff.first.b),
          },
          csrs: diff.csrs.map((c) => ({ ...c, num: csrHex(c.num) })),
        },
        null,
        2,
      ) + "\n",
    );
    return diff.equal ? EXIT.ok : EXIT.check;
  }
  let text = sideText("a", diff.a) + sideText("b", diff.b);
  if (diff.header.length > 0) text += `headers differ in: ${diff.header.join(", ")}\n`;
  if (diff.first !== undefined) {
    const { hart, a: eventA, b: eventB } = diff.first;
    const side = (label: string, event: typeof eventA) =>
      event === undefined
        ? `  ${label}: no more events for hart ${hart}\n`
        : `  ${label} event ${event.i} (line ${event.line}): ${describeEvent(event)}\n`;
    text += `\nfirst difference, hart ${hart}:\n${side("a", eventA)}${side("b", eventB)}\n`;
  } else {
    text += "\n";
  }
  text += renderTable(
    ["csr", "a", "b", "same", "changed", "only-a", "only-b"],
    diff.csrs.map((c) => [
      c.csr,
      String(c.a),
      String(c.b),
      String(c.same),
      String(c.changed),
      String(c.onlyA),
      String(c.onlyB),
    ]),
  );
  text += diff.equal ? "\nthe traces are equal\n" : "\nthe traces differ\n";
  io.out(text);
  return diff.equal ? EXIT.ok : EXIT.check;
}

/** An emulator manifest's `profile` option as written (`undefined` when absent). */
function profileOption(manifest: Manifest): unknown {
  const options = manifest.backend.options;
  return options !== null && typeof options === "object"
    ? (options as Record<string, unknown>).profile
    : undefined;
}

/** A manifest with its emulator profile replaced (errors still point into the original). */
function withProfile(manifest: Manifest, profile: string): Manifest {
  const options = { ...(manifest.backend.options as Record<string, unknown>), profile };
  return Object.freeze({
    ...manifest,
    backend: Object.freeze({ ...manifest.backend, options }),
  });
}

/** Boots a manifest rewritten from `original`, reporting manifest errors at the original's lines. */
async function bootRewritten(
  original: Manifest,
  rewritten: Manifest,
  trust: BootOptions,
): Promise<System> {
  try {
    return await bootForCli(rewritten, trust);
  } catch (error) {
    if (error instanceof ManifestError && error.line === 0 && rewritten !== original) {
      throw manifestError(original, error.path, error.detail, error.cause);
    }
    throw error;
  }
}

/**
 * Boots two manifests. For an emulator manifest against a QEMU manifest,
 * QEMU goes first: its version resolves the emulator's `profile: auto`, and
 * a named QEMU profile of another version is warned about.
 */
async function bootPair(
  manifests: readonly [Manifest, Manifest],
  warnings: string[],
  trust: BootOptions,
): Promise<[System, System]> {
  const plugins = manifests.map((m) => m.backend.plugin);
  const emulatorSide = plugins[0] === "emulator" && plugins[1] === "qemu"
    ? 0
    : plugins[0] === "qemu" && plugins[1] === "emulator"
    ? 1
    : undefined;
  if (emulatorSide === undefined) {
    const first = await bootForCli(manifests[0], trust);
    try {
      return [first, await bootForCli(manifests[1], trust)];
    } catch (error) {
      await first.close();
      throw error;
    }
  }
  const emulator = manifests[emulatorSide]!;
  const qemu = await bootForCli(manifests[1 - emulatorSide]!, trust);
  try {
    const info = qemu.hal.info();
    const named = profileOption(emulator);
    let rewritten = emulator;
    const match = profileForQemu(named, info);
    if (match.warning !== undefined) warnings.push(match.warning);
    if (match.profile !== undefined) rewritten = withProfile(emulator, match.profile);
    if (match.mismatch !== undefined) {
      warnings.push(
        `${emulator.file} names profile ${named}, but ${
          manifests[1 - emulatorSide]!.file
        } runs QEMU ${info.version}, which ${match.mismatch} models: the differences include ` +
          `the versions' own (use "profile: auto" to compare like with like)`,
      );
    }
    const booted = await bootRewritten(emulator, rewritten, trust);
    return emulatorSide === 0 ? [booted, qemu] : [qemu, booted];
  } catch (error) {
    await qemu.close();
    throw error;
  }
}

async function diffManifests(
  a: string,
  b: string,
  json: boolean,
  trust: BootOptions,
  io: CliIo,
): Promise<number> {
  const manifestA = await readManifestArg(a, io.stdin);
  const manifestB = await readManifestArg(b, io.stdin);
  const options = forSeveral([manifestA, manifestB], trust);
  io.err(`rvhv: booting ${manifestA.file} and ${manifestB.file}\n`);
  const warnings: string[] = [];
  const [systemA, systemB] = await bootPair([manifestA, manifestB], warnings, options);
  for (const warning of warnings) io.err(`rvhv: warning: ${warning}\n`);
  try {
    const diff = await diffStates(systemA, systemB);
    if (json) {
      io.out(
        JSON.stringify(
          {
            kind: "states",
            equal: diff.equal,
            a: { file: a, backend: systemA.hal.info(), policy: systemA.percpus.policy.name },
            b: { file: b, backend: systemB.hal.info(), policy: systemB.percpus.policy.name },
            warnings,
            onlyA: diff.onlyA,
            onlyB: diff.onlyB,
            harts: diff.harts.map((hart) => ({
              hart: hart.hart,
              equal: hart.equal,
              csrs: Object.fromEntries(
                hart.csrs.map((c) => [c.csr, {
                  a: resultText(c.a),
                  b: resultText(c.b),
                  equal: c.equal,
                }]),
              ),
            })),
          },
          null,
          2,
        ) + "\n",
      );
      return diff.equal ? EXIT.ok : EXIT.check;
    }
    const describe = (label: string, file: string, system: System) =>
      `${label}: ${file}  ${describeBackend(system.hal.info())}, ${system.hal.harts.length} ` +
      `hart(s), policy ${system.percpus.policy.name}\n`;
    let text = describe("a", a, systemA) + describe("b", b, systemB) + "\n";
    const differing = diff.harts.map((hart) => hart.csrs.filter((c) => !c.equal));
    const rows = groupedRows(
      new Map(
        diff.harts.map((hart, i) => [
          hart.hart,
          differing[i]!.map((c) => [
            c.csr,
            resultText(c.a),
            resultText(c.b),
            c.a.ok && c.b.ok ? hex(c.a.value ^ c.b.value) : "-",
          ]),
        ]),
      ),
    );
    if (rows.length > 0) text += renderTable(["harts", "csr", "a", "b", "xor"], rows);
    if (diff.onlyA.length > 0) text += `harts only in a: ${hartRanges(diff.onlyA)}\n`;
    if (diff.onlyB.length > 0) text += `harts only in b: ${hartRanges(diff.onlyB)}\n`;
    const compared = diff.harts.reduce((n, hart) => n + hart.csrs.length, 0);
    text += diff.equal
      ? `the live CSRs are equal (${compared} values on ${diff.harts.length} harts)\n`
      : `\n${differing.reduce((n, d) => n + d.length, 0)} of ${compared} CSR values differ\n`;
    io.out(text);
    return diff.equal ? EXIT.ok : EXIT.check;
  } finally {
    await Promise.allSettled([systemA.close(), systemB.close()]);
  }
}

function valueText(value: ComparedValue): string {
  const text = value.ok
    ? hex(value.value)
    : "missing" in value
    ? "not modelled"
    : `trap ${value.trapCause}`;
  return `${text} (${value.via})`;
}

async function compareManifests(
  paths: readonly string[],
  json: boolean,
  trust: BootOptions,
  io: CliIo,
): Promise<number> {
  const manifests = [];
  for (const path of paths) manifests.push(await readManifestArg(path, io.stdin));
  const options = forSeveral(manifests, trust);
  io.err(`rvhv: booting ${manifests.map((m) => m.file).join(", ")}\n`);
  const systems: System[] = [];
  try {
    for (const manifest of manifests) systems.push(await bootForCli(manifest, options));
    const labels = paths.map((_, i) => String.fromCharCode(97 + i));
    const report = await compareBackends(
      systems.map((system, i) => ({ label: labels[i]!, hal: system.hal })),
    );
    if (json) {
      io.out(
        JSON.stringify(
          {
            kind: "compare",
            equal: report.equal,
            columns: systems.map((system, i) => ({
              label: labels[i],
              file: paths[i],
              backend: system.hal.info(),
              policy: system.percpus.policy.name,
            })),
            rows: report.rows.map((row) => ({
              hart: row.hart,
              csr: row.csr,
              kind: row.kind,
              ...(row.mask === ALL_ONES ? {} : { mask: hex(row.mask) }),
              equal: row.equal,
              values: row.values.map((value) => ({
                ...(value.ok
                  ? { value: hex(value.value) }
                  : "missing" in value
                  ? { missing: value.missing }
                  : { trap: value.trapCause }),
                via: value.via,
              })),
            })),
          },
          null,
          2,
        ) + "\n",
      );
      return report.equal ? EXIT.ok : EXIT.check;
    }
    let text = systems.map((system, i) =>
      `${labels[i]}: ${paths[i]}  ${describeBackend(system.hal.info())}, ` +
      `${system.hal.harts.length} hart(s), policy ${system.percpus.policy.name}\n`
    ).join("") + "\n";
    const cells = (row: CompareRow) => [
      String(row.hart),
      row.mask === ALL_ONES ? row.csr : `${row.csr} & ${hex(row.mask)}`,
      ...row.values.map(valueText),
      row.equal ? "same" : row.kind === "environment" ? "environment" : "DIFFERS",
    ];
    text += renderTable(
      ["hart", "csr", ...labels, ""],
      report.rows.filter((row) =>
        row.kind !== "environment"
      ).map(cells),
    );
    if (report.environment.length > 0) {
      text += "\nenvironment (firmware-owned state; reported, not a difference):\n";
      text += renderTable(["hart", "csr", ...labels, ""], report.environment.map(cells));
    }
    const compared = report.rows.filter((row) => row.kind !== "environment").length;
    text += report.equal
      ? `\nthe set-up and delegation agree (${compared} values on ${
        new Set(report.rows.map((r) => r.hart)).size
      } harts)\n`
      : `\n${report.differences.length} of ${compared} set-up and delegation values differ\n`;
    io.out(text);
    return report.equal ? EXIT.ok : EXIT.check;
  } finally {
    await Promise.allSettled(systems.map((system) => system.close()));
  }
}

/** The `diff` command. */
export const diffCommand: Command = defineCommand({
  name: "diff",
  summary: "compare two traces (first difference, per-CSR summary) or two manifests' live CSRs",
  help: HELP,
  options: {
    compare: { type: "boolean", default: false },
    lookahead: { type: "string" },
  },
  takes: "paths",
  async run({ values, positionals, trust }, io): Promise<number> {
    if (values.compare || positionals.length > 2) {
      if (positionals.length < 2) {
        throw new UsageError("diff --compare takes two or more manifests");
      }
      for (const path of positionals) {
        if (await isTrace(path)) {
          throw new UsageError(`diff --compare takes manifests, and ${path} is a trace`);
        }
      }
      return await compareManifests(positionals, values.json, trust, io);
    }
    if (positionals.length !== 2) throw new UsageError("diff takes exactly two paths");
    let lookahead: number | undefined;
    if (values.lookahead !== undefined) {
      lookahead = Number(values.lookahead);
      if (!Number.isSafeInteger(lookahead) || lookahead < 1) {
        throw new UsageError(`--lookahead needs a positive integer, got "${values.lookahead}"`);
      }
    }
    const [a, b] = positionals as [string, string];
    const [traceA, traceB] = [await isTrace(a), await isTrace(b)];
    if (traceA !== traceB) {
      throw new UsageError(
        `cannot compare a trace with a manifest: ${traceA ? a : b} is a trace, ` +
          `${traceA ? b : a} is not; give two traces or two manifests`,
      );
    }
    if (traceA && trust.qemuArgs !== undefined) {
      throw new UsageError("--qemu-arg is for booting manifests; diff of two traces boots none");
    }
    return traceA
      ? await diffTraceFiles(a, b, values.json, lookahead, io)
      : await diffManifests(a, b, values.json, trust, io);
  },
});

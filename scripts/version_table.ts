#!/usr/bin/env -S deno run --allow-read=. --allow-write=docs --allow-run=deno
/**
 * Generates the tables of `docs/qemu-versions.md` from the emulator's QEMU
 * profiles themselves (not by hand), so they cannot go stale: a short
 * summary of what the per-CPU set-up meets first, the named
 * behaviours of each version, every probe whose read-back differs between
 * `qemu-7.2` and `qemu-10.0` (with the behaviours that explain it, found by
 * switching one behaviour at a time), the translation and vector modes each
 * accepts, the per-CPU set-up's outcome on each, and the firmware presets.
 * The profiles are checked bit for bit against the real binaries by
 * `tests/differential/qemu_test.ts`.
 *
 * The generated parts sit between `<!-- generated:NAME -->` and
 * `<!-- end generated:NAME -->` markers; the prose around them is written
 * by hand. `tests/versions/version_table_test.ts` fails when the committed
 * file differs from what this script generates now.
 *
 * The document is then formatted with `deno fmt` (so `deno task check`
 * accepts it as written), which is why the script runs `deno`.
 *
 * ```sh
 * npx -y deno@2.9.6 task version-table   # rewrites docs/qemu-versions.md
 * npx -y deno@2.9.6 run --allow-read=. --allow-run=deno scripts/version_table.ts --check   # exit 1 when stale
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ALL_ONES, VS_INTERRUPTS } from "../hal/csr_fields.ts";
import { CSR, type CsrName } from "../hal/csr_numbers.ts";
import { FIRMWARE_PRESETS, resolveFirmware } from "../hal/firmware.ts";
import { hex } from "../hal/hex.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { EmulatorHal } from "../plugins/emulator/emulator_hal.ts";
import { EmulatorMachine } from "../plugins/emulator/machine.ts";
import { parseEmulatorOptions } from "../plugins/emulator/options.ts";
import { createQemuProfile } from "../plugins/emulator/qemu_profile.ts";
import {
  QEMU_BEHAVIOURS,
  QEMU_CHECKED_CSRS,
  QEMU_CHECKED_EXTRA_CSRS,
  type QemuBehaviourName,
  type QemuBehaviours,
  type QemuModel,
} from "../plugins/emulator/qemu_model.ts";
import { QEMU_7_2_MODEL } from "../plugins/emulator/qemu_7_2_profile.ts";
import { QEMU_10_0_MODEL } from "../plugins/emulator/qemu_10_0_profile.ts";

/** The document the tables live in, relative to the repository root. */
export const DOC_PATH = "docs/qemu-versions.md";

/** The files with generated sections, and which sections each holds. */
export const GENERATED_FILES: readonly { path: string; sections: readonly string[] }[] = [
  { path: DOC_PATH, sections: ["summary", "behaviours", "probes", "modes", "setup", "firmware"] },
];

/** The repository root. */
const ROOT = new URL("../", import.meta.url);

/** The versions compared, oldest first. */
export const MODELS: readonly QemuModel[] = [QEMU_7_2_MODEL, QEMU_10_0_MODEL];

/** One probe: writes on a fresh hart, then one read. */
export interface Probe {
  /** What the row says, e.g. "hedeleg ← ~0". */
  readonly label: string;
  /** Writes, in order, each a full `csrrw`. */
  readonly writes: readonly (readonly [CsrName, bigint])[];
  /** The CSR read at the end. */
  readonly read: CsrName;
  /** The hart's ISA. Default `rv64imafdch`. */
  readonly isa?: string;
  /** The firmware preset (`opensbi` is the version's own). Default `none`. */
  readonly firmware?: "none" | "opensbi";
}

const NO_H = "rv64imafdc";

/** How a value is written in a label. */
function show(value: bigint): string {
  return value === ALL_ONES ? "~0" : hex(value);
}

/** The read-back probes both binaries were measured with: reset, all ones, then zero. */
function readBackProbes(names: readonly CsrName[]): Probe[] {
  return names.flatMap((name): Probe[] => [
    { label: `${name} (reset)`, writes: [], read: name },
    { label: `${name} ← ~0`, writes: [[name, ALL_ONES]], read: name },
    { label: `${name} ← ~0, then ← 0`, writes: [[name, ALL_ONES], [name, 0n]], read: name },
  ]);
}

/** One probe: `target ← value` after the setup writes (named in the label). */
function after(
  setup: readonly (readonly [CsrName, bigint])[],
  target: CsrName,
  value: bigint | undefined,
  read: CsrName = target,
  extra: Partial<Probe> = {},
): Probe {
  const writes = value === undefined ? [...setup] : [...setup, [target, value] as const];
  const context = setup.map(([name, v]) => `${name} ← ${show(v)}`);
  const main = value === undefined ? "" : `${target} ← ${show(value)}`;
  const head = [...context, main].filter(Boolean).join(", ");
  const notes = [extra.isa === NO_H ? "no H" : "", extra.firmware ?? ""].filter(Boolean);
  const label = (read === target && value !== undefined ? head : `${head}: ${read}`)
    .replace(/^: /, "") + (notes.length > 0 ? ` (${notes.join(", ")})` : "");
  return { label, writes, read, ...extra };
}

/**
 * Every CSR the differential test checks against QEMU, less those whose
 * address says read-only (bits 11:10 = 0b11: writing them traps).
 */
const READ_BACK_CSRS: readonly CsrName[] = [...QEMU_CHECKED_CSRS, ...QEMU_CHECKED_EXTRA_CSRS]
  .filter((name) => CSR[name] >> 10 !== 0b11);

const SV39 = 8n << 60n;
const LOW_60 = ALL_ONES >> 4n;

/** Every probe, in the order of the table. */
export const PROBES: readonly Probe[] = [
  ...readBackProbes(READ_BACK_CSRS),
  // Interrupt CSRs under delegation.
  ...(["sie", "sip", "vsie", "vsip", "hie", "hip", "hvip"] as const).flatMap((name) => [
    after([["mideleg", ALL_ONES]], name, ALL_ONES),
    after([["hideleg", ALL_ONES]], name, ALL_ONES),
    after([["mideleg", ALL_ONES], ["hideleg", ALL_ONES]], name, ALL_ONES),
  ]),
  // Follow-ups where "write ~0" alone says little.
  after([], "hgatp", SV39 | LOW_60),
  after([], "hgatp", (9n << 60n) | LOW_60),
  after([], "hgatp", LOW_60),
  after([], "vsatp", SV39 | LOW_60),
  after([], "satp", SV39 | LOW_60),
  after([], "vstvec", ALL_ONES - 3n),
  after([], "vstvec", ALL_ONES - 2n),
  after([["menvcfg", ALL_ONES]], "henvcfg", ALL_ONES),
  after([["menvcfg", 0n]], "henvcfg", ALL_ONES),
  after([], "mstatus", (1n << 11n) | (1n << 39n) | (1n << 38n)),
  after([], "hstatus", 1n << 24n),
  after([], "mcounteren", 0xffff_ffffn),
  after([], "hvip", 0x80n),
  after([], "hideleg", 0x2000n),
  // The follow-ups probed for this document.
  after([["mideleg", 0x222n], ["sip", 0x2n]], "hvip", undefined),
  after([], "hvip", 1n << 13n),
  after([], "hvip", ALL_ONES & ~0x1fffn),
  after([["hideleg", ALL_ONES], ["hvip", 0x40n]], "vsip", undefined),
  after([["hideleg", ALL_ONES], ["hvip", 0x400n]], "vsip", undefined),
  after([["stimecmp", 0n], ["mideleg", 0x222n], ["menvcfg", 1n << 63n]], "sip", undefined),
  after([["henvcfg", ALL_ONES], ["menvcfg", 0n], ["menvcfg", ALL_ONES]], "henvcfg", undefined),
  after([], "mstatus", 0x100000000n),
  after([], "mstatus", 0x300000000n),
  after([], "mstatus", 0x400000000n),
  after([], "mstatus", 2n << 11n),
  after([["mstatus", (1n << 34n) | (3n << 13n)]], "sstatus", undefined),
  after([], "mstatus", 3n << 9n),
  after([], "vsstatus", 0x300000000n),
  after([], "vsstatus", 1n << 24n),
  after([["vstimecmp", 0x100n], ["htimedelta", 0x100n]], "hip", undefined),
  after([["hvip", 0x40n], ["vstimecmp", ALL_ONES]], "hip", undefined),
  after([], "medeleg", 1n << 18n),
  after([], "medeleg", 1n << 11n),
  after([], "hedeleg", 1n << 18n),
  after([], "mie", 1n << 13n),
  after([], "mie", 1n << 16n),
  // Harts without H.
  after([], "vstimecmp", undefined, "vstimecmp", { isa: NO_H }),
  after([], "mie", ALL_ONES, "mie", { isa: NO_H }),
  after([], "mideleg", ALL_ONES, "mideleg", { isa: NO_H }),
  after([], "medeleg", ALL_ONES, "medeleg", { isa: NO_H }),
  // Under the version's OpenSBI.
  ...(["medeleg", "mideleg", "hvip", "mip", "menvcfg"] as const).map((name) =>
    after([], name, undefined, name, { firmware: "opensbi" })
  ),
  after([], "medeleg", undefined, "medeleg", { firmware: "opensbi", isa: NO_H }),
];

/** Builds a one-hart machine of a model (any behaviours) with a probe's ISA and firmware. */
function machineOf(model: QemuModel, probe: Pick<Probe, "isa" | "firmware">): EmulatorMachine {
  const options = parseEmulatorOptions({
    harts: 1,
    isa: probe.isa ?? "rv64imafdch",
    profile: model.name,
    firmware: probe.firmware ?? "none",
  });
  return new EmulatorMachine(options, createQemuProfile(model));
}

/**
 * Runs a probe on a fresh hart of a model.
 *
 * @param model The version (or a variant with some behaviours switched).
 * @param probe The probe.
 * @returns The value read, as hex, or `trap <cause>`.
 */
export function runProbe(model: QemuModel, probe: Probe): string {
  const machine = machineOf(model, probe);
  for (const [name, value] of probe.writes) machine.execute(0, CSR[name], value, ALL_ONES);
  const value = machine.execute(0, CSR[probe.read], 0n, 0n);
  return value === undefined ? `trap ${machine.trapCause}` : hex(value);
}

/** A model with one behaviour taken from another model. */
function withBehaviour(
  model: QemuModel,
  name: QemuBehaviourName,
  from: QemuModel,
): QemuModel {
  const behaviours = { ...model.behaviours, [name]: from.behaviours[name] } as QemuBehaviours;
  return { ...model, behaviours };
}

/** One probe whose read-back differs between the versions. */
export interface ProbeDifference {
  /** The probe. */
  readonly probe: Probe;
  /** The read-back per version, in {@linkcode MODELS} order. */
  readonly values: readonly string[];
  /** The behaviours that explain it: switching one alone changes the read-back. */
  readonly because: readonly QemuBehaviourName[];
}

const BEHAVIOUR_NAMES = Object.keys(QEMU_BEHAVIOURS) as QemuBehaviourName[];

/**
 * Every probe whose read-back differs between qemu-7.2 and qemu-10.0, with
 * the behaviours that explain it (a behaviour explains a probe when giving
 * one version the other's value of that behaviour alone changes the
 * probe's read-back).
 *
 * @returns The differences, in probe order.
 */
export function probeDifferences(): ProbeDifference[] {
  const [older, newer] = MODELS as [QemuModel, QemuModel];
  const out: ProbeDifference[] = [];
  for (const probe of PROBES) {
    const values = [runProbe(older, probe), runProbe(newer, probe)];
    if (values[0] === values[1]) continue;
    const because = BEHAVIOUR_NAMES.filter((name) =>
      runProbe(withBehaviour(newer, name, older), probe) !== values[1] ||
      runProbe(withBehaviour(older, name, newer), probe) !== values[0]
    );
    out.push({ probe, values, because });
  }
  return out;
}

/** The MODE values (0–15) an atp CSR keeps with every other bit set; the rest drop the write. */
function acceptedAtpModes(model: QemuModel, csr: CsrName): number[] {
  const modes: number[] = [];
  for (let mode = 0n; mode < 16n; mode++) {
    const value = (mode << 60n) | LOW_60;
    if (runProbe(model, { label: "", writes: [[csr, value]], read: csr }) === hex(value)) {
      modes.push(Number(mode));
    }
  }
  return modes;
}

/** The tvec modes (0–3) a tvec CSR keeps. */
function acceptedTvecModes(model: QemuModel, csr: CsrName): number[] {
  return [0n, 1n, 2n, 3n].filter((mode) => {
    const value = 0x8000_0100n | mode;
    return runProbe(model, { label: "", writes: [[csr, value]], read: csr }) === hex(value);
  }).map(Number);
}

const ATP_MODE_NAMES: Readonly<Record<number, string>> = {
  0: "Bare",
  8: "Sv39",
  9: "Sv48",
  10: "Sv57",
};

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
  return lines.join("\n") + "\n";
}

function behaviourValue(value: unknown): string {
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "bigint") return value === ALL_ONES ? "all ones" : hex(value);
  return String(value);
}

/** The behaviours table: one row per named behaviour. */
function behavioursSection(): string {
  const rows = BEHAVIOUR_NAMES.map((name) => {
    const doc = QEMU_BEHAVIOURS[name];
    return [
      `\`${name}\``,
      doc.csrs.join(", "),
      ...MODELS.map((model) => behaviourValue(model.behaviours[name])),
      `${doc.summary}. **For a hypervisor:** ${doc.matters}.`,
    ];
  });
  return table(["behaviour", "CSRs", ...MODELS.map((m) => m.name), "what it is"], rows);
}

/** The probes table: every read-back that differs, and why. */
function probesSection(): string {
  const differences = probeDifferences();
  const rows = differences.map(({ probe, values, because }) => [
    probe.label,
    ...values,
    because.length === 0 ? "(several together)" : because.map((b) => `\`${b}\``).join(", "),
  ]);
  return `${differences.length} of ${PROBES.length} probes read back differently. Each starts ` +
    "from a fresh hart (M-mode, firmware `none` unless the row says `opensbi`), does the " +
    "writes in order and reads the last CSR named.\n\n" +
    table(["probe", ...MODELS.map((m) => m.name), "because"], rows);
}

/** Which modes each version accepts. */
function modesSection(): string {
  const atp = (["hgatp", "vsatp", "satp"] as const).map((csr) => [
    `${csr} MODE`,
    ...MODELS.map((model) => {
      const modes = acceptedAtpModes(model, csr);
      return modes.length === 16
        ? "any (0–15): every write is stored"
        : modes.map((m) => `${m} (${ATP_MODE_NAMES[m] ?? "?"})`).join(", ") +
          "; any other drops the whole write";
    }),
  ]);
  const tvec = (["vstvec", "stvec", "mtvec"] as const).map((csr) => [
    `${csr} mode`,
    ...MODELS.map((model) => {
      const modes = acceptedTvecModes(model, csr);
      return modes.length === 4
        ? "any (0–3): every write is stored"
        : `${modes.join(", ")} (direct, vectored); 2 and 3 drop the whole write`;
    }),
  ]);
  return table(["field", ...MODELS.map((m) => m.name)], [...atp, ...tvec]);
}

/** The per-CPU set-up (arceos policy) on 2 harts of each version, per firmware. */
async function setupSection(): Promise<string> {
  const columns: { head: string; kept: Map<string, string> }[] = [];
  for (const model of MODELS) {
    for (const firmware of ["none", "opensbi"] as const) {
      const hal = new EmulatorHal(parseEmulatorOptions({
        harts: 2,
        profile: model.name,
        firmware,
      }));
      const set = await PerCpuSet.init(hal);
      await set.enableAll();
      const kept = new Map<string, string>();
      for (const entry of set.get(1).csrReport()) {
        kept.set(
          entry.name,
          entry.refused === 0n
            ? hex(entry.kept)
            : `${hex(entry.kept)} (refused ${hex(entry.refused)})`,
        );
      }
      for (const name of ["mideleg", "medeleg", "mip"] as const) {
        kept.set(name, hex(await hal.csr.read(1, CSR[name])));
      }
      await set.disableAll();
      await hal.close();
      columns.push({ head: `${model.name}, ${hal.info().firmware}`, kept });
    }
  }
  const names = [...columns[0]!.kept.keys()];
  return table(
    ["CSR", ...columns.map((c) => c.head)],
    names.map((name) => [name, ...columns.map((c) => c.kept.get(name)!)]),
  );
}

/** The firmware presets each version's `opensbi` stands for. */
function firmwareSection(): string {
  const rows = MODELS.map((model) => {
    const preset = resolveFirmware("opensbi", model.opensbi);
    const value = (hasH: boolean, csr: number) =>
      hex(preset.writes(hasH).find((w) => w.csr === csr)!.value);
    return [
      model.name,
      `\`${preset.name}\``,
      value(true, CSR.medeleg),
      value(false, CSR.medeleg),
      value(true, CSR.mideleg),
      preset.mtimecmp === undefined ? "reset (0)" : show(preset.mtimecmp),
    ];
  });
  const presets = [...FIRMWARE_PRESETS.keys()].map((n) => `\`${n}\``).join(", ");
  return table(
    ["profile", "`opensbi` is", "medeleg (H)", "medeleg (no H)", "mideleg", "mtimecmp"],
    rows,
  ) + `\nPresets: ${presets}; \`opensbi\` means the version that ships with the profile's ` +
    "QEMU, or, on the QEMU backend, with the connected QEMU (7.x → 1.1, ≥ 9 → 1.6).\n";
}

/** The short table at the top: the differences a hypervisor's set-up meets first. */
function summarySection(): string {
  const probes: Probe[] = [
    after([], "hedeleg", 0xb10dn),
    after([], "hideleg", VS_INTERRUPTS),
    after([], "hcounteren", ALL_ONES),
    after([], "hvip", undefined),
    after([], "medeleg", undefined, "medeleg", { firmware: "opensbi" }),
    after([], "hedeleg", ALL_ONES),
    after([], "hideleg", ALL_ONES),
    after([], "hgatp", ALL_ONES),
    after([], "vstvec", ALL_ONES),
    after([], "mideleg", undefined),
  ];
  return table(
    ["probe (fresh hart; firmware none unless named)", ...MODELS.map((m) => m.name)],
    probes.map((probe) => [probe.label, ...MODELS.map((model) => runProbe(model, probe))]),
  );
}

/** Every generated section, by marker name. */
export async function generateSections(): Promise<Map<string, string>> {
  return new Map([
    ["summary", summarySection()],
    ["behaviours", behavioursSection()],
    ["probes", probesSection()],
    ["modes", modesSection()],
    ["setup", await setupSection()],
    ["firmware", firmwareSection()],
  ]);
}

/**
 * Replaces generated sections of a document with what the profiles say now.
 *
 * @param text The document.
 * @param sections The sections, from {@linkcode generateSections}.
 * @param names Which sections the document holds (default: all of `sections`).
 * @param path The document's name, for errors.
 * @returns The updated document.
 * @throws {Error} When a section's markers are missing.
 */
export function updateDoc(
  text: string,
  sections: ReadonlyMap<string, string>,
  names: readonly string[] = [...sections.keys()],
  path: string = DOC_PATH,
): string {
  let out = text;
  for (const name of names) {
    const body = sections.get(name) ?? "";
    const begin = `<!-- generated:${name} -->\n`;
    const end = `<!-- end generated:${name} -->`;
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) {
      throw new Error(`Cannot update ${path}: the markers of section "${name}" are missing`);
    }
    out = out.slice(0, from + begin.length) + body + out.slice(to);
  }
  return out;
}

/**
 * Formats Markdown as `deno fmt` does in this repository (its `deno.json`).
 *
 * @param text The document.
 * @returns The formatted document.
 */
export async function formatMarkdown(text: string): Promise<string> {
  // By name, not Deno.execPath(): `--allow-run=deno` (the task's grant) is
  // matched against "deno" looked up on PATH, which may be a link to the
  // binary that runs this script (npx's is).
  const child = new Deno.Command("deno", {
    args: ["fmt", "--ext", "md", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`Cannot format ${DOC_PATH}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Every file with generated sections as it should be: its sections
 * regenerated, then formatted.
 *
 * @returns Per path: the text as it is and as it should be.
 */
export async function regenerateAll(): Promise<{ path: string; now: string; wanted: string }[]> {
  const sections = await generateSections();
  const out = [];
  for (const { path, sections: names } of GENERATED_FILES) {
    const now = await Deno.readTextFile(new URL(path, ROOT));
    out.push({ path, now, wanted: await formatMarkdown(updateDoc(now, sections, names, path)) });
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { check: { type: "boolean", default: false } },
    strict: true,
  });
  let stale = false;
  for (const { path, now, wanted } of await regenerateAll()) {
    if (wanted === now) {
      console.log(`${path}: up to date`);
    } else if (values.check) {
      console.error(`${path} is stale: run "deno task version-table"`);
      stale = true;
    } else {
      await Deno.writeTextFile(new URL(path, ROOT), wanted);
      console.log(`${path}: tables regenerated`);
    }
  }
  if (stale) Deno.exit(1);
}

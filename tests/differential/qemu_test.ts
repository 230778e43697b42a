/**
 * Each QEMU profile against its real QEMU, bit for bit: `qemu-7.2` against
 * QEMU 7.2 and `qemu-10.0` against QEMU 10.0 (the version matrix; the
 * binaries come from `tests/_helpers/qemu.ts`).
 *
 * A seeded sequence (all ones, zero, walking ones, random 64-bit values from
 * a fixed seed) is written to every CSR of the issue's list on 2 harts of
 * real QEMU and of the emulator, same firmware preset, same order; each write
 * is read back and every old value and read-back must be identical. The
 * sequence runs twice per preset (the second pass meets the random state
 * the first left behind: delegation, envcfg, …). A coupled pass then writes
 * random values to the CSRs that feed each other and reads every view after
 * each write. Finally the reference set-up under `opensbi` must end in the
 * same state on both.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { ALL_ONES } from "../../hal/csr_fields.ts";
import { CSR, type CsrName, csrName } from "../../hal/csr_numbers.ts";
import type { FirmwareName } from "../../hal/firmware.ts";
import { hex } from "../../hal/hex.ts";
import type { AxVCpuHal, CsrNum, CsrOp, CsrResult, HartId } from "../../hal/types.ts";
import { PerCpuSet } from "../../percpu/percpu_set.ts";
import { createEmulatorHal } from "../../plugins/emulator/mod.ts";
import { QEMU_CHECKED_CSRS, QEMU_CHECKED_EXTRA_CSRS } from "../../plugins/emulator/qemu_model.ts";
import { createQemuHal, type QemuHal } from "../../plugins/qemu/mod.ts";
import {
  QEMU_TARGETS,
  QEMU_TEST_TIMEOUTS,
  qemuStatus,
  type QemuTarget,
  qemuTest,
} from "../_helpers/qemu.ts";

/** The issue's list, in its order. */
const LISTED: readonly CsrName[] = QEMU_CHECKED_CSRS;

/** More CSRs the profile models, checked the same way. */
const EXTRAS: readonly CsrName[] = QEMU_CHECKED_EXTRA_CSRS;

const HARTS: readonly HartId[] = [0, 1];
const RANDOM_PER_CSR = 16;
const SEED = 0x7276_6876_2d71_6d75n; // "rvhv-qmu"

/** splitmix64: a fixed, portable sequence of 64-bit values. */
function* splitmix64(seed: bigint): Generator<bigint, never> {
  let state = seed & ALL_ONES;
  for (;;) {
    state = (state + 0x9e3779b97f4a7c15n) & ALL_ONES;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & ALL_ONES;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & ALL_ONES;
    yield z ^ (z >> 31n);
  }
}

/** The values written to one CSR: all ones, zero, walking ones, then random ones. */
function sequenceFor(random: Generator<bigint, never>): bigint[] {
  const values = [ALL_ONES, 0n];
  for (let bit = 0n; bit < 64n; bit++) values.push(1n << bit);
  for (let i = 0; i < RANDOM_PER_CSR; i++) values.push(random.next().value);
  return values;
}

/** Per hart, per CSR: write each value and read it back. */
function plan(csrs: readonly CsrName[], seed: bigint): Map<HartId, [CsrNum, CsrOp[]][]> {
  const out = new Map<HartId, [CsrNum, CsrOp[]][]>();
  for (const hart of HARTS) {
    const random = splitmix64(seed + BigInt(hart));
    out.set(
      hart,
      csrs.map((name) => {
        const csr = CSR[name];
        const ops: CsrOp[] = [];
        for (const value of sequenceFor(random)) {
          ops.push({ op: "write", csr, value }, { op: "read", csr });
        }
        return [csr, ops];
      }),
    );
  }
  return out;
}

function show(result: CsrResult | undefined): string {
  if (result === undefined) return "nothing";
  return result.ok ? hex(result.value) : `trap ${result.trapCause}`;
}

/**
 * Runs the plan on both backends, in the same order (hart by hart, CSR by
 * CSR, one batch per CSR), and lists every difference.
 */
async function differences(
  qemu: AxVCpuHal,
  emulator: AxVCpuHal,
  work: Map<HartId, [CsrNum, CsrOp[]][]>,
): Promise<string[]> {
  const found: string[] = [];
  for (const hart of HARTS) {
    for (const [csr, ops] of work.get(hart)!) {
      const actual = await qemu.csr.batch(hart, ops);
      const expected = await emulator.csr.batch(hart, ops);
      for (let i = 0; i < ops.length; i += 2) {
        const op = ops[i] as { value: bigint };
        const [oldE, readE] = [expected[i], expected[i + 1]];
        const [oldQ, readQ] = [actual[i], actual[i + 1]];
        if (show(oldE) !== show(oldQ) || show(readE) !== show(readQ)) {
          found.push(
            `hart ${hart} ${csrName(csr)} <- ${hex(op.value)}: ` +
              `QEMU old ${show(oldQ)} read ${show(readQ)}; ` +
              `emulator old ${show(oldE)} read ${show(readE)}`,
          );
        }
      }
    }
  }
  return found;
}

function report(found: readonly string[], target: QemuTarget): string {
  const shown = found.slice(0, 40).join("\n  ");
  return `${found.length} differences between QEMU ${target.version} and the ${target.profile} profile:\n  ${shown}${
    found.length > 40 ? `\n  … and ${found.length - 40} more` : ""
  }`;
}

/**
 * Runs `body` on a QEMU of the target's version and an emulator with its
 * profile (same harts, ISA, firmware), and closes both whatever happens.
 */
async function withBothBackends(
  target: QemuTarget,
  firmware: FirmwareName,
  isa: string,
  body: (qemu: QemuHal, emulator: AxVCpuHal) => Promise<void>,
): Promise<void> {
  if (!qemuStatus(target).available) {
    throw new Error(
      `The differential test needs QEMU ${target.version}: ${qemuStatus(target).reason}`,
    );
  }
  const qemu = await createQemuHal({
    ...QEMU_TEST_TIMEOUTS,
    harts: HARTS.length,
    qemu: target.binary,
    firmware,
    isa,
  });
  try {
    strictEqual(qemu.info().profile, target.profile, "the QEMU backend names the matching profile");
    const emulator = await createEmulatorHal({
      harts: HARTS.length,
      profile: target.profile,
      firmware,
      isa,
    });
    try {
      await body(qemu, emulator);
    } finally {
      await emulator.close();
    }
  } finally {
    await qemu.close();
  }
}

/** CSRs of the lists that cannot be written (their address says read-only, or QEMU ignores writes). */
const READ_ONLY: readonly CsrName[] = ["misa", "mhartid", "mconfigptr", "hgeip"];

/** CSRs whose values feed each other: delegation, enables, pending views, timers, envcfg. */
const COUPLED: readonly CsrName[] = [
  "mideleg",
  "hideleg",
  "mie",
  "sie",
  "hie",
  "vsie",
  "mip",
  "sip",
  "hip",
  "hvip",
  "vsip",
  "menvcfg",
  "henvcfg",
  "stimecmp",
  "vstimecmp",
  "htimedelta",
  "hstatus",
  "mstatus",
  "sstatus",
  "vsstatus",
];

/** Interesting values for the coupled CSRs: all ones, zero, single bits, bit groups, random. */
function coupledValue(random: Generator<bigint, never>): bigint {
  const r = random.next().value;
  switch (Number(r & 7n)) {
    case 0:
      return ALL_ONES;
    case 1:
      return 0n;
    case 2:
      return 1n << ((r >> 8n) & 63n);
    case 3:
      return (r >> 8n) & 0x3fffn; // the interrupt bits
    case 4:
      return (r >> 8n) & 0xffn; // small timer values around time = 0
    default:
      return random.next().value;
  }
}

/**
 * One hart, both backends: `steps` random writes to `writes`, each followed
 * by a read of every CSR in `views`; returns every read that differs.
 */
async function coupledWalk(
  qemu: AxVCpuHal,
  emulator: AxVCpuHal,
  hart: HartId,
  walk: { writes: readonly CsrName[]; views: readonly CsrName[]; steps: number; seed: bigint },
): Promise<string[]> {
  const { writes, views } = walk;
  const random = splitmix64(walk.seed);
  const ops: CsrOp[] = [];
  const steps: string[] = [];
  for (let step = 0; step < walk.steps; step++) {
    const name = writes[Number(random.next().value % BigInt(writes.length))]!;
    const value = coupledValue(random);
    ops.push({ op: "write", csr: CSR[name], value });
    steps.push(`${name} <- ${hex(value)}`);
    for (const view of views) ops.push({ op: "read", csr: CSR[view] });
  }
  const [onQemu, onEmulator] = [
    await qemu.csr.batch(hart, ops),
    await emulator.csr.batch(hart, ops),
  ];
  const width = views.length + 1;
  const found: string[] = [];
  for (let i = 0; i < ops.length; i++) {
    if (show(onQemu[i]) === show(onEmulator[i])) continue;
    const step = Math.floor(i / width);
    const what = i % width === 0 ? "old value" : `then ${views[(i % width) - 1]}`;
    found.push(
      `hart ${hart} step ${step} ${steps[step]}: ${what}: QEMU ${show(onQemu[i])}, emulator ${
        show(onEmulator[i])
      }`,
    );
  }
  return found;
}

/** Registers every differential test for one QEMU version and its profile. */
function registerDifferentialTests(target: QemuTarget): void {
  const { profile, version } = target;
  for (const firmware of ["none", "opensbi"] as const) {
    qemuTest(
      `${profile} profile equals QEMU ${version} bit for bit: listed CSRs, firmware ${firmware}`,
      async (t) => {
        await withBothBackends(target, firmware, "rv64imafdch", async (qemu, emulator) => {
          strictEqual(qemu.info().firmware, emulator.info().firmware);
          for (const pass of [1, 2]) {
            await t.step(`pass ${pass}`, async () => {
              const found = await differences(
                qemu,
                emulator,
                plan(LISTED, SEED + BigInt(pass) * 0x1000n),
              );
              deepStrictEqual(found, [], report(found, target));
            });
          }
          await t.step("extra CSRs", async () => {
            const found = await differences(qemu, emulator, plan(EXTRAS, SEED ^ 0xe0n));
            deepStrictEqual(found, [], report(found, target));
          });
          await t.step("listed CSRs again, after the extras", async () => {
            const found = await differences(qemu, emulator, plan(LISTED, SEED + 3n));
            deepStrictEqual(found, [], report(found, target));
          });
        });
      },
      target,
    );
  }

  qemuTest(
    `${profile} profile equals QEMU ${version} on harts without H (h=false): traps included`,
    async () => {
      await withBothBackends(target, "opensbi", "rv64imafdc", async (qemu, emulator) => {
        strictEqual(qemu.info().h, false);
        const found = [
          ...await differences(qemu, emulator, plan(LISTED, SEED ^ 0x4eedn)),
          ...await differences(qemu, emulator, plan(EXTRAS, SEED ^ 0x4eeen)),
        ];
        deepStrictEqual(found, [], report(found, target));
        // Every H and VS CSR traps on both.
        for (const name of ["hedeleg", "hgatp", "vsatp", "hvip"] as const) {
          deepStrictEqual(await qemu.csr.batch(0, [{ op: "read", csr: CSR[name] }]), [
            { ok: false, trapCause: 2 },
          ]);
        }
      });
    },
    target,
  );

  for (
    const [firmware, isa] of [
      ["none", "rv64imafdch"],
      ["opensbi", "rv64imafdch"],
      ["opensbi", "rv64imafdc"],
      ["opensbi", `rv64imafdch_${target.extraExtensions.join("_")}`],
    ] as const
  ) {
    qemuTest(
      `${profile} profile equals QEMU ${version} on coupled CSRs: every view read after each write, firmware ${firmware}, ${isa}`,
      async () => {
        await withBothBackends(target, firmware, isa, async (qemu, emulator) => {
          const found: string[] = [];
          for (const hart of HARTS) {
            found.push(
              ...await coupledWalk(qemu, emulator, hart, {
                writes: COUPLED,
                views: COUPLED,
                steps: 1000,
                seed: SEED ^ (0xc0de0000n + BigInt(hart)),
              }),
            );
          }
          deepStrictEqual(found, [], report(found, target));
        });
      },
      target,
    );
  }

  for (
    const [firmware, isa] of [
      ["none", "rv64imafdch"],
      ["opensbi", "rv64imafdc"],
    ] as const
  ) {
    qemuTest(
      `${profile} profile equals QEMU ${version} with every CSR coupled: all of them read after each random write, firmware ${firmware}, ${isa}`,
      async () => {
        await withBothBackends(target, firmware, isa, async (qemu, emulator) => {
          const all = [...LISTED, ...EXTRAS];
          const found = await coupledWalk(qemu, emulator, 1, {
            writes: all.filter((name) => !READ_ONLY.includes(name)),
            views: all,
            steps: 400,
            seed: SEED ^ 0xa11c5n,
          });
          deepStrictEqual(found, [], report(found, target));
        });
      },
      target,
    );
  }

  qemuTest(
    `the reference set-up under opensbi ends identical on QEMU ${version} and ${profile}`,
    async () => {
      await withBothBackends(target, "opensbi", "rv64imafdch", async (qemu, emulator) => {
        const sets = [await PerCpuSet.init(qemu), await PerCpuSet.init(emulator)];
        for (const set of sets) await set.enableAll();
        const names = [...LISTED, "mstatus", "sstatus", "vsstatus", "hstatus"] as CsrName[];
        const dump = async (hal: AxVCpuHal) => {
          const out: string[] = [];
          for (const hart of HARTS) {
            const results = await hal.csr.batch(
              hart,
              names.map((name): CsrOp => ({ op: "read", csr: CSR[name] })),
            );
            results.forEach((r, i) => out.push(`hart ${hart} ${names[i]} ${show(r)}`));
          }
          return out;
        };
        const [onQemu, onEmulator] = [await dump(qemu), await dump(emulator)];
        deepStrictEqual(onQemu, onEmulator);
        for (const hart of HARTS) {
          strictEqual(await qemu.csr.read(hart, CSR.hedeleg), 0xb10dn);
          strictEqual(await qemu.csr.read(hart, CSR.hideleg), 0x444n);
          deepStrictEqual(
            sets[0]!.get(hart).csrReport(),
            sets[1]!.get(hart).csrReport(),
            `hart ${hart}: csrReport()`,
          );
        }
        // Disabling restores the same priors on both.
        for (const set of sets) await set.disableAll();
        deepStrictEqual(await dump(qemu), await dump(emulator));
      });
    },
    target,
  );
}

for (const target of QEMU_TARGETS) registerDifferentialTests(target);

/**
 * No accidental drift between the QEMU profiles: both are driven through the
 * same probes (scripts/version_table.ts) and must differ exactly where the
 * table below says, with exactly these values. The table is every read-back
 * difference measured on QEMU 7.2.22 and 10.0.13 over the gdbstub, from
 * M-mode on harts held at reset, with the probes of scripts/version_table.ts
 * (docs/qemu-versions.md shows them). A profile change that makes the
 * versions differ somewhere new, or agree where they should not, fails here;
 * the differential test (tests/differential/qemu_test.ts) is what ties each
 * profile to its binary.
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import { QEMU_BEHAVIOURS, type QemuBehaviourName } from "../../plugins/emulator/qemu_model.ts";
import { QEMU_7_2_MODEL } from "../../plugins/emulator/qemu_7_2_profile.ts";
import { QEMU_10_0_MODEL } from "../../plugins/emulator/qemu_10_0_profile.ts";
import { probeDifferences, PROBES, runProbe } from "../../scripts/version_table.ts";

/** [probe, QEMU 7.2 read-back, QEMU 10.0 read-back]: every place the versions differ. */
const EXPECTED_DIFFERENCES: readonly (readonly [string, string, string])[] = [
  // the hypervisor CSRs and their M/S neighbours: reset, ~0, then 0
  ["hedeleg ← ~0", "0xb1ff", "0x4b1ff"],
  ["hideleg ← ~0", "0x444", "0xffffffffffff0444"],
  ["hvip (reset)", "0x0", "0x80"],
  ["hvip ← ~0", "0x444", "0x4c4"],
  ["hvip ← ~0, then ← 0", "0x0", "0x80"],
  ["hcounteren ← ~0", "0xffffffffffffffff", "0x7ffff"],
  ["henvcfg ← ~0", "0xc0000000000000f1", "0x20000000000000f1"],
  ["hgatp ← ~0", "0xffffffffffffffff", "0x0"],
  ["hstatus ← ~0", "0xfffffffeffffffdf", "0xfffcfffefeffffdf"],
  ["vstvec ← ~0", "0xffffffffffffffff", "0x0"],
  ["vsatp ← ~0", "0xffffffffffffffff", "0x0"],
  ["scounteren ← ~0", "0xffffffffffffffff", "0x7ffff"],
  ["medeleg ← ~0", "0xf0bfff", "0xf4b7ff"],
  ["mideleg (reset)", "0x0", "0x1444"],
  ["mie ← ~0", "0x3eee", "0xffffffffffff1eee"],
  ["mcounteren ← ~0", "0xffffffffffffffff", "0x7ffff"],
  ["menvcfg (reset)", "0x0", "0x2000000000000000"],
  ["menvcfg ← ~0", "0xc0000000000000f1", "0xb0000000000000f1"],
  // status and counter CSRs
  ["mstatus ← ~0", "0x800000cb007e7faa", "0x8000000a007e79aa"],
  ["mstatus ← ~0, then ← 0", "0xb00000000", "0xa00000000"],
  ["sstatus ← ~0", "0x80000003000c6722", "0x80000002000c6122"],
  ["sstatus ← ~0, then ← 0", "0x300000000", "0x200000000"],
  ["vsstatus ← ~0", "0xffffffffffffffff", "0xfffffffefeffffff"],
  ["vsstatus ← ~0, then ← 0", "0x300000000", "0x200000000"],
  ["mcountinhibit ← ~0", "0xffffffffffffffff", "0x7fffd"],
  // interrupt CSRs under delegation
  ["mideleg ← ~0, sie ← ~0", "0x2222", "0x222"],
  ["mideleg ← ~0, hideleg ← ~0, sie ← ~0", "0x2222", "0x222"],
  ["mideleg ← ~0, sip ← ~0", "0x2002", "0x2"],
  ["mideleg ← ~0, hideleg ← ~0, sip ← ~0", "0x2002", "0x2"],
  ["hideleg ← ~0, vsie ← ~0", "0x222", "0xffffffffffff0222"],
  ["mideleg ← ~0, hideleg ← ~0, vsie ← ~0", "0x222", "0xffffffffffff0222"],
  ["mideleg ← ~0, hvip ← ~0", "0x444", "0x4c4"],
  ["hideleg ← ~0, hvip ← ~0", "0x444", "0x4c4"],
  ["mideleg ← ~0, hideleg ← ~0, hvip ← ~0", "0x444", "0x4c4"],
  // follow-ups where writing ~0 alone says little
  ["menvcfg ← ~0, henvcfg ← ~0", "0xc0000000000000f1", "0xa0000000000000f1"],
  ["menvcfg ← 0x0, henvcfg ← ~0", "0xc0000000000000f1", "0xf1"],
  ["mstatus ← 0xc000000800", "0xca00000800", "0xa00000800"],
  ["hstatus ← 0x1000000", "0x201000000", "0x200000000"],
  ["mcounteren ← 0xffffffff", "0xffffffff", "0x7ffff"],
  ["hvip ← 0x80", "0x0", "0x80"],
  // probed on QEMU 10.0.13 for docs/qemu-versions.md (findings)
  ["mideleg ← 0x222, sip ← 0x2: hvip", "0x0", "0x82"],
  ["hvip ← 0x2000", "0x0", "0x80"],
  ["hvip ← 0xffffffffffffe000", "0x0", "0x80"],
  ["hideleg ← ~0, hvip ← 0x40: vsip", "0x0", "0x20"],
  ["hideleg ← ~0, hvip ← 0x400: vsip", "0x0", "0x200"],
  ["stimecmp ← 0x0, mideleg ← 0x222, menvcfg ← 0x8000000000000000: sip", "0x20", "0x0"],
  ["henvcfg ← ~0, menvcfg ← 0x0, menvcfg ← ~0: henvcfg", "0xc0000000000000f1", "0xf1"],
  ["mstatus ← 0x300000000", "0xb00000000", "0xa00000000"],
  ["mstatus ← 0x400000000", "0xa00000000", "0x600000000"],
  ["mstatus ← 0x1000", "0xa00001000", "0xa00000000"],
  ["mstatus ← 0x600", "0x8000000a00000600", "0xa00000000"],
  ["mstatus ← 0x400006000: sstatus", "0x8000000200006000", "0x280006000"],
  ["vsstatus ← 0x300000000", "0x300000000", "0x200000000"],
  ["vsstatus ← 0x1000000", "0x201000000", "0x200000000"],
  ["vstimecmp ← 0x100, htimedelta ← 0x100: hip", "0x0", "0x40"],
  ["hvip ← 0x40, vstimecmp ← ~0: hip", "0x0", "0x40"],
  ["medeleg ← 0x40000", "0x0", "0x40000"],
  ["medeleg ← 0x800", "0x800", "0x0"],
  ["hedeleg ← 0x40000", "0x0", "0x40000"],
  ["mie ← 0x2000", "0x2000", "0x0"],
  ["mie ← 0x10000", "0x0", "0x10000"],
  // harts without H, and the OpenSBI presets (docs/backends.md, "Firmware presets")
  ["vstimecmp (no H)", "0x0", "trap 2"],
  ["mie ← ~0 (no H)", "0x2eee", "0xffffffffffff0aaa"],
  ["medeleg ← ~0 (no H)", "0xf0bfff", "0xf4b7ff"],
  ["medeleg (opensbi)", "0xf0b509", "0xf4b509"],
  ["menvcfg (opensbi)", "0x0", "0x2000000000000000"],
  ["medeleg (no H, opensbi)", "0xb109", "0x4b109"],
];

Deno.test("qemu-7.2 and qemu-10.0 differ exactly where the expected table says", () => {
  const expected = new Map(EXPECTED_DIFFERENCES.map(([label, a, b]) => [label, [a, b]]));
  const labels = new Set(PROBES.map((probe) => probe.label));
  deepStrictEqual(
    [...expected.keys()].filter((label) => !labels.has(label)),
    [],
    "every expected difference is a probe",
  );
  const found = new Map<string, string[]>();
  for (const probe of PROBES) {
    const values = [runProbe(QEMU_7_2_MODEL, probe), runProbe(QEMU_10_0_MODEL, probe)];
    if (values[0] !== values[1] || expected.has(probe.label)) found.set(probe.label, values);
  }
  const unexpected = [...found].filter(([label]) => !expected.has(label));
  deepStrictEqual(unexpected, [], "the profiles differ where no difference is expected");
  for (const [label, values] of expected) {
    deepStrictEqual(found.get(label), values, `${label}: [qemu-7.2, qemu-10.0]`);
  }
});

Deno.test("every named behaviour accounts for at least one difference (none is dead)", () => {
  const used = new Set<QemuBehaviourName>(probeDifferences().flatMap((d) => d.because));
  const names = Object.keys(QEMU_BEHAVIOURS) as QemuBehaviourName[];
  deepStrictEqual(names.filter((name) => !used.has(name)), []);
  // And every behaviour really differs between the versions.
  for (const name of names) {
    ok(
      QEMU_7_2_MODEL.behaviours[name] !== QEMU_10_0_MODEL.behaviours[name],
      `${name} is the same in both versions`,
    );
  }
});

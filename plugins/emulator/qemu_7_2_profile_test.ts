/**
 * The qemu-7.2 profile against what QEMU 7.2.22 read back: over the gdbstub
 * from M-mode on harts held at reset, in HS-mode after the reference set-up
 * under OpenSBI, and along the `check_xip_regs` sequence of
 * josecm/riscv-hyp-tests (`interrupt_tests.c`).
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { CSR, type CsrName } from "../../hal/csr_numbers.ts";
import { createEmulatorHal } from "./mod.ts";
import type { EmulatorHal } from "./emulator_hal.ts";
import { RISCVPerCpu } from "../../percpu/riscv_percpu.ts";
import {
  checkDependents,
  checkReadBacks,
  type DependentRow,
  ONES,
  type ReadBackRow,
} from "../../tests/_helpers/probe_tables.ts";

/** A fresh `-S` QEMU: 2 harts, no firmware, probed on hart 1. */
function freshQemu(): Promise<EmulatorHal> {
  return createEmulatorHal({ harts: 2, profile: "qemu-7.2", firmware: "none" });
}

/** [CSR, reset read, read after writing ~0, read after writing 0], one fresh QEMU per row. */
const READ_BACK_7_2: readonly ReadBackRow[] = [
  ["hedeleg", 0n, 0xb1ffn, 0n],
  ["hideleg", 0n, 0x444n, 0n],
  ["hie", 0n, 0x1444n, 0n],
  ["hvip", 0n, 0x444n, 0n],
  ["hip", 0n, 0x4n, 0n],
  ["hcounteren", 0n, ONES, 0n],
  ["hgeie", 0n, 0n, 0n],
  ["henvcfg", 0n, 0xc0000000000000f1n, 0n],
  ["htval", 0n, ONES, 0n],
  ["htinst", 0n, 0n, 0n],
  ["hgatp", 0n, ONES, 0n],
  ["hstatus", 0x200000000n, 0xfffffffeffffffdfn, 0x200000000n],
  ["vsie", 0n, 0n, 0n],
  ["vsip", 0n, 0n, 0n],
  ["vstvec", 0n, ONES, 0n],
  ["vsscratch", 0n, ONES, 0n],
  ["vsepc", 0n, ONES, 0n],
  ["vscause", 0n, ONES, 0n],
  ["vstval", 0n, ONES, 0n],
  ["vsatp", 0n, ONES, 0n],
  ["sie", 0n, 0n, 0n],
  ["sip", 0n, 0n, 0n],
  ["scounteren", 0n, ONES, 0n],
  ["sscratch", 0n, ONES, 0n],
  ["sepc", 0n, ONES, 0n],
  ["stval", 0n, ONES, 0n],
  ["medeleg", 0n, 0xf0bfffn, 0n],
  ["mideleg", 0n, 0x3666n, 0x1444n],
  ["mie", 0n, 0x3eeen, 0n],
  ["mcounteren", 0n, ONES, 0n],
  ["menvcfg", 0n, 0xc0000000000000f1n, 0n],
  ["mscratch", 0n, ONES, 0n],
  ["mtval2", 0n, ONES, 0n],
  ["mtinst", 0n, ONES, 0n],
  // Extras.
  ["mstatus", 0xa00000000n, 0x800000cb007e7faan, 0xb00000000n],
  ["sstatus", 0x200000000n, 0x80000003000c6722n, 0x300000000n],
  ["vsstatus", 0xa00000000n, ONES, 0x300000000n],
  ["misa", 0x80000000001411adn, 0x80000000001411adn, 0x80000000001411adn],
  ["mip", 0x80n, 0x26e6n, 0x80n],
  ["satp", 0n, 0n, 0n],
  ["stvec", 0n, 0n, 0n],
  ["mtvec", 0n, 0n, 0n],
  ["htimedelta", 0n, ONES, 0n],
  ["mepc", 0n, ONES, 0n],
  ["mcause", 0n, ONES, 0n],
  ["scause", 0n, ONES, 0n],
  ["stimecmp", 0n, ONES, 0n],
  ["vstimecmp", 0n, ONES, 0n],
  ["senvcfg", 0n, 0xf1n, 0n],
  ["mcountinhibit", 0n, ONES, 0n],
];

Deno.test("qemu-7.2 profile: reset, all-ones and zero read-backs match QEMU 7.2", async (t) => {
  await checkReadBacks(t, READ_BACK_7_2, () => freshQemu());
});

Deno.test("qemu-7.2 profile: one hart written in sequence (as measured on a fresh hart 3)", async () => {
  const hal = await createEmulatorHal({ harts: 4, profile: "qemu-7.2", firmware: "none" });
  const afterOnes: [CsrName, bigint][] = [
    ["hedeleg", 0xb1ffn],
    ["hideleg", 0x444n],
    ["hvip", 0x444n],
    ["hcounteren", ONES],
    ["sie", 0n],
  ];
  for (const [name, expected] of afterOnes) {
    strictEqual(await hal.csr.read(3, CSR[name]), 0n, `${name} before`);
    await hal.csr.write(3, CSR[name], ONES);
    strictEqual(await hal.csr.read(3, CSR[name]), expected, `${name} after ~0`);
  }
  await hal.csr.write(3, CSR.mideleg, ONES);
  strictEqual(await hal.csr.read(3, CSR.mideleg), 0x3666n);
  await hal.csr.write(3, CSR.sie, ONES);
  strictEqual(await hal.csr.read(3, CSR.sie), 0x2222n);
  // Other harts are untouched.
  strictEqual(await hal.csr.read(2, CSR.hedeleg), 0n);
  await hal.close();
});

/** The dependent table: each cell in a fresh QEMU, delegation written with ~0 first. */
const DEPENDENT_7_2: readonly DependentRow[] = [
  ["reset", [], "sie", 0n, 0n, 0n],
  ["reset", [], "sip", 0n, 0n, 0n],
  ["reset", [], "vsie", 0n, 0n, 0n],
  ["reset", [], "vsip", 0n, 0n, 0n],
  ["reset", [], "hie", 0n, 0x1444n, 0n],
  ["reset", [], "hip", 0n, 0x4n, 0n],
  ["reset", [], "hvip", 0n, 0x444n, 0n],
  ["reset", [], "mie", 0n, 0x3eeen, 0n],
  ["reset", [], "mip", 0x80n, 0x26e6n, 0x80n],
  ["mideleg=~0", ["mideleg"], "sie", 0n, 0x2222n, 0n],
  ["mideleg=~0", ["mideleg"], "sip", 0n, 0x2002n, 0n],
  ["mideleg=~0", ["mideleg"], "vsie", 0n, 0n, 0n],
  ["mideleg=~0", ["mideleg"], "vsip", 0n, 0n, 0n],
  ["mideleg=~0", ["mideleg"], "hie", 0n, 0x1444n, 0n],
  ["mideleg=~0", ["mideleg"], "hvip", 0n, 0x444n, 0n],
  ["hideleg=~0", ["hideleg"], "sie", 0n, 0n, 0n],
  ["hideleg=~0", ["hideleg"], "sip", 0n, 0n, 0n],
  ["hideleg=~0", ["hideleg"], "vsie", 0n, 0x222n, 0n],
  ["hideleg=~0", ["hideleg"], "vsip", 0n, 0x2n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "sie", 0n, 0x2222n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "sip", 0n, 0x2002n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "vsie", 0n, 0x222n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "vsip", 0n, 0x2n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "hie", 0n, 0x1444n, 0n],
  ["both=~0", ["mideleg", "hideleg"], "hip", 0n, 0x4n, 0n],
];

Deno.test("qemu-7.2 profile: interrupt CSRs depend on mideleg/hideleg as on QEMU 7.2", async (t) => {
  await checkDependents(t, DEPENDENT_7_2, () => freshQemu());
});

Deno.test("qemu-7.2 profile: quirks", async (t) => {
  await t.step("mideleg: the first read after reset is stale, then 0x1444 is forced", async () => {
    const hal = await freshQemu();
    strictEqual(await hal.csr.read(0, CSR.mideleg), 0n);
    strictEqual(await hal.csr.read(0, CSR.mideleg), 0x1444n);
    await hal.close();
  });
  await t.step("mideleg without H forces nothing", async () => {
    const hal = await createEmulatorHal({
      profile: "qemu-7.2",
      firmware: "none",
      isa: "rv64imafdc",
    });
    await hal.csr.write(0, CSR.mideleg, 0n);
    strictEqual(await hal.csr.read(0, CSR.mideleg), 0n);
    await hal.csr.write(0, CSR.mideleg, ONES);
    strictEqual(await hal.csr.read(0, CSR.mideleg), 0x2666n);
    strictEqual(await hal.csr.read(0, CSR.misa), 0x800000000014112dn);
    await hal.close();
  });
  await t.step("hvip loses VSTIP when an M-mode writer has menvcfg.STCE=1", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.menvcfg, 1n << 63n);
    await hal.csr.write(0, CSR.hvip, ONES);
    strictEqual(await hal.csr.read(0, CSR.hvip), 0x404n);
    await hal.close();
  });
  await t.step("csrrs/csrrc on hvip go through rmw_mip64", async () => {
    const hal = await freshQemu();
    strictEqual(await hal.csr.set(0, CSR.hvip, 0x40n), 0n);
    strictEqual(await hal.csr.clear(0, CSR.hvip, 0x4n), 0x40n);
    strictEqual(await hal.csr.read(0, CSR.hip), 0x40n);
    await hal.close();
  });
  await t.step("the check_xip_regs sequence reads what QEMU 7.2 read", async () => {
    const hal = await freshQemu();
    const read = (name: CsrName) => hal.csr.read(0, CSR[name]);
    const mipNoTimer = async () => (await read("mip")) & ~0x80n;
    await hal.csr.write(0, CSR.mideleg, ONES);
    await hal.csr.write(0, CSR.hideleg, ONES);
    await hal.csr.write(0, CSR.vsip, ONES);
    strictEqual(await read("vsip"), 0x2n);
    await hal.csr.write(0, CSR.vsie, ONES);
    strictEqual(await read("vsie"), 0x222n);
    await hal.csr.write(0, CSR.mip, ONES);
    deepStrictEqual(
      [await read("hip"), await read("sip"), await mipNoTimer(), await read("vsip")],
      [0x444n, 0x2222n, 0x2666n, 0x2n],
    );
    await hal.csr.write(0, CSR.mip, 0n);
    deepStrictEqual(
      [await read("hip"), await read("sip"), await mipNoTimer(), await read("vsip")],
      [0n, 0n, 0n, 0n],
    );
    await hal.csr.write(0, CSR.hvip, ONES);
    deepStrictEqual(
      [
        await read("hvip"),
        await read("hip"),
        await read("sip"),
        await mipNoTimer(),
        await read("vsip"),
      ],
      [0x444n, 0x444n, 0n, 0x444n, 0x2n],
    );
    await hal.csr.write(0, CSR.hvip, 0n);
    deepStrictEqual([await read("hvip"), await read("hip"), await mipNoTimer()], [0n, 0n, 0n]);
    await hal.close();
  });
  await t.step("legal modes keep every other bit", async () => {
    const hal = await freshQemu();
    const cases: [CsrName, bigint, bigint][] = [
      ["hgatp", (8n << 60n) | (ONES >> 4n), 0x8fffffffffffffffn],
      ["hgatp", (9n << 60n) | (ONES >> 4n), 0x9fffffffffffffffn],
      ["hgatp", ONES >> 4n, 0x0fffffffffffffffn],
      ["vsatp", ONES >> 4n, 0x0fffffffffffffffn],
      ["satp", (8n << 60n) | (ONES >> 4n), 0x8fffffffffffffffn],
      ["vsatp", (8n << 60n) | (ONES >> 4n), 0x8fffffffffffffffn],
      ["vstvec", ONES - 3n, ONES - 3n],
      ["vstvec", ONES - 2n, ONES - 2n],
      ["hstatus", 1n << 24n, 0x201000000n],
      ["mcounteren", 0xffffffffn, 0xffffffffn],
      ["hvip", 0x80n, 0n],
      ["hideleg", 0x2000n, 0n],
    ];
    for (const [name, value, expected] of cases) {
      await hal.csr.write(0, CSR[name], value);
      strictEqual(await hal.csr.read(0, CSR[name]), expected, name);
    }
    await hal.close();
  });
  await t.step("mstatus keeps MPV and GVA", async () => {
    const hal = await freshQemu();
    await hal.csr.write(0, CSR.mstatus, (1n << 11n) | (1n << 39n) | (1n << 38n));
    strictEqual(await hal.csr.read(0, CSR.mstatus), 0xca00000800n);
    await hal.close();
  });
  await t.step("henvcfg is not gated by menvcfg", async () => {
    const hal = await freshQemu();
    for (const menvcfg of [ONES, 0n]) {
      await hal.csr.write(0, CSR.menvcfg, menvcfg);
      await hal.csr.write(0, CSR.henvcfg, ONES);
      strictEqual(await hal.csr.read(0, CSR.henvcfg), 0xc0000000000000f1n);
    }
    await hal.close();
  });
  await t.step("every H and VS CSR traps with cause 2 on a hart without H", async () => {
    const hal = await createEmulatorHal({ profile: "qemu-7.2", isa: "rv64imafdc" });
    for (
      const name of ["hstatus", "hedeleg", "hideleg", "hvip", "hgatp", "vsstatus", "vsatp"] as const
    ) {
      const [result] = await hal.csr.batch(0, [{ op: "read", csr: CSR[name] }]);
      deepStrictEqual(result, { ok: false, trapCause: 2 }, name);
    }
    await hal.close();
  });
});

Deno.test("qemu-7.2 profile: the ArceOS set-up under OpenSBI ends as on QEMU 7.2 in HS-mode", async () => {
  const hal = await createEmulatorHal({ harts: 4, profile: "qemu-7.2", firmware: "opensbi-1.1" });
  for (const hart of hal.harts) {
    strictEqual(await hal.csr.read(hart, CSR.mideleg), 0x1666n);
    strictEqual(await hal.csr.read(hart, CSR.medeleg), 0xf0b509n);
    await RISCVPerCpu.create(hart, hal);
    const values = [];
    for (const name of ["hedeleg", "hideleg", "hvip", "hcounteren", "sie", "sip"] as const) {
      values.push(await hal.csr.read(hart, CSR[name]));
    }
    deepStrictEqual(values, [0xb10dn, 0x444n, 0n, ONES, 0x222n, 0n]);
  }
  await hal.close();
});

Deno.test("qemu-7.2 profile: Sstc timers as QEMU 7.2.22 showed them (time is 0 at -S)", async (t) => {
  // Observed over the gdbstub on a fresh `-cpu rv64,h=true -S` machine, firmware none.
  const read = (hal: EmulatorHal, name: CsrName) => hal.csr.read(1, CSR[name]);
  const write = (hal: EmulatorHal, name: CsrName, value: bigint) =>
    hal.csr.write(1, CSR[name], value);
  await t.step(
    "stimecmp: a compare at or before time 0 raises STIP, a later one clears it",
    async () => {
      const hal = await freshQemu();
      strictEqual(await read(hal, "time"), 0n);
      strictEqual(await read(hal, "stimecmp"), 0n);
      strictEqual(await read(hal, "mip"), 0x80n); // only MTIP: the reset value of stimecmp does not fire
      const seen: bigint[] = [];
      for (const value of [0n, 1n, ONES, 0n]) {
        await write(hal, "stimecmp", value);
        seen.push(await read(hal, "mip"));
      }
      deepStrictEqual(seen, [0xa0n, 0x80n, 0x80n, 0xa0n]);
      // A STIP written through mip is cleared by a compare in the future.
      await write(hal, "stimecmp", 7n);
      await write(hal, "mip", 0x20n);
      strictEqual(await read(hal, "mip"), 0xa0n);
      await write(hal, "stimecmp", 7n);
      strictEqual(await read(hal, "mip"), 0x80n);
      await hal.close();
    },
  );
  await t.step(
    "stimecmp with menvcfg.STCE: the M-mode writer cannot clear STIP through mip",
    async () => {
      const hal = await freshQemu();
      await write(hal, "menvcfg", 1n << 63n);
      await write(hal, "stimecmp", 0n);
      strictEqual(await read(hal, "mip"), 0xa0n);
      await write(hal, "mip", 0n);
      strictEqual(await read(hal, "mip"), 0xa0n);
      await hal.close();
    },
  );
  await t.step(
    "vstimecmp fires against time + htimedelta, seen in hip and mip, not in hvip",
    async () => {
      const hal = await freshQemu();
      await write(hal, "vstimecmp", 0n);
      deepStrictEqual(
        [
          await read(hal, "mip"),
          await read(hal, "hip"),
          await read(hal, "hvip"),
          await read(hal, "vsip"),
        ],
        [0xc0n, 0x40n, 0n, 0n],
      );
      await write(hal, "vstimecmp", 5n);
      deepStrictEqual([await read(hal, "mip"), await read(hal, "hip")], [0x80n, 0n]);
      // An htimedelta write does not re-evaluate the timer in 7.2 …
      await write(hal, "htimedelta", 5n);
      strictEqual(await read(hal, "hip"), 0n);
      // … the next vstimecmp write does.
      await write(hal, "vstimecmp", 4n);
      strictEqual(await read(hal, "hip"), 0x40n);
      await write(hal, "vstimecmp", 6n);
      strictEqual(await read(hal, "hip"), 0n);
      await hal.close();
    },
  );
  await t.step("a vstimecmp in the future also clears a VSTIP written through hvip", async () => {
    // Found by tests/differential/qemu_test.ts: the profile used to keep hvip.VSTIP here.
    const hal = await freshQemu();
    await write(hal, "hvip", 0x40n);
    deepStrictEqual([await read(hal, "hvip"), await read(hal, "mip")], [0x40n, 0xc0n]);
    await write(hal, "vstimecmp", 5n);
    deepStrictEqual(
      [await read(hal, "hvip"), await read(hal, "mip"), await read(hal, "hip")],
      [0n, 0x80n, 0n],
    );
    // A compare in the past leaves the stored VSTIP alone; the timer keeps hip.VSTIP up.
    await write(hal, "hvip", 0x40n);
    await write(hal, "vstimecmp", 0n);
    deepStrictEqual([await read(hal, "hvip"), await read(hal, "hip")], [0x40n, 0x40n]);
    await write(hal, "hvip", 0n);
    deepStrictEqual([await read(hal, "hvip"), await read(hal, "hip")], [0n, 0x40n]);
    await hal.close();
  });
});

Deno.test("qemu-7.2 profile: a hart without H as QEMU 7.2.22 showed it (-cpu rv64,h=false)", async () => {
  // Found by tests/differential/qemu_test.ts: 7.2 gates mtval2 and mtinst on H
  // (predicate hmode) but not vstimecmp (predicate sstc); the profile had it the other way.
  const hal = await createEmulatorHal({ profile: "qemu-7.2", firmware: "none", isa: "rv64imafdc" });
  for (const name of ["mtval2", "mtinst"] as const) {
    deepStrictEqual(await hal.csr.batch(0, [{ op: "read", csr: CSR[name] }]), [
      { ok: false, trapCause: 2 },
    ], name);
  }
  strictEqual(await hal.csr.read(0, CSR.vstimecmp), 0n);
  strictEqual(await hal.csr.read(0, CSR.mip), 0x80n);
  // The VS timer still fires (against htimedelta 0) and shows in mip.
  await hal.csr.write(0, CSR.vstimecmp, 0n);
  deepStrictEqual([await hal.csr.read(0, CSR.mip), await hal.csr.read(0, CSR.sip)], [0xc0n, 0n]);
  await hal.csr.write(0, CSR.vstimecmp, 9n);
  strictEqual(await hal.csr.read(0, CSR.mip), 0x80n);
  await hal.close();
});

/**
 * The QEMU backend on each QEMU version (7.2 and 10.0): the bridge works
 * unchanged (regnum base from sstatus although 10.0's CSR feature starts
 * with fflags; no reliance on unsolicited stop packets, which 10.0 never
 * sends; target.xml fetched first), `info()` names the version and the
 * matching profile, `firmware: opensbi` resolves to the OpenSBI that ships
 * with the version, and an attached QEMU gets the preset's mtimecmp where
 * its gdbstub can write the CLINT (10.0) and says so where it cannot (7.2).
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { CSR } from "../../hal/csr_numbers.ts";
import { createQemuHal } from "../../plugins/qemu/mod.ts";
import { QmpClient } from "../../plugins/qemu/_qmp_client.ts";
import { connectUnixSocket } from "../../plugins/qemu/_transport.ts";
import { QemuProcess } from "../../plugins/qemu/qemu_process.ts";
import { QEMU_TARGETS, QEMU_TEST_TIMEOUTS, qemuTest } from "../_helpers/qemu.ts";

const OPENSBI: Record<string, { preset: string; medeleg: bigint; medelegNoH: bigint }> = {
  "7.2": { preset: "opensbi-1.1", medeleg: 0xf0b509n, medelegNoH: 0xb109n },
  "10.0": { preset: "opensbi-1.6", medeleg: 0xf4b509n, medelegNoH: 0x4b109n },
};

for (const target of QEMU_TARGETS) {
  const { version, profile } = target;

  qemuTest(
    `QEMU ${version}: info() names the version and the ${profile} profile; CSR regnums come from sstatus`,
    async () => {
      const hal = await createQemuHal({
        ...QEMU_TEST_TIMEOUTS,
        harts: 2,
        qemu: target.binary,
        firmware: "none",
      });
      try {
        const info = hal.info();
        ok(String(info.version).startsWith(`${version}.`), `version ${info.version}`);
        strictEqual(info.profile, profile);
        // 66 = 33 cpu + 32 fpu + 1 virtual registers before the CSRs, in both versions.
        strictEqual(info.csrRegnumBase, 66);
        strictEqual(await hal.csr.read(1, CSR.mhartid), 1n);
        strictEqual(await hal.csr.read(0, CSR.misa), 0x80000000001411adn);
        await hal.csr.write(1, CSR.sscratch, 0x1234n);
        strictEqual(await hal.csr.read(1, CSR.sscratch), 0x1234n);
        strictEqual(await hal.csr.read(0, CSR.sscratch), 0n);
      } finally {
        await hal.close();
      }
    },
    target,
  );

  for (const isa of ["rv64imafdch", "rv64imafdc"]) {
    qemuTest(
      `QEMU ${version}: firmware opensbi is ${
        OPENSBI[version]!.preset
      } (${isa}): medeleg, mideleg, no machine timer`,
      async () => {
        const hal = await createQemuHal({
          ...QEMU_TEST_TIMEOUTS,
          harts: 2,
          qemu: target.binary,
          firmware: "opensbi",
          isa,
        });
        try {
          const expected = OPENSBI[version]!;
          strictEqual(hal.info().firmware, expected.preset);
          strictEqual(hal.info().mtimecmp, "0xffffffffffffffff");
          const hasH = isa.endsWith("h");
          for (const hart of hal.harts) {
            strictEqual(
              await hal.csr.read(hart, CSR.medeleg),
              hasH ? expected.medeleg : expected.medelegNoH,
            );
            strictEqual(await hal.csr.read(hart, CSR.mideleg), hasH ? 0x1666n : 0x222n);
            strictEqual(await hal.csr.read(hart, CSR.mip), 0n, "mtimecmp all ones: no MTIP");
          }
        } finally {
          await hal.close();
        }
      },
      target,
    );
  }

  qemuTest(
    `QEMU ${version}: attaching with firmware opensbi writes mtimecmp over gdb where the gdbstub reaches the CLINT`,
    async () => {
      const qemu = await QemuProcess.spawn({ binary: target.binary, harts: 2, cpu: "rv64,h=true" });
      try {
        const hal = await createQemuHal({
          ...QEMU_TEST_TIMEOUTS,
          attach: { qmp: qemu.qmpPath, gdb: qemu.gdbPath },
          firmware: "opensbi",
        });
        try {
          const mip = await hal.csr.read(1, CSR.mip);
          if (version === "10.0") {
            strictEqual(hal.info().mtimecmp, "0xffffffffffffffff");
            strictEqual(mip, 0n);
            strictEqual(await hal.csr.read(1, CSR.hvip), 0n, "no MTIP leaking into hvip");
          } else {
            match(
              String(hal.info().mtimecmp),
              /^not applied \(QEMU 7\.2\.\d+ drops gdb writes to the CLINT; hart 0 reads 0x0\)$/,
            );
            strictEqual(mip, 0x80n, "MTIP stays pending");
          }
        } finally {
          await hal.close();
        }
      } finally {
        await qemu.stop(0);
      }
    },
    target,
  );

  qemuTest(
    `QEMU ${version}: attaching to a running VM works without stop packets`,
    async () => {
      // A wfi loop on every hart; 7.2 sends a T02 stop packet after QMP stop, 10.0 none.
      const qemu = await QemuProcess.spawn({
        binary: target.binary,
        harts: 2,
        cpu: "rv64,h=true",
        extraArgs: ["-device", "loader,addr=0x80000000,data=0xffdff06f10500073,data-len=8"],
      });
      try {
        const starter = await QmpClient.connect(
          await connectUnixSocket(qemu.qmpPath, { retryForMs: 2000 }),
        );
        await starter.execute("cont");
        await starter.close();
        const hal = await createQemuHal({
          ...QEMU_TEST_TIMEOUTS,
          attach: { qmp: qemu.qmpPath, gdb: qemu.gdbPath },
        });
        try {
          deepStrictEqual(hal.harts, [0, 1]);
          strictEqual(await hal.csr.read(1, CSR.mhartid), 1n);
          strictEqual(await hal.csr.read(0, CSR.mhartid), 0n);
        } finally {
          await hal.close();
        }
      } finally {
        await qemu.stop(0);
      }
    },
    target,
  );
}

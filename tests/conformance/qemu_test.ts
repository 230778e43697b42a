/**
 * The conformance suite on real QEMU harts, once per QEMU version (7.2 and
 * 10.0): 2 harts with H, and a machine started with h=false for the no-H
 * cases. Skipped with a printed reason when that QEMU is absent; failing
 * instead under RVHV_REQUIRE_QEMU=1.
 */

import { CONFORMANCE_CASES, runHalConformance } from "../../testing/mod.ts";
import { createQemuHal } from "../../plugins/qemu/mod.ts";
import { QEMU_TARGETS, QEMU_TEST_TIMEOUTS, qemuUnavailable } from "../_helpers/qemu.ts";

for (const target of QEMU_TARGETS) {
  const unavailable = qemuUnavailable(target);
  const create = (isa: string) => {
    if (unavailable !== undefined && "fail" in unavailable) throw unavailable.fail;
    return createQemuHal({
      ...QEMU_TEST_TIMEOUTS,
      harts: 2,
      qemu: target.binary,
      isa,
      firmware: "opensbi",
    });
  };
  runHalConformance({
    name: `qemu ${target.version}`,
    sanitize: true,
    create: () => create("rv64imafdch"),
    createWithoutH: () => create("rv64imafdc"),
    skip: unavailable !== undefined && "skip" in unavailable
      ? [{ reason: unavailable.skip, tests: CONFORMANCE_CASES }]
      : [],
  });
}

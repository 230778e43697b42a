/**
 * The conformance suite on native access: every CSR below machine level is
 * accessed by the hart itself, a real instruction in HS-mode under the real
 * OpenSBI that QEMU ships (machine-level CSRs such as mhartid go through the
 * debugger). 2 harts with H, and a machine started with h=false for the no-H
 * cases, where the H probe's illegal instruction goes to M-mode and OpenSBI
 * redirects it. Skipped with a printed reason when QEMU is absent; failing
 * instead under RVHV_REQUIRE_QEMU=1.
 *
 * No case is skipped: native execution expresses every operation the suite
 * makes.
 */

import { CONFORMANCE_CASES, runHalConformance } from "../../testing/mod.ts";
import { createQemuHal } from "../../plugins/qemu/mod.ts";
import { QEMU_BINARY, QEMU_TEST_TIMEOUTS, qemuUnavailable } from "../_helpers/qemu.ts";

const unavailable = qemuUnavailable();

runHalConformance({
  name: "qemu native",
  sanitize: true,
  create: () => {
    if (unavailable !== undefined && "fail" in unavailable) throw unavailable.fail;
    return createQemuHal({ ...QEMU_TEST_TIMEOUTS, harts: 2, qemu: QEMU_BINARY, access: "native" });
  },
  createWithoutH: () => {
    if (unavailable !== undefined && "fail" in unavailable) throw unavailable.fail;
    return createQemuHal({
      ...QEMU_TEST_TIMEOUTS,
      harts: 2,
      qemu: QEMU_BINARY,
      isa: "rv64imafdc",
      access: "native",
    });
  },
  skip: unavailable !== undefined && "skip" in unavailable
    ? [{ reason: unavailable.skip, tests: CONFORMANCE_CASES }]
    : [],
});

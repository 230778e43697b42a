/**
 * The conformance suite on real QEMU harts (2 harts with H, and a machine
 * started with h=false for the no-H cases). Skipped with a printed reason
 * when QEMU is absent; failing instead under RVHV_REQUIRE_QEMU=1.
 */

import { CONFORMANCE_CASES, runHalConformance } from "../../testing/mod.ts";
import { createQemuHal } from "../../plugins/qemu/mod.ts";
import { QEMU_BINARY, qemuUnavailable } from "../_helpers/qemu.ts";

const unavailable = qemuUnavailable();

runHalConformance({
  name: "qemu",
  sanitize: true,
  create: () => {
    if (unavailable !== undefined && "fail" in unavailable) throw unavailable.fail;
    return createQemuHal({ harts: 2, qemu: QEMU_BINARY, firmware: "opensbi" });
  },
  createWithoutH: () => {
    if (unavailable !== undefined && "fail" in unavailable) throw unavailable.fail;
    return createQemuHal({ harts: 2, qemu: QEMU_BINARY, isa: "rv64imafdc", firmware: "opensbi" });
  },
  skip: unavailable !== undefined && "skip" in unavailable
    ? [{ reason: unavailable.skip, tests: CONFORMANCE_CASES }]
    : [],
});

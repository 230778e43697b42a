import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { RISCVPerCpu } from "../percpu/riscv_percpu.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import {
  firmwareModel,
  GRID_EXCEPTIONS,
  GRID_INTERRUPTS,
  readDelegation,
  routeTable,
} from "./route_table.ts";
import { routeTrap } from "./route_trap.ts";

const ARCEOS = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: 0xb10dn, hideleg: 0x444n };

Deno.test("routeTable() has exceptions 0–23 then the standard interrupts, from every origin", () => {
  deepStrictEqual(GRID_INTERRUPTS, [1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13]);
  const rows = routeTable(ARCEOS);
  strictEqual(rows.length, 24 + 11);
  deepStrictEqual(
    rows.filter((r) => !r.interrupt).map((r) => r.cause),
    [...GRID_EXCEPTIONS],
  );
  deepStrictEqual(rows.filter((r) => r.interrupt).map((r) => r.cause), [...GRID_INTERRUPTS]);
  strictEqual(rows[2]!.name, "ILLEGAL_INSTRUCTION");
  strictEqual(rows[14]!.name, "cause 14");
  for (const row of rows) {
    deepStrictEqual(Object.keys(row.routes), ["U", "HS", "VU", "VS", "M"]);
    for (const [from, route] of Object.entries(row.routes)) {
      deepStrictEqual(
        route,
        routeTrap(ARCEOS, {
          cause: row.cause,
          interrupt: row.interrupt,
          from: from as "U",
        }),
      );
    }
  }
});

Deno.test("routeTable() filters columns, kinds and causes", () => {
  const vu = routeTable(ARCEOS, { origins: ["VU"], firmware: "none" });
  deepStrictEqual(Object.keys(vu[0]!.routes), ["VU"]);
  strictEqual(vu[2]!.routes.VU!.effective.destination, "M");
  const nine = routeTable(ARCEOS, { cause: 9 });
  deepStrictEqual(nine.map((r) => [r.interrupt, r.name]), [
    [false, "ENVIRONMENT_CALL_FROM_HS"],
    [true, "SUPERVISOR_EXTERNAL"],
  ]);
  deepStrictEqual(routeTable(ARCEOS, { cause: 4 }).map((r) => r.interrupt), [false]);
  deepStrictEqual(
    routeTable(ARCEOS, { cause: 4, interrupt: true }).map((r) => r.name),
    ["interrupt 4"],
  );
  deepStrictEqual(routeTable(ARCEOS, { cause: 30 }).map((r) => r.interrupt), [false, true]);
  strictEqual(routeTable(ARCEOS, { interrupt: false }).length, 24);
});

Deno.test("readDelegation() reads the live CSRs, before and after disable", async () => {
  const hal = await createEmulatorHal({
    harts: 3,
    isa: ["rv64imafdch", "rv64imafdch", "rv64imafdc"],
  });
  try {
    deepStrictEqual(await readDelegation(hal, 0), {
      medeleg: 0xf0b509n,
      mideleg: 0x666n,
      hedeleg: 0n,
      hideleg: 0n,
    });
    const percpu = await RISCVPerCpu.create(1, hal);
    await percpu.hardwareEnable();
    deepStrictEqual(await readDelegation(hal, 1), ARCEOS);
    await percpu.hardwareDisable();
    strictEqual((await readDelegation(hal, 1)).hedeleg, 0n);
    // No H: hedeleg and hideleg trap, and read as 0; OpenSBI delegates less.
    deepStrictEqual(await readDelegation(hal, 2), {
      medeleg: 0xb109n,
      mideleg: 0x222n,
      hedeleg: 0n,
      hideleg: 0n,
    });
    await rejects(readDelegation(hal, 7), { name: "AxError", kind: "NotFound" });
  } finally {
    await hal.close();
  }
});

Deno.test("firmwareModel() recognises OpenSBI by name", () => {
  const info = { backend: "x", isa: "rv64gc" };
  strictEqual(firmwareModel({ ...info, firmware: "opensbi-1.6" }), "opensbi");
  strictEqual(firmwareModel({ ...info, firmware: "OpenSBI v1.5" }), "opensbi");
  strictEqual(firmwareModel({ ...info, firmware: "none" }), "none");
  strictEqual(firmwareModel(info), "none");
});

/**
 * The conformance kit: the one suite every backend (built-in or third-party)
 * runs to show it behaves as rvhv's core expects.
 *
 * Runs under `deno test`. The kit itself needs no permissions; the backend
 * under test decides what the test run needs (none for the emulator;
 * `--allow-read` for replay; QEMU's for the qemu backend).
 *
 * @example Test a backend plugin
 * ```ts
 * // my_backend_test.ts: the suite, next to the backend's own tests
 * import { runHalConformance } from "@rvhv/percpu/testing";
 * import plugin from "@rvhv/percpu/emulator"; // your plugin's default export
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * runHalConformance({
 *   name: plugin.name,
 *   create: () => plugin.create(plugin.parseOptions({ harts: 2 })),
 *   // A backend whose hart 0 lacks H, for the no-H cases (skipped, with a reason, without it).
 *   createWithoutH: () => plugin.create(plugin.parseOptions({ harts: 2, isa: ["rv64imac", "rv64imach"] })),
 *   // Cases a backend cannot pass go in `skip`, each with a reason.
 * });
 *
 * Deno.test(`${plugin.name} plugin asks for no permissions`, () => {
 *   deepStrictEqual(plugin.permissions, []);
 * });
 * ```
 *
 * @module
 */

export {
  CONFORMANCE_CASES,
  type ConformanceContext,
  type HalConformanceOptions,
  runHalConformance,
} from "./hal_conformance.ts";

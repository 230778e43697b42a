/**
 * The conformance kit: the one suite every backend (built-in or third-party)
 * runs to show it behaves as rvhv's core expects.
 *
 * Runs under `deno test`; the backend under test decides the permissions.
 *
 * @example Usage
 * ```ts ignore
 * // my_backend_test.ts
 * import { runHalConformance } from "@rvhv/percpu/testing";
 * import { createMyHal } from "./my_backend.ts";
 *
 * runHalConformance({
 *   name: "my-backend",
 *   create: () => createMyHal({ harts: 2 }),
 *   skip: [{ reason: "frames are managed by the host", tests: ["frames are aligned, distinct, reusable and map both ways"] }],
 * });
 * ```
 *
 * @module
 */

export {
  CONFORMANCE_CASES,
  type ConformanceContext,
  type ConformanceSkip,
  type HalConformanceOptions,
  runHalConformance,
} from "./hal_conformance.ts";

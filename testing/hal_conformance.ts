/**
 * The conformance suite every backend runs: CSR semantics, traps, frames,
 * `info()`, `close()`, the reference set-up's golden values, and the vCPU
 * layer it gates (create only on an enabled hart; bind and unbind under the
 * ArceOS and KVM policies).
 *
 * @module
 */

import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { ALL_ONES, ATP, ATP_MODE, HSTATUS, VS_INTERRUPTS } from "../hal/csr_fields.ts";
import { ARCEOS_POLICY, KVM_POLICY } from "../percpu/policy.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import { RISCVVCpu } from "../percpu/riscv_vcpu.ts";
import { AxError, CsrTrap } from "../hal/errors.ts";
import type { AxVCpuHal, CsrOp, HartId } from "../hal/types.ts";
import { FRAME_SIZE } from "../hal/frame_allocator.ts";
import { RISCVPerCpu } from "../percpu/riscv_percpu.ts";
import { hasHardwareSupport } from "../detect/h_extension.ts";

/**
 * What `create` is told about the case it makes a backend for. Backends that
 * replay a recording use it to record the case on a reference backend first.
 *
 * @example Every case recorded on the emulator, then replayed
 * ```ts
 * import { CONFORMANCE_CASES, type ConformanceContext, runHalConformance } from "@rvhv/percpu/testing";
 * import { createReplayHal, recordHal } from "@rvhv/percpu/replay";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import type { AxVCpuHal } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 *
 * async function replayOf(context: ConformanceContext, isa = "rv64imafdch"): Promise<AxVCpuHal> {
 *   const path = `${dir}/${context.name.replaceAll(/\W+/g, "_")}.jsonl`;
 *   const emulator = await createEmulatorHal({ harts: 2, isa: [isa, "rv64imafdch"] });
 *   await context.runCase(await recordHal(emulator, { path }));
 *   return await createReplayHal({ path }); // strict: the case must use the whole recording
 * }
 *
 * runHalConformance({
 *   name: "replay of the emulator",
 *   create: (context) => replayOf(context),
 *   createWithoutH: (context) => replayOf(context, "rv64imafdc"),
 * });
 *
 * Deno.test("every case was recorded", async () => {
 *   const traces = await Array.fromAsync(Deno.readDir(dir));
 *   strictEqual(traces.length, CONFORMANCE_CASES.length);
 *   await Deno.remove(dir, { recursive: true });
 * });
 * ```
 */
export interface ConformanceContext {
  /** The case's name, as listed in {@linkcode CONFORMANCE_CASES}. */
  readonly name: string;
  /**
   * Runs the case against another backend, then closes that backend (as the
   * suite does). Rejects when the case fails there.
   */
  runCase(hal: AxVCpuHal): Promise<void>;
}

/**
 * What {@linkcode runHalConformance} needs.
 *
 * @example A typo in a skip list is caught
 * ```ts
 * import { type HalConformanceOptions, runHalConformance } from "@rvhv/percpu/testing";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { throws } from "node:assert/strict";
 *
 * const options: HalConformanceOptions = {
 *   name: "emulator",
 *   create: () => createEmulatorHal({ harts: 2 }),
 *   createWithoutH: () => createEmulatorHal({ harts: 2, isa: ["rv64imafdc", "rv64imafdch"] }),
 *   skip: [{ reason: "harts share their CSRs", tests: ["writes are per-hart"] }],
 *   sanitize: true,
 * };
 * throws(() => runHalConformance(options), {
 *   name: "TypeError",
 *   message: 'Cannot skip "writes are per-hart": there is no such conformance case',
 * });
 * ```
 */
export interface HalConformanceOptions {
  /** The backend's name in test names. */
  name: string;
  /** Creates a fresh backend whose harts all have H (at least 2 harts). */
  create(context: ConformanceContext): AxVCpuHal | Promise<AxVCpuHal>;
  /** Creates a backend whose hart 0 has no H; without it the no-H cases are skipped. */
  createWithoutH?(context: ConformanceContext): AxVCpuHal | Promise<AxVCpuHal>;
  /** Cases this backend cannot pass, each with a reason. */
  skip?: readonly {
    /** Why these cases cannot pass on this backend. */
    reason: string;
    /** Case names, as listed in {@linkcode CONFORMANCE_CASES}. */
    tests: readonly string[];
  }[];
  /** Whether Deno's resource and op sanitizers run (turn on for socket/process backends). */
  sanitize?: boolean;
}

/** One case of the suite. */
interface ConformanceCase {
  readonly name: string;
  readonly needsNoH?: boolean;
  run(hal: AxVCpuHal, options: HalConformanceOptions): Promise<void>;
}

/** A CSR every hart has as full 64-bit storage: the supervisor scratch register. */
const SCRATCH = CSR.sscratch;
/**
 * A 16 KiB-aligned G-stage root inside every backend's RAM (the default
 * root comes from each backend's own frame allocator).
 */
const GSTAGE_ROOT = 0x8100_0000n;
/** A CSR address no hart implements (0x000 was the removed ustatus). */
const MISSING_CSR = 0x000;

const CASES: readonly ConformanceCase[] = [
  {
    name: "info() is synchronous and names the backend",
    run(hal) {
      const info = hal.info();
      ok(!(info instanceof Promise), "info() must not return a promise");
      strictEqual(typeof info.backend, "string");
      strictEqual(typeof info.isa, "string");
      ok(info.isa.startsWith("rv64"), `isa should be an RV64 ISA string, got ${info.isa}`);
      return Promise.resolve();
    },
  },
  {
    name: "harts are distinct ascending ids and mhartid matches",
    async run(hal) {
      ok(hal.harts.length >= 2, "the suite needs at least 2 harts");
      for (let i = 1; i < hal.harts.length; i++) ok(hal.harts[i]! > hal.harts[i - 1]!);
      for (const hart of hal.harts) {
        strictEqual(await hal.csr.read(hart, CSR.mhartid), BigInt(hart));
      }
    },
  },
  {
    name: "write resolves the old value and a read tells what stuck",
    async run(hal) {
      const hart = hal.harts[1]!;
      await hal.csr.write(hart, SCRATCH, 0x1234n);
      strictEqual(await hal.csr.write(hart, SCRATCH, 0xdead_beef_0000_0001n), 0x1234n);
      strictEqual(await hal.csr.read(hart, SCRATCH), 0xdead_beef_0000_0001n);
      strictEqual(await hal.csr.write(hart, SCRATCH, -1n), 0xdead_beef_0000_0001n);
      strictEqual(await hal.csr.read(hart, SCRATCH), ALL_ONES);
    },
  },
  {
    name: "set and clear change only their bits and resolve the old value",
    async run(hal) {
      const hart = hal.harts[0]!;
      await hal.csr.write(hart, SCRATCH, 0xf0n);
      strictEqual(await hal.csr.set(hart, SCRATCH, 0x0fn), 0xf0n);
      strictEqual(await hal.csr.clear(hart, SCRATCH, 0x30n), 0xffn);
      strictEqual(await hal.csr.read(hart, SCRATCH), 0xcfn);
    },
  },
  {
    name: "writes are per hart",
    async run(hal) {
      const [a, b] = [hal.harts[0]!, hal.harts[1]!];
      await hal.csr.write(a, SCRATCH, 0xaan);
      await hal.csr.write(b, SCRATCH, 0xbbn);
      strictEqual(await hal.csr.read(a, SCRATCH), 0xaan);
      strictEqual(await hal.csr.read(b, SCRATCH), 0xbbn);
    },
  },
  {
    name: "batch runs in order and a trap does not stop later operations",
    async run(hal) {
      const hart = hal.harts[0]!;
      await hal.csr.write(hart, SCRATCH, 3n);
      const results = await hal.csr.batch(hart, [
        { op: "write", csr: SCRATCH, value: 7n },
        { op: "read", csr: MISSING_CSR },
        { op: "set", csr: SCRATCH, value: 8n },
        { op: "read", csr: SCRATCH },
      ]);
      deepStrictEqual(results, [
        { ok: true, value: 3n },
        { ok: false, trapCause: 2 },
        { ok: true, value: 7n },
        { ok: true, value: 15n },
      ]);
    },
  },
  {
    name: "a missing CSR traps with illegal instruction",
    async run(hal) {
      const error = await hal.csr.read(hal.harts[0]!, MISSING_CSR).then(
        () => undefined,
        (e) => e,
      );
      ok(error instanceof CsrTrap, `expected CsrTrap, got ${error}`);
      strictEqual(error.trapCause, 2);
      strictEqual(error.csr, MISSING_CSR);
      strictEqual(error.hart, hal.harts[0]);
    },
  },
  {
    name: "a write to a read-only CSR traps and changes nothing",
    async run(hal) {
      const hart = hal.harts[1]!;
      await rejects(
        hal.csr.write(hart, CSR.mhartid, 99n),
        (e) => e instanceof CsrTrap && e.trapCause === 2,
      );
      strictEqual(await hal.csr.read(hart, CSR.mhartid), BigInt(hart));
    },
  },
  {
    name: "an unknown hart rejects with NotFound",
    async run(hal) {
      const missing = Math.max(...hal.harts) + 1;
      await rejects(
        hal.csr.read(missing, SCRATCH),
        (e) => e instanceof AxError && e.kind === "NotFound",
      );
      await rejects(
        hal.csr.batch(missing, [{ op: "read", csr: SCRATCH }]),
        (e) => e instanceof AxError && e.kind === "NotFound",
      );
    },
  },
  {
    name: "bad arguments reject before anything reaches a hart",
    async run(hal) {
      const hart = hal.harts[0]!;
      await hal.csr.write(hart, SCRATCH, 0x55n);
      const kind = (k: string) => (e: unknown) => e instanceof AxError && e.kind === k;
      for (const bad of [-1, 1.5, Number.NaN, Math.max(...hal.harts) + 1]) {
        await rejects(hal.csr.write(bad, SCRATCH, 1n), kind("NotFound"), `hart ${bad}`);
      }
      for (const bad of [-1, 0x1000, 1.5, Number.NaN]) {
        await rejects(hal.csr.read(hart, bad), kind("InvalidInput"), `CSR ${bad}`);
        await rejects(
          hal.csr.batch(hart, [{ op: "read", csr: bad }]),
          kind("InvalidInput"),
          `CSR ${bad} in a batch`,
        );
      }
      for (const bad of [1n << 64n, -(1n << 63n) - 1n]) {
        await rejects(hal.csr.write(hart, SCRATCH, bad), RangeError, `value ${bad}`);
        await rejects(hal.csr.set(hart, SCRATCH, bad), RangeError, `mask ${bad}`);
      }
      await rejects(
        hal.csr.write(hart, SCRATCH, 7 as unknown as bigint),
        kind("InvalidInput"),
        "a number is not a CSR value",
      );
      // A malformed batch runs none of its operations, not even the valid first one.
      await rejects(
        hal.csr.batch(hart, [
          { op: "write", csr: SCRATCH, value: 0xaan },
          { op: "write", csr: SCRATCH, value: 1n << 64n },
        ]),
        RangeError,
      );
      await rejects(
        hal.csr.batch(hart, [
          { op: "write", csr: SCRATCH, value: 0xaan },
          { op: "swap", csr: SCRATCH } as unknown as CsrOp,
        ]),
        kind("InvalidInput"),
      );
      strictEqual(await hal.csr.read(hart, SCRATCH), 0x55n, "nothing reached the hart");
    },
  },
  {
    name: "frames are aligned, distinct, reusable and map both ways",
    run(hal) {
      const a = hal.allocFrame();
      const b = hal.allocFrame();
      ok(a !== undefined && b !== undefined, "the backend should have free frames");
      strictEqual(a % BigInt(FRAME_SIZE), 0n);
      ok(a !== b);
      strictEqual(hal.virtToPhys(hal.physToVirt(a)), a);
      hal.deallocFrame(a);
      throws(() => hal.deallocFrame(a), (e) => e instanceof AxError && e.kind === "InvalidInput");
      hal.deallocFrame(b);
      return Promise.resolve();
    },
  },
  {
    name: "the reference set-up leaves hedeleg 0xb10d, hideleg 0x444, hvip clear on every hart",
    async run(hal) {
      for (const hart of hal.harts) {
        const percpu = await RISCVPerCpu.create(hart, hal);
        strictEqual(await hal.csr.read(hart, CSR.hedeleg), ARCEOS_POLICY.hedeleg);
        strictEqual(await hal.csr.read(hart, CSR.hideleg), ARCEOS_POLICY.hideleg);
        strictEqual((await hal.csr.read(hart, CSR.hvip)) & VS_INTERRUPTS, 0n);
        await percpu.restorePriors();
      }
    },
  },
  {
    name: "the lifecycle runs and wrong transitions are BadState",
    async run(hal) {
      const hart = hal.harts[0]!;
      const percpu = await RISCVPerCpu.create(hart, hal);
      const badState = (e: unknown) => e instanceof AxError && e.kind === "BadState";
      await rejects(percpu.hardwareDisable(), badState);
      await percpu.hardwareEnable();
      strictEqual(percpu.isEnabled(), true);
      await rejects(percpu.hardwareEnable(), badState);
      await percpu.hardwareDisable();
      strictEqual(percpu.state, "disabled");
      strictEqual(await hal.csr.read(hart, CSR.hedeleg), percpu.priors.hedeleg);
      await rejects(percpu.hardwareDisable(), badState);
      await percpu.hardwareEnable();
      strictEqual(await hal.csr.read(hart, CSR.hedeleg), 0xb10dn);
      await percpu.hardwareDisable();
    },
  },
  {
    name: "a vCPU is created only on an enabled hart; a refused create touches no CSR",
    async run(hal) {
      const hart = hal.harts[0]!;
      let accesses = 0;
      const counted = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A): R => {
        accesses++;
        return fn(...args);
      };
      const port = hal.csr;
      // The backend seen through a port that counts every call.
      const watched: AxVCpuHal = {
        harts: hal.harts,
        csr: {
          read: counted(port.read.bind(port)),
          write: counted(port.write.bind(port)),
          set: counted(port.set.bind(port)),
          clear: counted(port.clear.bind(port)),
          batch: counted(port.batch.bind(port)),
        },
        info: () => hal.info(),
        allocFrame: () => hal.allocFrame(),
        deallocFrame: (pa) => hal.deallocFrame(pa),
        physToVirt: (pa) => hal.physToVirt(pa),
        virtToPhys: (va) => hal.virtToPhys(va),
        irqFetch: () => hal.irqFetch(),
        close: () => hal.close(),
      };
      const percpu = await RISCVPerCpu.create(hart, watched);
      const badState = (e: unknown) => e instanceof AxError && e.kind === "BadState";
      let before = accesses;
      await rejects(RISCVVCpu.create(percpu), badState, "initialized");
      strictEqual(accesses, before, "a refused create touches no CSR");
      await percpu.hardwareEnable();
      const vcpu = await RISCVVCpu.create(percpu, { gstageRoot: GSTAGE_ROOT });
      strictEqual(vcpu.state, "created");
      await percpu.hardwareDisable();
      before = accesses;
      await rejects(RISCVVCpu.create(percpu), badState, "disabled");
      strictEqual(accesses, before, "a refused create touches no CSR");
    },
  },
  {
    name: "vCPU set-up, bind and unbind: ArceOS loads hgatp Sv39x4 and clears it on unbind",
    async run(hal) {
      const set = await PerCpuSet.init(hal, { policy: "arceos" });
      await set.enableAll();
      const [first, second] = hal.harts as [HartId, HartId];
      const vcpu = await RISCVVCpu.create(set.get(first), { gstageRoot: GSTAGE_ROOT });
      await vcpu.setup();
      strictEqual(vcpu.state, "free");
      const hstatus = await hal.csr.read(first, CSR.hstatus);
      strictEqual(hstatus & (HSTATUS.SPV | HSTATUS.SPVP), HSTATUS.SPV | HSTATUS.SPVP);
      await vcpu.bind();
      strictEqual(vcpu.state, "bound");
      strictEqual(
        await hal.csr.read(first, CSR.hgatp),
        (BigInt(ATP_MODE.sv39) << 60n) | (GSTAGE_ROOT >> 12n),
      );
      strictEqual(await hal.csr.read(second, CSR.hgatp), 0n, "only on its hart");
      await rejects(
        set.get(first).hardwareDisable(),
        (e) => e instanceof AxError && e.kind === "BadState",
        "a vCPU is bound",
      );
      await vcpu.unbind();
      strictEqual(vcpu.state, "free");
      strictEqual(await hal.csr.read(first, CSR.hgatp), 0n);
      await set.disableAll();
    },
  },
  {
    name: "vCPU bind under kvm loads its delegation on its hart only; unbind leaves it",
    async run(hal) {
      const set = await PerCpuSet.init(hal, { policy: "kvm" });
      await set.enableAll();
      const [first, second] = hal.harts as [HartId, HartId];
      const delegation = async (hart: HartId) => [
        await hal.csr.read(hart, CSR.hedeleg),
        await hal.csr.read(hart, CSR.hideleg),
      ];
      deepStrictEqual(await delegation(first), [0n, 0n]);
      const vcpu = await RISCVVCpu.create(set.get(first), { vmId: 1, gstageRoot: GSTAGE_ROOT });
      const other = await RISCVVCpu.create(set.get(first), { vmId: 2, gstageRoot: GSTAGE_ROOT });
      await vcpu.setup();
      await other.setup();
      await vcpu.bind();
      const loaded = [KVM_POLICY.vcpuHedeleg, KVM_POLICY.vcpuHideleg];
      deepStrictEqual(await delegation(first), loaded);
      deepStrictEqual(await delegation(second), [0n, 0n], "only on its hart");
      await rejects(
        other.bind(),
        (e) => e instanceof AxError && e.kind === "ResourceBusy",
        "one vCPU bound per hart",
      );
      strictEqual(other.state, "free");
      const hgatp = await hal.csr.read(first, CSR.hgatp);
      strictEqual(hgatp & ATP.PPN, GSTAGE_ROOT >> 12n);
      await vcpu.unbind();
      deepStrictEqual(await delegation(first), loaded, "vcpu_put writes nothing");
      strictEqual(await hal.csr.read(first, CSR.hgatp), hgatp);
      await set.disableAll();
      deepStrictEqual(await delegation(first), [
        set.get(first).priors.hedeleg,
        set.get(first).priors.hideleg,
      ]);
    },
  },
  {
    name: "close() is idempotent and every later access rejects with BadState",
    async run(hal) {
      await hal.close();
      await hal.close();
      const hart = hal.harts[0]!;
      const badState = (e: unknown) => e instanceof AxError && e.kind === "BadState";
      await rejects(hal.csr.read(hart, SCRATCH), badState);
      await rejects(hal.csr.write(hart, SCRATCH, 1n), badState);
      await rejects(hal.csr.set(hart, SCRATCH, 1n), badState);
      await rejects(hal.csr.clear(hart, SCRATCH, 1n), badState);
      await rejects(hal.csr.batch(hart, [{ op: "read", csr: SCRATCH }]), badState);
    },
  },
  {
    name: "a hart without H is detected and the set-up rejects Unsupported",
    needsNoH: true,
    async run(hal) {
      strictEqual(await hasHardwareSupport(hal, hal.harts[0]!), false);
      await rejects(
        RISCVPerCpu.create(hal.harts[0]!, hal),
        (e) => e instanceof AxError && e.kind === "Unsupported" && e.hart === hal.harts[0],
      );
      await rejects(hal.csr.read(hal.harts[0]!, CSR.hedeleg), (e) => e instanceof CsrTrap);
    },
  },
];

/**
 * The names of the conformance cases, for skip lists.
 *
 * @example Usage
 * ```ts
 * import { CONFORMANCE_CASES } from "@rvhv/percpu/testing";
 * import { ok } from "node:assert/strict";
 *
 * ok(CONFORMANCE_CASES.includes("close() is idempotent and every later access rejects with BadState"));
 * ```
 */
export const CONFORMANCE_CASES: readonly string[] = Object.freeze(CASES.map((c) => c.name));

/**
 * Registers the conformance suite as `Deno.test` cases, one per case, named
 * `<name> conformance: <case>`. Skipped cases are registered as ignored with
 * their reason in the name, so a skip is always visible.
 *
 * @example Usage
 * ```ts
 * import { runHalConformance } from "@rvhv/percpu/testing";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * runHalConformance({
 *   name: "emulator",
 *   create: () => createEmulatorHal({ harts: 2 }),
 *   // Hart 0 without H, for the no-H cases.
 *   createWithoutH: () => createEmulatorHal({ harts: 2, isa: ["rv64imafdc", "rv64imafdch"] }),
 * });
 *
 * // What the suite cannot know about a backend goes in tests of its own, beside it.
 * Deno.test("emulator reports its profile", async () => {
 *   const hal = await createEmulatorHal({ harts: 2, profile: "qemu-7.2" });
 *   strictEqual(hal.info().profile, "qemu-7.2");
 *   await hal.close();
 * });
 * ```
 *
 * @param options The backend under test.
 * @throws {TypeError} When a skip has no reason or names an unknown case.
 */
export function runHalConformance(options: HalConformanceOptions): void {
  const skipped = new Map<string, string>();
  for (const skip of options.skip ?? []) {
    if (typeof skip.reason !== "string" || skip.reason.trim() === "") {
      throw new TypeError(`Cannot skip ${skip.tests.join(", ")}: a skip needs a reason`);
    }
    for (const test of skip.tests) {
      if (!CONFORMANCE_CASES.includes(test)) {
        throw new TypeError(`Cannot skip "${test}": there is no such conformance case`);
      }
      skipped.set(test, skip.reason);
    }
  }
  for (const testCase of CASES) {
    let reason = skipped.get(testCase.name);
    if (reason === undefined && testCase.needsNoH && options.createWithoutH === undefined) {
      reason = "no createWithoutH() given";
    }
    const sanitize = options.sanitize ?? false;
    Deno.test({
      name: `${options.name} conformance: ${testCase.name}${
        reason === undefined ? "" : ` (skipped: ${reason})`
      }`,
      ignore: reason !== undefined,
      sanitizeResources: sanitize,
      sanitizeOps: sanitize,
      async fn() {
        const context: ConformanceContext = {
          name: testCase.name,
          async runCase(other: AxVCpuHal): Promise<void> {
            try {
              await testCase.run(other, options);
            } finally {
              await other.close();
            }
          },
        };
        const hal =
          await (testCase.needsNoH ? options.createWithoutH!(context) : options.create(context));
        try {
          await testCase.run(hal, options);
        } finally {
          await hal.close();
        }
      },
    });
  }
}

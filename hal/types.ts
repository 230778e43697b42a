/**
 * The contracts between the per-CPU core and the hardware backends.
 *
 * A backend (emulator, QEMU, replay, or a third-party plugin) supplies an
 * {@linkcode AxVCpuHal}; the core ({@linkcode AxArchPerCpu}, implemented once by
 * `RISCVPerCpu`) only ever talks to harts through it.
 *
 * @module
 */

/**
 * A hart's id. It equals the hart's `mhartid`.
 *
 * @example Usage
 * ```ts
 * import { CSR, type HartId } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 4 });
 * const last: HartId = hal.harts.at(-1)!;
 * strictEqual(await hal.csr.read(last, CSR.mhartid), 3n);
 * await hal.close();
 * ```
 */
export type HartId = number;

/**
 * A 12-bit CSR address (`0x000`–`0xfff`).
 *
 * @example Usage
 * ```ts
 * import { CSR, csrName, type CsrNum } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hedeleg: CsrNum = CSR.hedeleg;
 * strictEqual(hedeleg, 0x602);
 * strictEqual(csrName(0x602), "hedeleg");
 * ```
 */
export type CsrNum = number;

/**
 * One CSR operation of a {@linkcode CsrPort.batch}.
 *
 * `read` is `csrr`; `write` is `csrrw`; `set` is `csrrs`; `clear` is `csrrc`.
 * Values are `bigint` because CSRs are 64-bit (JavaScript bitwise operators on
 * `number` are 32-bit).
 *
 * @example Usage
 * ```ts
 * import { CSR, type CsrOp } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const ops: CsrOp[] = [
 *   { op: "write", csr: CSR.hedeleg, value: 0xb10dn },
 *   { op: "read", csr: CSR.hedeleg },
 * ];
 * const [write, read] = await hal.csr.batch(0, ops);
 * deepStrictEqual(write, { ok: true, value: 0n }); // csrrw reads the old value
 * deepStrictEqual(read, { ok: true, value: 0xb10dn });
 * await hal.close();
 * ```
 */
export type CsrOp =
  & ({ op: "read" } | { op: "write" | "set" | "clear"; value: bigint })
  & { csr: CsrNum };

/**
 * The outcome of one {@linkcode CsrOp} in a batch: the value the instruction
 * read (the old value for `write`/`set`/`clear`), or the trap cause the hart
 * raised instead.
 *
 * @example A hart without H traps on hgatp
 * ```ts
 * import { CSR, type CsrResult } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ isa: "rv64imac" });
 * const results: CsrResult[] = await hal.csr.batch(0, [
 *   { op: "read", csr: CSR.hgatp },
 *   { op: "read", csr: CSR.mhartid },
 * ]);
 * deepStrictEqual(results, [{ ok: false, trapCause: 2 }, { ok: true, value: 0n }]);
 * await hal.close();
 * ```
 */
export type CsrResult = { ok: true; value: bigint } | { ok: false; trapCause: number };

/**
 * CSR access to every hart of a backend, with the semantics of the CSR
 * instructions executed by the hart.
 *
 * Writes are WARL: a write resolves whatever the hart kept, so only a read
 * tells what stuck. Single operations reject with `CsrTrap` when the hart
 * refuses the access; a hart id the backend does not have rejects with an
 * `AxError` of kind `"NotFound"` and nothing is sent.
 *
 * @example Usage
 * ```ts
 * import { CSR, type CsrPort, CsrTrap } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { rejects, strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ isa: ["rv64imafdch", "rv64imac"], harts: 2 });
 * const port: CsrPort = hal.csr;
 * strictEqual(await port.write(0, CSR.sscratch, 0xf0n), 0n); // each returns the old value
 * strictEqual(await port.set(0, CSR.sscratch, 0x0fn), 0xf0n);
 * strictEqual(await port.clear(0, CSR.sscratch, 0xf0n), 0xffn);
 * strictEqual(await port.read(0, CSR.sscratch), 0x0fn);
 * await rejects(port.read(1, CSR.hgatp), CsrTrap); // hart 1 has no H
 * await hal.close();
 * ```
 */
export interface CsrPort {
  /** `csrr`: resolves to the CSR's value. */
  read(hart: HartId, csr: CsrNum): Promise<bigint>;
  /** `csrrw`: writes `value` and resolves to the old value. */
  write(hart: HartId, csr: CsrNum, value: bigint): Promise<bigint>;
  /** `csrrs`: sets the bits of `mask` and resolves to the old value. */
  set(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint>;
  /** `csrrc`: clears the bits of `mask` and resolves to the old value. */
  clear(hart: HartId, csr: CsrNum, mask: bigint): Promise<bigint>;
  /**
   * Runs `ops` on one hart, in order. A trap does not stop later operations:
   * it is reported in that operation's {@linkcode CsrResult}.
   */
  batch(hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]>;
}

/**
 * What a backend says about itself.
 *
 * @example Usage
 * ```ts
 * import type { HalInfo } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ profile: "qemu-7.2" });
 * const info: HalInfo = hal.info();
 * strictEqual(info.backend, "emulator");
 * strictEqual(info.isa, "rv64imafdch");
 * strictEqual(info.profile, "qemu-7.2");
 * await hal.close();
 * ```
 */
export interface HalInfo {
  /** The backend's name (`"emulator"`, `"qemu"`, `"replay"`, …). */
  backend: string;
  /** The ISA string of the harts (the first hart's, for mixed systems). */
  isa: string;
  /** The behaviour profile, where the backend has one. */
  profile?: string;
  /** The backend's version (QEMU's version, the package version, …). */
  version?: string;
  /** The firmware preset or the real firmware's name. */
  firmware?: string;
  /** The process id of a backend process, where there is one. */
  pid?: number;
  /** Anything else the backend wants to report. */
  [key: string]: unknown;
}

/**
 * The platform services a backend supplies: CSR access per hart, physical
 * frames, address translation and interrupt fetch.
 *
 * This is the TypeScript form of ArceOS's `AxVCpuHal` (axvcpu ≤ 0.2), with the
 * CSR port added so one core can drive many kinds of harts.
 *
 * @example Code written once for every backend
 * ```ts
 * import { type AxVCpuHal, CSR, hex } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * async function medelegs(hal: AxVCpuHal): Promise<string[]> {
 *   return await Promise.all(hal.harts.map(async (hart) => hex(await hal.csr.read(hart, CSR.medeleg))));
 * }
 *
 * const hal: AxVCpuHal = await createEmulatorHal({ harts: 2, firmware: "opensbi-1.1" });
 * deepStrictEqual(await medelegs(hal), ["0xf0b509", "0xf0b509"]);
 * const frame = hal.allocFrame()!;
 * strictEqual(hal.virtToPhys(hal.physToVirt(frame)), frame);
 * hal.deallocFrame(frame);
 * await hal.close();
 * await hal.close(); // idempotent
 * ```
 */
export interface AxVCpuHal {
  /** The harts this backend has, in ascending order. */
  readonly harts: readonly HartId[];
  /** CSR access to those harts. */
  readonly csr: CsrPort;
  /** Describes the backend; synchronous so that it can be logged anywhere. */
  info(): HalInfo;
  /** Allocates one 4 KiB physical frame; `undefined` when none is left. */
  allocFrame(): bigint | undefined;
  /** Returns a frame from {@linkcode AxVCpuHal.allocFrame}. */
  deallocFrame(pa: bigint): void;
  /** Host physical to host virtual address. */
  physToVirt(pa: bigint): bigint;
  /** Host virtual to host physical address. */
  virtToPhys(va: bigint): bigint;
  /** The number of the pending host interrupt (0 when there is none). */
  irqFetch(): number;
  /** Releases the backend. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: returns every hart to the backend's reset state (the firmware
   * preset's), where the backend can (the emulator, a QEMU it started).
   */
  reset?(): Promise<void>;
  /** Optional: diagnostic counters (QEMU: gdb packets and replies, native rounds). */
  stats?(): Readonly<Record<string, unknown>>;
  /**
   * Optional, for backends with more than one way to reach a CSR (QEMU's
   * `access`): how this hart's accesses so far were served (`"native"`,
   * `"debugger"`, or both with their counts).
   */
  accessPath?(hart: HartId): string;
  /** Optional: the trace this backend records to (a `recordHal` wrapper). */
  readonly recording?: TraceRecording;
}

/**
 * A trace being recorded: the {@linkcode AxVCpuHal.recording} capability.
 *
 * @example Usage
 * ```ts
 * import { type TraceRecording, recordHal } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const hal = await recordHal(await createEmulatorHal(), { path: `${dir}/run.jsonl` });
 * const recording: TraceRecording = hal.recording;
 * await hal.csr.read(0, 0x140);
 * strictEqual(recording.events, 1);
 * strictEqual((await recording.readEvents()).length, 1);
 * await hal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface TraceRecording {
  /** The trace's final path (`<path>.partial` until the backend is closed). */
  readonly path: string;
  /** How many events were recorded so far. */
  readonly events: number;
  /**
   * The events recorded so far, as the trace lines' JSON objects (what
   * `GET /api/trace` serves). Requires `--allow-read` for the trace.
   *
   * @param limit At most this many, the most recent.
   */
  readEvents(limit?: number): Promise<Record<string, unknown>[]>;
}

/**
 * A backend as a plugin: what a manifest's `backend.plugin` names.
 *
 * @example A plugin that wraps the emulator
 * ```ts
 * import { type AxVCpuHal, type HalPlugin, invalidOption } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual, throws } from "node:assert/strict";
 *
 * const pair: HalPlugin<{ profile: "spec" | "qemu-7.2" }> = {
 *   name: "pair",
 *   describe: "two emulated harts",
 *   permissions: [],
 *   parseOptions(raw) {
 *     const profile = (raw as { profile?: unknown } | undefined)?.profile ?? "spec";
 *     if (profile !== "spec" && profile !== "qemu-7.2") {
 *       throw invalidOption(["profile"], `expected "spec" or "qemu-7.2", got ${String(profile)}`);
 *     }
 *     return { profile };
 *   },
 *   create(options): Promise<AxVCpuHal> {
 *     return createEmulatorHal({ harts: 2, profile: options.profile });
 *   },
 * };
 *
 * throws(() => pair.parseOptions({ profile: "qemu-9" }), /Invalid option "profile"/);
 * const hal = await pair.create(pair.parseOptions({ profile: "qemu-7.2" }));
 * strictEqual(hal.info().profile, "qemu-7.2");
 * await hal.close();
 * ```
 *
 * @typeParam O The plugin's validated options.
 */
export interface HalPlugin<O = unknown> {
  /** The plugin's name, as written in a manifest. */
  readonly name: string;
  /** One line saying what the backend is. */
  readonly describe: string;
  /** The Deno permissions the backend needs, as `--allow-…` flags. */
  readonly permissions: readonly string[];
  /**
   * Validates raw options (from YAML or code). Throws a `TypeError` or an
   * `AxError` with a `path: string[]` property naming the offending option.
   */
  parseOptions(raw: unknown): O;
  /** Creates the backend. */
  create(options: O): AxVCpuHal | Promise<AxVCpuHal>;
  /**
   * The JSON Schema of the options `parseOptions` accepts, where the plugin
   * states it: the manifest's schema (`manifest/rvhv-manifest.schema.json`)
   * checks `backend.options` with it, so editors complete and check them.
   */
  readonly optionsSchema?: Readonly<Record<string, unknown>>;
  /**
   * For a backend that runs a process of its own: adds extra arguments for
   * that process to validated options. They come from the user's command
   * line only (the CLI's `--qemu-arg`, `boot`'s `qemuArgs`), never from a
   * manifest, and the plugin refuses any outside its allow-list.
   */
  withProcessArgs?(options: O, args: readonly string[]): O;
}

/**
 * Where a per-CPU state is in its lifecycle.
 *
 * @example Usage
 * ```ts
 * import { type PerCpuState, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const percpu = await RISCVPerCpu.create(0, hal);
 * const seen: PerCpuState[] = [percpu.state];
 * await percpu.hardwareEnable();
 * seen.push(percpu.state);
 * await percpu.hardwareDisable();
 * seen.push(percpu.state);
 * deepStrictEqual(seen, ["initialized", "enabled", "disabled"]);
 * await hal.close();
 * ```
 */
export type PerCpuState = "initialized" | "enabled" | "disabled";

/**
 * The per-CPU virtualization state of one hart: ArceOS's `AxArchPerCpu`.
 *
 * Created per hart (initialized), then enabled; `hardwareDisable` undoes what
 * the creation and enabling did.
 *
 * @example Usage
 * ```ts
 * import { type AxArchPerCpu, CSR, RISCVPerCpu } from "@rvhv/percpu";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ harts: 2 });
 * const percpu: AxArchPerCpu = await RISCVPerCpu.create(1, hal);
 * strictEqual(percpu.cpuId, 1);
 * strictEqual(percpu.maxGuestPageTableLevels(), 3); // Sv39x4
 * await percpu.hardwareEnable();
 * strictEqual(percpu.isEnabled(), true);
 * await percpu.hardwareDisable(); // restores the values found before the set-up
 * strictEqual(await hal.csr.read(1, CSR.hedeleg), 0n);
 * await hal.close();
 * ```
 */
export interface AxArchPerCpu {
  /** The hart this state belongs to. */
  readonly cpuId: HartId;
  /** The lifecycle state. */
  readonly state: PerCpuState;
  /** Whether hardware virtualization is on for this hart (`state === "enabled"`). */
  isEnabled(): boolean;
  /** Turns hardware virtualization on for this hart. */
  hardwareEnable(): Promise<void>;
  /** Turns hardware virtualization off for this hart. */
  hardwareDisable(): Promise<void>;
  /** How many levels the guest (stage-2) page tables have. */
  maxGuestPageTableLevels(): number;
}

/**
 * The contracts between the per-CPU core and the hardware backends.
 *
 * A backend (emulator, QEMU, replay, or a third-party plugin) supplies an
 * {@linkcode AxVCpuHal}; the core ({@linkcode AxArchPerCpu}, implemented once by
 * `RISCVPerCpu`) only ever talks to harts through it.
 *
 * @module
 */

/** A hart's id. It equals the hart's `mhartid`. */
export type HartId = number;

/** A 12-bit CSR address (`0x000`–`0xfff`). */
export type CsrNum = number;

/**
 * One CSR operation of a {@linkcode CsrPort.batch}.
 *
 * `read` is `csrr`; `write` is `csrrw`; `set` is `csrrs`; `clear` is `csrrc`.
 * Values are `bigint` because CSRs are 64-bit (JavaScript bitwise operators on
 * `number` are 32-bit).
 */
export type CsrOp =
  & ({ op: "read" } | { op: "write" | "set" | "clear"; value: bigint })
  & { csr: CsrNum };

/**
 * The outcome of one {@linkcode CsrOp} in a batch: the value the instruction
 * read (the old value for `write`/`set`/`clear`), or the trap cause the hart
 * raised instead.
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
  /**
   * Optional: {@linkcode CsrPort.batch} without the promise, offered by
   * in-process backends. The core uses it when present, so a hart's set-up
   * costs no `await` at all; semantics must equal `batch`'s.
   */
  batchSync?(hart: HartId, ops: readonly CsrOp[]): CsrResult[];
}

/** What a backend says about itself. */
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
}

/**
 * A backend as a plugin: what a manifest's `backend.plugin` names.
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
}

/** Where a per-CPU state is in its lifecycle. */
export type PerCpuState = "initialized" | "enabled" | "disabled";

/**
 * The per-CPU virtualization state of one hart: ArceOS's `AxArchPerCpu`.
 *
 * Created per hart (initialized), then enabled; `hardwareDisable` undoes what
 * the creation and enabling did.
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

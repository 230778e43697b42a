/**
 * The guest agent of native access: a small S-mode program, machine code
 * emitted by {@linkcode Assembler} (no RISC-V toolchain needed), booted by
 * the real OpenSBI that QEMU ships (`-bios default -kernel agent.elf`).
 *
 * What it does:
 * 1. The boot hart (whichever wins OpenSBI's lottery) asks SBI for its spec
 *    version, implementation id and version, probes HSM, and starts every
 *    other hart with HSM `hart_start` (stopping at `SBI_ERR_INVALID_PARAM`).
 * 2. Every hart parks in a `wfi` loop in HS-mode (S-mode without H), waiting
 *    for work in its own mailbox in RAM. The boot hart writes the header's
 *    boot-done word only after its last SBI call, so a stopped VM never
 *    catches a hart inside OpenSBI (M-mode) on the agent's behalf.
 * 3. The host stops the VM, writes per-batch machine code (the CSR number is
 *    an immediate of the instruction) into the shared code cache (harts
 *    that run the same operations share one copy, so QEMU translates it
 *    once) or the hart's own work area, the operands into the work area,
 *    a new sequence number and the code's address into its mailbox, sets
 *    `sip.SSIP` and `sie.SSIE` through the debugger to wake it, and resumes
 *    the VM.
 * 4. The woken hart runs `fence.i`, installs its own trap handler in
 *    `stvec` (keeping the previous value, which is restored afterwards),
 *    clears the wake bits the host set (as told by the mailbox), calls the
 *    batch code, and writes the sequence number into its done word.
 *    The trap handler records `scause + 1` and `stval` in the operation's
 *    result slot, skips the instruction (`sepc += 4`) and returns.
 *
 * Memory layout, from the link address `base`:
 *
 * | offset | size | what |
 * |---|---|---|
 * | 0x0 | ≤ 4 KiB | code |
 * | 0x1000 | 256 B | header (see {@linkcode HEADER}) |
 * | 0x1100 | 4 B per hart | done words: 1 once parked, then the last batch's sequence number |
 * | 0x2000 | 128 B per hart | mailboxes (see {@linkcode MAILBOX}) |
 * | 0x20000 | 64 × 5 KiB | code cache: batch code shared by every hart that runs it |
 * | 0x70000 | 9 KiB per hart | work areas: code, operands, results (see {@linkcode WORK}) |
 *
 * Needs no permissions.
 *
 * @module
 */

import { CSR } from "../../../hal/csr_numbers.ts";
import { IP, STATUS } from "../../../hal/csr_fields.ts";
import { Assembler } from "./_rv_asm.ts";
import { elf64Executable } from "./_elf.ts";

/** The most harts the agent's layout has room for (QEMU's `virt` limit). */
export const AGENT_MAX_HARTS = 512;

/** Offsets in the header. */
export const HEADER: Readonly<{
  magic: 0;
  bootDone: 8;
  bootHart: 12;
  sbiSpecVersion: 16;
  sbiImplId: 24;
  sbiImplVersion: 32;
  hsmProbe: 40;
  started: 48;
  startErrors: 52;
  harts: 56;
  mvendorid: 64;
  marchid: 72;
  mimpid: 80;
  timeEntry: 88;
  timeBooted: 96;
}> = Object.freeze({
  magic: 0,
  bootDone: 8,
  bootHart: 12,
  sbiSpecVersion: 16,
  sbiImplId: 24,
  sbiImplVersion: 32,
  hsmProbe: 40,
  started: 48,
  startErrors: 52,
  harts: 56,
  mvendorid: 64,
  marchid: 72,
  mimpid: 80,
  timeEntry: 88,
  timeBooted: 96,
});

/** Offsets in a hart's mailbox. */
export const MAILBOX: Readonly<{
  size: 128;
  seq: 0;
  restore: 4;
  code: 8;
  operands: 16;
  results: 24;
  irqCause: 32;
  irqCount: 40;
  hartid: 44;
  startReturn: 48;
  state: 56;
  startCalled: 60;
  scratch: 64;
}> = Object.freeze({
  size: 128,
  /** u32, host: a new value asks for a run. */
  seq: 0,
  /** u32, host: bit 0 clear sip.SSIP, bit 1 clear sie.SSIE (the wake bits it set). */
  restore: 4,
  /** u64, host: address of the batch code. */
  code: 8,
  /** u64, host: address of the operands. */
  operands: 16,
  /** u64, host: address of the result slots. */
  results: 24,
  /** u64, agent: the last interrupt taken while running a batch. */
  irqCause: 32,
  /** u32, agent: how many interrupts were taken. */
  irqCount: 40,
  /** u32, agent: the hart id, written when parking. */
  hartid: 44,
  /** i64, boot hart: what `hart_start` returned for this hart. */
  startReturn: 48,
  /** u32, agent: 1 entered, 2 parked. */
  state: 56,
  /** u32, boot hart: 1 once it called `hart_start` for this hart. */
  startCalled: 60,
  /** 24 bytes: the result slot used outside batches. */
  scratch: 64,
});

/** Offsets and sizes in a hart's work area. */
export const WORK: Readonly<{
  size: 0x2400;
  code: 0;
  codeSize: 0x1400;
  operands: 0x1400;
  results: 0x1800;
  resultSize: 24;
  maxOps: 128;
}> = Object.freeze({
  size: 0x2400,
  code: 0,
  codeSize: 0x1400,
  operands: 0x1400,
  results: 0x1800,
  /** Per operation: the value (u64), the trap word (u64: 0, or scause + 1), stval (u64). */
  resultSize: 24,
  /** The most operations one run of the batch code holds. */
  maxOps: 128,
});

/** The header's first word: "RVHVAGNT". */
export const AGENT_MAGIC = 0x544e_4741_5648_5652n;
/** The header's boot-done word, once the boot hart made its last SBI call. */
export const BOOT_DONE = 0x0b00_7d0e;
/** A hart's done word once it has parked after boot. */
export const PARKED = 1;
/** Wake bits the agent clears: `sip.SSIP`, `sie.SSIE`. */
export const RESTORE_SSIP = 1;
/** See {@linkcode RESTORE_SSIP}. */
export const RESTORE_SSIE = 2;

const HEADER_OFFSET = 0x1000;
const DONE_OFFSET = 0x1100;
const MAILBOX_OFFSET = 0x2000;
const CODE_CACHE_OFFSET = 0x2_0000;
const WORK_OFFSET = 0x7_0000;

/** How many batch programs the shared code cache holds (each {@linkcode WORK}.codeSize bytes). */
export const CODE_CACHE_SLOTS = 64;
const CODE_LIMIT = 0x1000;

const SBI_BASE = 0x10;
const SBI_HSM = 0x48534d;
const SBI_ERR_INVALID_PARAM = -3;
/** The status and wake-up bits the agent's code uses as immediates. */
const SSTATUS_SIE = Number(STATUS.SIE);
const SSTATUS_SPIE = Number(STATUS.SPIE);
const SSIP = Number(IP.SSIP);

/** Where everything of an agent is, for a given link address and hart count. */
export interface AgentLayout {
  /** Link and load address: the entry point. */
  readonly base: number;
  /** How many harts the boot hart starts (hart ids 0 to `harts - 1`). */
  readonly harts: number;
  /** The header. */
  readonly header: number;
  /** The done words (4 bytes per hart). */
  readonly done: number;
  /** The first mailbox. */
  readonly mailboxes: number;
  /** The first work area. */
  readonly work: number;
  /** The shared code cache ({@linkcode CODE_CACHE_SLOTS} slots). */
  readonly codeCache: number;
  /** The first address after the work areas. */
  readonly end: number;
}

/**
 * The link address for a hart count: 0x80200000 (where OpenSBI's
 * fw_dynamic expects a kernel) while the firmware's memory, which grows
 * with the hart count (OpenSBI 1.6: 2488 KiB at 128 harts, its region
 * reaching 0x803fffff), stays below it; otherwise the next 2 MiB boundary
 * above an estimate of 20 KiB per hart plus 768 KiB (0x80400000 at 128
 * harts, 0x80c00000 at 512).
 *
 * @example Usage
 * ```ts
 * import { agentBase } from "./_agent.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(agentBase(4), 0x8020_0000);
 * strictEqual(agentBase(64), 0x8020_0000);
 * strictEqual(agentBase(128), 0x8040_0000);
 * ```
 *
 * @param harts The hart count.
 * @returns The address.
 */
export function agentBase(harts: number): number {
  const firmware = 768 * 1024 + 20 * 1024 * harts;
  const twoMiB = 2 * 1024 * 1024;
  const above = 0x8000_0000 + Math.ceil(firmware / twoMiB) * twoMiB;
  return Math.max(0x8020_0000, above);
}

/**
 * The layout of an agent for a hart count.
 *
 * @example Usage
 * ```ts
 * import { agentLayout } from "./_agent.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const layout = agentLayout(4);
 * strictEqual(layout.header, 0x8020_1000);
 * strictEqual(layout.mailboxes, 0x8020_2000);
 * ```
 *
 * @param harts How many harts (1 to 512).
 * @param base The link address. Default {@linkcode agentBase}.
 * @returns The layout.
 * @throws {RangeError} For a hart count out of range or an unaligned base.
 */
export function agentLayout(harts: number, base: number = agentBase(harts)): AgentLayout {
  if (!Number.isInteger(harts) || harts < 1 || harts > AGENT_MAX_HARTS) {
    throw new RangeError(`Cannot lay out the agent for ${harts} harts: expected 1 to 512`);
  }
  if (!Number.isInteger(base) || base % 0x1000 !== 0 || base < 0x8000_0000) {
    throw new RangeError(
      `Cannot lay out the agent at 0x${base.toString(16)}: expected a 4 KiB-aligned RAM address`,
    );
  }
  return Object.freeze({
    base,
    harts,
    header: base + HEADER_OFFSET,
    done: base + DONE_OFFSET,
    mailboxes: base + MAILBOX_OFFSET,
    work: base + WORK_OFFSET,
    codeCache: base + CODE_CACHE_OFFSET,
    end: base + WORK_OFFSET + harts * WORK.size,
  });
}

/**
 * Where a hart's mailbox is.
 *
 * @example Usage
 * ```ts
 * import { agentLayout, mailboxOf } from "./_agent.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(mailboxOf(agentLayout(4), 3), 0x8020_2180);
 * ```
 *
 * @param layout The agent's layout.
 * @param hart The hart.
 * @returns The address.
 */
export function mailboxOf(layout: AgentLayout, hart: number): number {
  return layout.mailboxes + hart * MAILBOX.size;
}

/**
 * Where a hart's work area is.
 *
 * @example Usage
 * ```ts
 * import { agentLayout, workOf } from "./_agent.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(workOf(agentLayout(4), 1), 0x8027_2400);
 * ```
 *
 * @param layout The agent's layout.
 * @param hart The hart.
 * @returns The address.
 */
export function workOf(layout: AgentLayout, hart: number): number {
  return layout.work + hart * WORK.size;
}

/**
 * Where a slot of the shared code cache is.
 *
 * @example Usage
 * ```ts
 * import { agentLayout, codeSlotOf } from "./_agent.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(codeSlotOf(agentLayout(4), 1), 0x8022_1400);
 * ```
 *
 * @param layout The agent's layout.
 * @param slot The slot, 0 to {@linkcode CODE_CACHE_SLOTS} − 1.
 * @returns The address.
 */
export function codeSlotOf(layout: AgentLayout, slot: number): number {
  return layout.codeCache + slot * WORK.codeSize;
}

/** An assembled agent. */
export interface Agent {
  /** Its layout. */
  readonly layout: AgentLayout;
  /** The machine code, loaded at `layout.base`. */
  readonly code: Uint8Array;
  /** The ELF file for `-kernel`. */
  readonly elf: Uint8Array;
  /** Addresses of the agent's labels (entry points, park loop, trap handler). */
  readonly symbols: Readonly<Record<string, number>>;
}

/** Per-hart register use, kept across parking. */
const R = Object.freeze({
  mailbox: "s0",
  lastSeq: "s5",
  doneWord: "s6",
  header: "s7",
  userStvec: "s8",
  handler: "s9",
  hartid: "s10",
});

/**
 * Assembles the agent for a layout.
 *
 * @example Usage
 * ```ts
 * import { agentLayout, buildAgent } from "./_agent.ts";
 * import { ok, strictEqual } from "node:assert/strict";
 *
 * const agent = buildAgent(agentLayout(4));
 * strictEqual(agent.symbols._start, 0x8020_0000);
 * ok(agent.code.length <= 0x1000);
 * ```
 *
 * @param layout Where it runs and how many harts it starts.
 * @returns The code, the ELF and the symbols.
 * @throws {RangeError} When the code outgrows its 4 KiB.
 */
export function buildAgent(layout: AgentLayout): Agent {
  const a = new Assembler(layout.base);
  const { header, mailboxes, done } = layout;

  // ---- boot hart: a0 = hartid, a1 = FDT ----
  a.label("_start");
  a.mv(R.hartid, "a0");
  a.jal("ra", "hart_init");
  a.la(R.header, header);
  a.csr("csrrs", "t0", CSR.time, "zero");
  a.sd("t0", HEADER.timeEntry, R.header);
  a.sw(R.hartid, HEADER.bootHart, R.header);
  a.li("t0", layout.harts);
  a.sw("t0", HEADER.harts, R.header);
  // SBI base extension: spec version, implementation id and version, HSM
  // probe, mvendorid, marchid, mimpid (each answer in a1).
  const baseCalls: [number, number][] = [
    [0, HEADER.sbiSpecVersion],
    [1, HEADER.sbiImplId],
    [2, HEADER.sbiImplVersion],
    [3, HEADER.hsmProbe],
    [4, HEADER.mvendorid],
    [5, HEADER.marchid],
    [6, HEADER.mimpid],
  ];
  for (const [fid, offset] of baseCalls) {
    a.li("a7", SBI_BASE);
    a.li("a6", fid);
    if (fid === 3) a.li("a0", SBI_HSM);
    a.ecall();
    a.sd("a1", offset, R.header);
  }
  // Start every other hart: HSM hart_start(hartid, secondary_entry, opaque = hartid).
  a.li("s1", 0); // candidate hart id
  a.li("s2", 0); // started
  a.li("s3", 0); // errors
  a.li("s4", layout.harts);
  a.label("start_loop");
  a.beq("s1", R.hartid, "start_next");
  a.li("a7", SBI_HSM);
  a.li("a6", 0);
  a.mv("a0", "s1");
  a.laLabel("a1", "secondary_entry");
  a.mv("a2", "s1");
  a.ecall();
  a.la("t0", mailboxes);
  a.slli("t1", "s1", 7);
  a.add("t0", "t0", "t1");
  a.sd("a0", MAILBOX.startReturn, "t0");
  a.li("t1", 1);
  a.sw("t1", MAILBOX.startCalled, "t0");
  a.li("t0", SBI_ERR_INVALID_PARAM);
  a.beq("a0", "t0", "start_end");
  a.beqz("a0", "start_ok");
  a.addi("s3", "s3", 1);
  a.j("start_next");
  a.label("start_ok");
  a.addi("s2", "s2", 1);
  a.label("start_next");
  a.addi("s1", "s1", 1);
  a.blt("s1", "s4", "start_loop");
  a.label("start_end");
  a.sw("s2", HEADER.started, R.header);
  a.sw("s3", HEADER.startErrors, R.header);
  a.csr("csrrs", "t0", CSR.time, "zero");
  a.sd("t0", HEADER.timeBooted, R.header);
  a.fence();
  // The boot-done word comes after the last SBI call (never stop a hart in M-mode).
  a.li("t0", BOOT_DONE);
  a.sw("t0", HEADER.bootDone, R.header);
  a.j("park_init");

  // ---- other harts: a0 = hartid, a1 = opaque ----
  a.label("secondary_entry");
  a.mv(R.hartid, "a0");
  a.jal("ra", "hart_init");
  a.j("park_init");

  // s0 = this hart's mailbox, s6 = its done word; state = entered.
  a.label("hart_init");
  a.la(R.mailbox, mailboxes);
  a.slli("t0", R.hartid, 7);
  a.add(R.mailbox, R.mailbox, "t0");
  a.la(R.doneWord, done);
  a.slli("t0", R.hartid, 2);
  a.add(R.doneWord, R.doneWord, "t0");
  a.li("t0", 1);
  a.sw("t0", MAILBOX.state, R.mailbox);
  a.ret();

  a.label("park_init");
  a.csr("csrrci", "zero", CSR.sstatus, SSTATUS_SIE);
  a.laLabel(R.handler, "trap");
  a.addi("a2", R.mailbox, MAILBOX.scratch);
  a.sw(R.hartid, MAILBOX.hartid, R.mailbox);
  a.lw(R.lastSeq, MAILBOX.seq, R.mailbox);
  a.li("t0", 2);
  a.sw("t0", MAILBOX.state, R.mailbox);
  a.fence();
  a.li("t0", PARKED);
  a.sw("t0", 0, R.doneWord);

  // ---- the park loop ----
  a.label("park");
  a.wfi();
  a.lw("t0", MAILBOX.seq, R.mailbox);
  a.beq("t0", R.lastSeq, "park");
  a.mv(R.lastSeq, "t0");
  a.fence();
  a.fenceI();
  a.csr("csrrw", R.userStvec, CSR.stvec, R.handler);
  a.lw("t1", MAILBOX.restore, R.mailbox);
  a.andi("t2", "t1", RESTORE_SSIP);
  a.beqz("t2", "keep_ssip");
  a.csr("csrrci", "zero", CSR.sip, SSIP);
  a.label("keep_ssip");
  a.andi("t2", "t1", RESTORE_SSIE);
  a.beqz("t2", "keep_ssie");
  a.csr("csrrci", "zero", CSR.sie, SSIP);
  a.label("keep_ssie");
  a.ld("a1", MAILBOX.operands, R.mailbox);
  a.ld("a2", MAILBOX.results, R.mailbox);
  a.ld("t3", MAILBOX.code, R.mailbox);
  a.label("call_batch");
  a.jalr("ra", 0, "t3");
  a.addi("a2", R.mailbox, MAILBOX.scratch);
  a.csr("csrrw", "zero", CSR.stvec, R.userStvec);
  a.fence();
  a.sw(R.lastSeq, 0, R.doneWord);
  a.j("park");

  // ---- trap handler (direct mode, 4-byte aligned) ----
  a.align(4);
  a.label("trap");
  a.csr("csrrs", "t3", CSR.scause, "zero");
  a.bltz("t3", "trap_interrupt");
  a.addi("t4", "t3", 1);
  a.sd("t4", 8, "a2");
  a.csr("csrrs", "t4", CSR.stval, "zero");
  a.sd("t4", 16, "a2");
  a.csr("csrrs", "t4", CSR.sepc, "zero");
  a.addi("t4", "t4", 4);
  a.csr("csrrw", "zero", CSR.sepc, "t4");
  a.sret();
  // An interrupt (only possible if a batch enabled one with sstatus.SIE set):
  // record it and return with SIE clear.
  a.label("trap_interrupt");
  a.sd("t3", MAILBOX.irqCause, R.mailbox);
  a.lw("t4", MAILBOX.irqCount, R.mailbox);
  a.addi("t4", "t4", 1);
  a.sw("t4", MAILBOX.irqCount, R.mailbox);
  a.li("t4", SSTATUS_SPIE);
  a.csr("csrrc", "zero", CSR.sstatus, "t4");
  a.sret();

  const code = a.assemble();
  if (code.length > CODE_LIMIT) {
    throw new RangeError(`Cannot build the agent: its code is ${code.length} bytes, over 4 KiB`);
  }
  const image = new Uint8Array(HEADER_OFFSET + 8);
  image.set(code);
  new DataView(image.buffer).setBigUint64(HEADER_OFFSET + HEADER.magic, AGENT_MAGIC, true);
  const symbols: Record<string, number> = {};
  for (
    const name of [
      "_start",
      "secondary_entry",
      "park_init",
      "park",
      "call_batch",
      "trap",
      "trap_interrupt",
    ]
  ) {
    symbols[name] = a.address(name);
  }
  return Object.freeze({
    layout,
    code,
    elf: elf64Executable({
      address: BigInt(layout.base),
      entry: BigInt(layout.base),
      bytes: image,
      memorySize: MAILBOX_OFFSET + layout.harts * MAILBOX.size,
    }),
    symbols: Object.freeze(symbols),
  });
}

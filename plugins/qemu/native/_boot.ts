/**
 * Booting the guest agent of native access: how QEMU is started for it
 * (its real OpenSBI, the agent as `-kernel`), letting the VM run until every
 * hart has parked in the agent, and what the agent found out (SBI version,
 * boot hart, timings). The rounds that serve CSR operations afterwards are
 * `./_native_access.ts`'s.
 *
 * Needs what the QEMU backend needs (`--allow-net` etc. for its sockets).
 *
 * @module
 */

import { AxError } from "../../../hal/errors.ts";
import { hex } from "../../../hal/hex.ts";
import type { HartId } from "../../../hal/types.ts";
import { locateHart } from "../_debugger_access.ts";
import type { QemuSpawnOptions } from "../qemu_process.ts";
import type { QemuSession } from "../_session.ts";
import {
  type Agent,
  AGENT_MAGIC,
  type AgentLayout,
  agentLayout,
  BOOT_DONE,
  buildAgent,
  HEADER,
  MAILBOX,
  mailboxOf,
  PARKED,
} from "./_agent.ts";
import { joinReads, readPackets, readWordsOverQmp } from "../_guest_memory.ts";

/** What native access needs of a QEMU session: its clients, its harts, and running the VM. */
export type NativeSession = Pick<
  QemuSession,
  "qmp" | "gdb" | "harts" | "running" | "resume" | "stop"
>;

/** What {@linkcode bootAgent} needs. */
export interface AgentBootOptions {
  /** The agent QEMU was started with. */
  readonly layout: AgentLayout;
  /** How long every hart may take to park after `cont`, in ms. */
  readonly bootTimeoutMs: number;
  /** `performance.now()` when QEMU was spawned, to report spawn-to-parked time. */
  readonly spawnedAt?: number;
}

/** What the agent found out at boot. */
export interface NativeBootInfo {
  /** The hart that won OpenSBI's lottery and started the others. */
  readonly bootHart: HartId;
  /** The SBI specification version, e.g. `"1.0"`. */
  readonly sbiSpec: string;
  /** The SBI implementation, e.g. `"OpenSBI v1.1"`. */
  readonly firmware: string;
  /** Raw SBI implementation id and version. */
  readonly sbiImplId: number;
  /** Raw implementation version (`major << 16 | minor` for OpenSBI). */
  readonly sbiImplVersion: number;
  /** How many harts `hart_start` started. */
  readonly started: number;
  /** Milliseconds from `cont` until every hart had parked. */
  readonly parkMs: number;
  /** Milliseconds from spawning QEMU until every hart had parked, when known. */
  readonly bootMs?: number;
  /** mvendorid, marchid, mimpid as SBI reports them. */
  readonly machine: {
    readonly mvendorid: bigint;
    readonly marchid: bigint;
    readonly mimpid: bigint;
  };
}

/** The SBI implementation ids of the SBI specification. */
const SBI_IMPLEMENTATIONS: readonly string[] = [
  "BBL",
  "OpenSBI",
  "Xvisor",
  "KVM",
  "RustSBI",
  "Diosix",
  "Coffer",
  "Xen",
  "PolarFire HSS",
  "coreboot",
  "oreboot",
  "bhyve",
];

/**
 * Describes an SBI implementation from its id and version, e.g.
 * `"OpenSBI v1.6"`.
 *
 * @example Usage
 * ```ts
 * import { describeSbiImplementation } from "./_boot.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(describeSbiImplementation(1, 0x10006), "OpenSBI v1.6");
 * ```
 *
 * @param id The implementation id.
 * @param version The implementation version.
 * @returns The description.
 */
export function describeSbiImplementation(id: number, version: number): string {
  const name = SBI_IMPLEMENTATIONS[id] ?? `SBI implementation ${id}`;
  // OpenSBI (and most others) encode major << 16 | minor.
  return `${name} v${version >>> 16}.${version & 0xffff}`;
}

/**
 * Describes an SBI specification version, e.g. `"2.0"`.
 *
 * @example Usage
 * ```ts
 * import { describeSbiSpec } from "./_boot.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(describeSbiSpec(0x0100_0000), "1.0");
 * ```
 *
 * @param version The version word (major in bits 30:24, minor in 23:0).
 * @returns The description.
 */
export function describeSbiSpec(version: number): string {
  return `${(version >>> 24) & 0x7f}.${version & 0xff_ffff}`;
}

/**
 * Lets a VM held at `-S` run until every hart has parked in the agent,
 * stops it, and checks that every hart is in S-mode.
 *
 * @param session The QEMU session (VM not running).
 * @param options The agent's layout and the boot time-out.
 * @returns What the agent found out.
 * @throws {AxError} Kind `"Timeout"` naming the first hart that did not
 *   park in time (and where it is); `"InvalidData"` when the agent's header
 *   is not there or a hart is not in S-mode.
 */
export async function bootAgent(
  session: NativeSession,
  options: AgentBootOptions,
): Promise<NativeBootInfo> {
  const { layout } = options;
  const { qmp, gdb } = session;
  if (session.harts.length !== layout.harts) {
    throw new AxError(
      "InvalidData",
      `Cannot boot the native agent: QEMU has ${session.harts.length} harts, the agent was built for ${layout.harts}`,
    );
  }
  const started = performance.now();
  session.resume(options.bootTimeoutMs);
  let bootDone = 0;
  let words: number[] = [];
  const deadline = started + options.bootTimeoutMs;
  let parked = false;
  let wait = 1;
  // One xp reads the boot-done word and every done word.
  const from = layout.header + HEADER.bootDone;
  const skip = (layout.done - from) / 4;
  while (!parked) {
    const read = await readWordsOverQmp(qmp, from, skip + layout.harts);
    bootDone = read[0]!;
    words = read.slice(skip);
    parked = bootDone === BOOT_DONE && words.every((word) => word === PARKED);
    if (parked || performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(5, wait + 1);
  }
  const parkedAt = performance.now();
  await session.stop();
  if (!parked) {
    throw await bootTimeout(session, options, bootDone, words);
  }
  const header = joinReads(
    await gdb.exchangeOnHart(session.harts[0]!, readPackets(layout.header, 104)),
    104,
  );
  const view = new DataView(header.buffer);
  const word64 = (offset: number) => view.getBigUint64(offset, true);
  if (word64(HEADER.magic) !== AGENT_MAGIC) {
    throw new AxError(
      "InvalidData",
      `Cannot use the native agent: its header at ${
        hex(BigInt(layout.header))
      } does not hold its magic`,
    );
  }
  // Every hart must be in S-mode (priv 1): parked in the agent, not inside OpenSBI.
  const priv = gdb.codec.readRegister("priv");
  if (priv !== undefined) {
    const replies = await Promise.all(
      session.harts.map((hart) => gdb.exchangeOnHart(hart, [priv])),
    );
    replies.forEach(([reply], i) => {
      const mode = gdb.codec.registerValue(reply!);
      if (mode !== 1n) {
        throw new AxError(
          "InvalidData",
          `Cannot use the native agent: hart ${
            session.harts[i]
          } is in privilege mode ${mode} after parking, not S-mode`,
          { hart: session.harts[i]! },
        );
      }
    });
  }
  const implId = Number(word64(HEADER.sbiImplId));
  const implVersion = Number(word64(HEADER.sbiImplVersion));
  return Object.freeze({
    bootHart: view.getUint32(HEADER.bootHart, true),
    sbiSpec: describeSbiSpec(Number(word64(HEADER.sbiSpecVersion))),
    firmware: describeSbiImplementation(implId, implVersion),
    sbiImplId: implId,
    sbiImplVersion: implVersion,
    started: view.getUint32(HEADER.started, true),
    parkMs: parkedAt - started,
    ...(options.spawnedAt === undefined ? {} : { bootMs: parkedAt - options.spawnedAt }),
    machine: Object.freeze({
      mvendorid: word64(HEADER.mvendorid),
      marchid: word64(HEADER.marchid),
      mimpid: word64(HEADER.mimpid),
    }),
  });
}

/** Builds the error for harts that did not park, saying where they are. */
async function bootTimeout(
  session: NativeSession,
  options: AgentBootOptions,
  bootDone: number,
  words: readonly number[],
): Promise<AxError> {
  const { layout } = options;
  const missing = session.harts.filter((hart) => words[hart] !== PARKED);
  const hart = missing[0];
  const within = `within ${options.bootTimeoutMs} ms`;
  const unfinished = bootDone === BOOT_DONE
    ? ""
    : "; the boot hart had not finished starting the others";
  if (hart === undefined) {
    return new AxError(
      "Timeout",
      `Cannot boot the native agent on ${layout.harts} harts: every hart parked ${within}${unfinished}`,
    );
  }
  let where = "";
  try {
    const { level, pc, more: mailbox } = await locateHart(
      session.gdb,
      hart,
      readPackets(mailboxOf(layout, hart), MAILBOX.size),
    );
    const box = new DataView(joinReads(mailbox, MAILBOX.size).buffer);
    const state = box.getUint32(MAILBOX.state, true);
    const started = box.getUint32(MAILBOX.startCalled, true) === 0
      ? "the boot hart did not start it"
      : `hart_start returned ${box.getBigInt64(MAILBOX.startReturn, true)}`;
    where = `: it is in ${level}-mode at pc ${hex(pc)}, ` +
      `${state === 0 ? "never entered the agent" : `entered the agent (state ${state})`}, ` +
      `and ${started}`;
  } catch {
    // Keep the message without the location.
  }
  const more = missing.length > 1 ? ` (nor did ${missing.length - 1} more)` : "";
  return new AxError(
    "Timeout",
    `Cannot boot the native agent on ${layout.harts} harts: hart ${hart} did not park ` +
      `${within}${more}${where}${unfinished}`,
    { hart },
  );
}

const agents = new Map<number, Agent>();

/**
 * The agent for a hart count, built once and kept (it is deterministic).
 *
 * @example Usage
 * ```ts
 * import { agentFor } from "./_boot.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(agentFor(4), agentFor(4));
 * strictEqual(agentFor(4).layout.harts, 4);
 * ```
 *
 * @param harts The hart count.
 * @returns The agent.
 */
export function agentFor(harts: number): Agent {
  let agent = agents.get(harts);
  if (agent === undefined) {
    agent = buildAgent(agentLayout(harts));
    agents.set(harts, agent);
  }
  return agent;
}

/**
 * How QEMU is started for native access: QEMU's own OpenSBI (`-bios
 * default`) and the agent as `-kernel`. (TCG stays single-threaded, as for
 * debugger access: every hart of the agent parks in `wfi` and none spins,
 * so one thread for all harts boots faster than one per hart even at 4
 * harts on a 2-core host, and 6–8 times faster at 64.)
 *
 * @example Usage
 * ```ts
 * import { nativeSpawnOptions } from "./_boot.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(nativeSpawnOptions(64).bios, "default");
 * ```
 *
 * @param harts The hart count.
 * @returns The spawn options to add.
 */
export function nativeSpawnOptions(
  harts: number,
): Required<Pick<QemuSpawnOptions, "bios" | "kernel">> {
  return { bios: "default", kernel: agentFor(harts).elf };
}

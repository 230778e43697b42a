import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  AGENT_MAGIC,
  AGENT_MAX_HARTS,
  agentBase,
  agentLayout,
  buildAgent,
  CODE_CACHE_SLOTS,
  codeSlotOf,
  MAILBOX,
  mailboxOf,
  WORK,
  workOf,
} from "./_agent.ts";
import { disassemble, objdumpTest } from "../../../tests/_helpers/objdump.ts";

Deno.test("agentBase() moves the agent above OpenSBI's memory as harts grow", () => {
  strictEqual(agentBase(1), 0x8020_0000);
  strictEqual(agentBase(64), 0x8020_0000, "OpenSBI 1.6 at 64 harts ends at 0x801fffff");
  strictEqual(agentBase(65), 0x8040_0000);
  strictEqual(agentBase(128), 0x8040_0000, "OpenSBI 1.6 at 128 harts reaches 0x803fffff");
  strictEqual(agentBase(512), 0x80c0_0000);
});

Deno.test("agentLayout() keeps header, done words, mailboxes and work areas apart", () => {
  for (const harts of [1, 4, 64, 128, AGENT_MAX_HARTS]) {
    const layout = agentLayout(harts);
    ok(layout.header >= layout.base + 0x1000, "the header follows the 4 KiB of code");
    ok(layout.done + 4 * AGENT_MAX_HARTS <= layout.mailboxes);
    ok(mailboxOf(layout, AGENT_MAX_HARTS) <= layout.codeCache);
    ok(codeSlotOf(layout, CODE_CACHE_SLOTS) <= layout.work);
    strictEqual(workOf(layout, harts), layout.end);
    // Native access hands out frames from 0x84000000: the agent stays below.
    ok(layout.end <= 0x8400_0000, `agent for ${harts} harts ends at ${layout.end.toString(16)}`);
  }
  throws(() => agentLayout(0), /expected 1 to 512/);
  throws(() => agentLayout(513), /expected 1 to 512/);
  throws(() => agentLayout(4, 0x8020_0800), /4 KiB-aligned/);
});

Deno.test("buildAgent() fits in 4 KiB, is deterministic, and its ELF enters at the base", () => {
  const layout = agentLayout(128);
  const agent = buildAgent(layout);
  ok(agent.code.length <= 0x1000);
  deepStrictEqual(buildAgent(layout).elf, agent.elf);
  const view = new DataView(agent.elf.buffer);
  strictEqual(view.getBigUint64(24, true), 0x8040_0000n, "e_entry");
  // The header's magic is part of the loaded image.
  strictEqual(view.getBigUint64(0x1000 + 0x1000, true), AGENT_MAGIC);
  strictEqual(agent.symbols._start, layout.base);
  strictEqual(agent.symbols.trap! % 4, 0, "stvec direct mode needs a 4-byte-aligned handler");
  ok(agent.symbols.secondary_entry! > agent.symbols._start!);
  // The number of harts to start is an immediate: agents for other counts differ.
  ok(buildAgent(agentLayout(4)).code.some((b, i) => b !== buildAgent(agentLayout(5)).code[i]));
  strictEqual(MAILBOX.scratch + 3 * 8 <= MAILBOX.size, true);
  strictEqual(WORK.results + WORK.maxOps * WORK.resultSize <= WORK.size, true);
});

objdumpTest(
  "the agent parks in wfi and its trap handler skips the faulting instruction",
  async () => {
    const agent = buildAgent(agentLayout(4));
    const listing = await disassemble(agent.code, agent.layout.base);
    const at = (address: number) => listing.findIndex((line) => line.address === address);
    const park = at(agent.symbols.park!);
    deepStrictEqual(listing.slice(park, park + 7).map((line) => line.text), [
      "wfi",
      "lw x5,0(x8)", // the mailbox's sequence number
      `beq x5,x21,0x${agent.symbols.park!.toString(16)}`, // unchanged: back to wfi
      "addi x21,x5,0",
      "fence rw,rw",
      "fence.i", // the host wrote new batch code
      "csrrw x24,stvec,x25", // the agent's handler in, the previous stvec kept
    ]);
    const trap = at(agent.symbols.trap!);
    deepStrictEqual(listing.slice(trap, trap + 10).map((line) => line.text), [
      "csrrs x28,scause,x0",
      `blt x28,x0,0x${agent.symbols.trap_interrupt!.toString(16)}`,
      "addi x29,x28,1",
      "sd x29,8(x12)", // scause + 1 into the result slot
      "csrrs x29,stval,x0",
      "sd x29,16(x12)",
      "csrrs x29,sepc,x0",
      "addi x29,x29,4",
      "csrrw x0,sepc,x29", // skip the instruction
      "sret",
    ]);
    // HSM hart_start: EID "HSM", FID 0, then ecall.
    const texts = listing.map((line) => line.text);
    ok(texts.includes("lui x17,0x485"));
    strictEqual(texts.filter((text) => text === "ecall").length, 8, "7 base calls and hart_start");
    strictEqual(texts.filter((text) => text === "wfi").length, 1);
  },
);

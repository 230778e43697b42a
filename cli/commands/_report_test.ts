/**
 * The streamed forms of `up`'s output are the documents the CLI printed
 * whole, written in pieces small enough never to be held as one text.
 */

import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { PerCpuSet } from "../../percpu/percpu_set.ts";
import { hartsToRead } from "../../percpu/percpu_set.ts";
import { describeHart } from "../../percpu/report.ts";
import { createEmulatorHal } from "../../plugins/emulator/mod.ts";
import { renderTable } from "../io.ts";
import { hartTable, vcpuLine, writeHartTable, writeUpJson } from "./_report.ts";
import { SETUP_CSR_NAMES } from "../../percpu/policy.ts";
import { hex } from "../../hal/hex.ts";

/** The biggest piece a streamed output may write: the engine's limit for small objects. */
const PIECE_LIMIT = 128 * 1024;

async function setOf(harts: number, setUp: number): Promise<PerCpuSet> {
  const hal = await createEmulatorHal({ harts, profile: "qemu-7.2" });
  const set = await PerCpuSet.init(hal, { harts: hal.harts.slice(0, setUp) });
  await set.enableAll();
  return set;
}

Deno.test("writeUpJson() writes JSON.stringify's document in pieces", async (t) => {
  for (const [harts, setUp] of [[1, 0], [1, 1], [33, 33], [200, 200]]) {
    await t.step(`${setUp} of ${harts} harts`, async () => {
      const set = await setOf(harts!, setUp!);
      const via = (hart: number) => `path ${hart}`;
      const info = set.hal.info();
      const pieces: string[] = [];
      writeUpJson(info, set.policy.name, set, via, (piece) => pieces.push(piece));
      const expected = JSON.stringify(
        {
          backend: info,
          policy: set.policy.name,
          harts: [...set].map((percpu) => ({ ...describeHart(percpu), via: via(percpu.cpuId) })),
        },
        null,
        2,
      ) + "\n";
      strictEqual(pieces.join(""), expected);
      ok(pieces.every((piece) => piece.length < PIECE_LIMIT));
      if (setUp! > 100) ok(pieces.length > 3, `${pieces.length} pieces`);
      await set.hal.close();
    });
  }
});

Deno.test("writeHartTable() writes the table hartTable() renders, in pieces", async () => {
  const set = await setOf(1500, 1500);
  const pieces: string[] = [];
  writeHartTable(set, undefined, (piece) => pieces.push(piece));
  ok(pieces.length > 1);
  ok(pieces.every((piece) => piece.length < PIECE_LIMIT));
  const rows = [...set].map((percpu) => [
    String(percpu.cpuId),
    "enabled",
    "yes",
    ...percpu.csrReport().map((entry) => hex(entry.kept)),
    "-",
  ]);
  const expected = renderTable(["hart", "state", "H", ...SETUP_CSR_NAMES, "refused"], rows);
  strictEqual(pieces.join(""), expected);
  strictEqual(hartTable(set), expected);
  strictEqual(vcpuLine(set), undefined);
  await set.hal.close();
});

Deno.test("hartsToRead() yields the set's own states where made, and keeps none it makes", async () => {
  const set = await setOf(3, 3);
  const kept = set.get(0);
  const read = [...hartsToRead(set)];
  strictEqual(read[0], kept);
  deepStrictEqual(read.map((percpu) => [percpu.cpuId, percpu.state]), [
    [0, "enabled"],
    [1, "enabled"],
    [2, "enabled"],
  ]);
  notStrictEqual(read[1], set.get(1), "made for the read, not kept by the set");
  strictEqual([...hartsToRead(set)][1], set.get(1), "once the set made one, it is read");
  deepStrictEqual(describeHart(read[2]!), describeHart(set.get(2)));
  await set.hal.close();
});

/**
 * The word form of the CSR blocks: each block gives the same answers as a
 * `bigint` reference of its rule, in every bit position (across the 32-bit
 * boundary too); masks that depend on a slot follow it; a file's batches
 * follow redefinitions and a CSR changed between runs.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { FEATURE, HartContext, slotMask, wordsOf } from "./csr_hart.ts";
import { FunctionCsr, LaneCsr, MaskedCsr, ViewCsr } from "./csr_blocks.ts";
import { CsrFile } from "./csr_file.ts";
import { ALL_ONES } from "./csr_fields.ts";
import { WordBatch, wordResults } from "./_word_batch.ts";

/** Values with bits at both ends of both words, and around the boundary between them. */
const VALUES: readonly bigint[] = [
  0n,
  ALL_ONES,
  1n,
  1n << 31n,
  1n << 32n,
  1n << 63n,
  0x8000_0001_8000_0001n,
  0x0123_4567_89ab_cdefn,
  0xfedc_ba98_7654_3210n,
  0x0000_0001_ffff_fffen,
];

function hartOf(slots: number, extensions: string[] = []): HartContext {
  return new HartContext(new BigUint64Array(slots), 0, 0, new Set(extensions));
}

Deno.test("MaskedCsr keeps the writable bits of every rmw, static or read from a slot", () => {
  const MASK_SLOT = 1;
  for (const writable of [0xb1ffn, 0xffff_0000_0000_ffffn, 0x8000_0001_0000_0000n]) {
    const staticCsr = new MaskedCsr(0, writable);
    const dynamic = new MaskedCsr(
      0,
      slotMask(MASK_SLOT, (hart, lane) => hart.word(MASK_SLOT, lane)),
    );
    for (const old of VALUES) {
      for (const value of VALUES) {
        for (const mask of VALUES) {
          const expected = (old & ~(mask & writable)) | (value & mask & writable);
          for (const csr of [staticCsr, dynamic]) {
            const hart = hartOf(2);
            hart.put(0, old);
            hart.put(MASK_SLOT, writable);
            strictEqual(csr.rmw(hart, value, mask), old);
            strictEqual(hart.get(0), expected, `${old} ${value} ${mask} ${writable}`);
          }
        }
      }
    }
  }
});

Deno.test("ViewCsr shows and writes its bits, shifted across the 32-bit boundary", () => {
  for (const shift of [0, 1, 5, 31]) {
    for (const readMask of [ALL_ONES, 0xffff_ffff_0000_0001n, 0x1_8000_0000n]) {
      // Writable bits the view hides too: they read as 0 into the new value.
      const writeMask = (readMask & 0xf0f0_f0f0_f0f0_f0f0n) | 0x0300_0000_0000_0300n;
      const view = new ViewCsr(0, { readMask, writeMask, shift });
      for (const stored of VALUES) {
        for (const value of VALUES) {
          for (const mask of [0n, ALL_ONES, 0x8000_0000n, 0x1_0000_0001n]) {
            const shiftBy = BigInt(shift);
            const old = (stored & readMask) >> shiftBy;
            const next = (old & ~mask) | (value & mask);
            const expected = mask === 0n
              ? stored
              : (stored & ~writeMask) | ((next << shiftBy) & writeMask & ALL_ONES);
            const hart = hartOf(1);
            hart.put(0, stored);
            strictEqual(view.rmw(hart, value, mask), old);
            strictEqual(hart.get(0), expected, `shift ${shift} ${stored} ${value} ${mask}`);
          }
        }
      }
    }
  }
});

Deno.test("a slot mask is computed again when its slot or the extensions change", () => {
  const MIDELEG = 1;
  let computed = 0;
  const sie = new ViewCsr(0, {
    readMask: slotMask(MIDELEG, (hart, lane) => {
      computed++;
      return hart.word(MIDELEG, lane) & wordsOf(0x222n)[lane];
    }),
    writeMask: 0n,
  });
  const hart = hartOf(2);
  hart.put(0, 0x2aan);
  hart.put(MIDELEG, 0x2n);
  strictEqual(sie.read(hart), 0x2n);
  strictEqual(sie.read(hart), 0x2n);
  strictEqual(computed, 2, "once per lane while nothing changes");
  hart.put(MIDELEG, 0x222n);
  strictEqual(sie.read(hart), 0x222n);
  const other = new HartContext(hart.slots, 0, 0, new Set(["h"]));
  strictEqual(sie.read(other), 0x222n);
  strictEqual(computed, 6);
});

Deno.test("LaneCsr runs its rule on each word, low first", () => {
  const seen: [number, number, number][] = [];
  const csr = new LaneCsr((hart, lane, value, mask) => {
    seen.push([lane, value, mask]);
    const old = hart.word(0, lane);
    hart.putWord(0, lane, (old & ~mask) | (value & mask));
    return old;
  });
  const hart = hartOf(1);
  hart.put(0, 0x1_0000_0002n);
  strictEqual(csr.rmw(hart, 0x3_0000_0004n, ALL_ONES), 0x1_0000_0002n);
  strictEqual(hart.get(0), 0x3_0000_0004n);
  deepStrictEqual(seen, [[0, 4, -1], [1, 3, -1]]);
});

Deno.test("CsrFile.runWords: the access rule, a batch reused for other CSRs, and redefinitions", () => {
  const file = new CsrFile();
  file.define(0x140, new MaskedCsr(0)); // sscratch
  file.define(0x680, new MaskedCsr(1), FEATURE.h); // hgatp
  file.define(0xc01, new FunctionCsr({ read: () => 7n })); // time: read-only address
  const withH = hartOf(2, ["h"]);
  const withoutH = hartOf(2);
  const batch = new WordBatch(3);
  batch.set(0, 1, 0x140, 5, 0); // write sscratch
  batch.set(1, 0, 0x680, 0, 0); // read hgatp
  batch.set(2, 1, 0xc01, 1, 0); // write time
  const results = wordResults(3);
  strictEqual(file.runWords(withH, batch, results), 1);
  deepStrictEqual([...results.causes], [0, 0, 2], "a write to a read-only address traps");
  strictEqual(file.runWords(withoutH, batch, results), 2);
  deepStrictEqual([...results.causes], [0, 2, 2], "hgatp needs H");
  strictEqual(withoutH.get(0), 5n);

  // The same batch, another CSR in the middle: that operation is looked up again.
  batch.set(1, 0, 0xc01, 0, 0);
  strictEqual(file.runWords(withoutH, batch, results), 1);
  deepStrictEqual([...results.causes], [0, 0, 2]);
  strictEqual(results.words[2], 7);

  // A redefinition reaches batches that ran before it.
  file.define(0x140, new MaskedCsr(0, 0xfn));
  batch.set(0, 1, 0x140, 0xff, 0);
  file.runWords(withoutH, batch, results);
  strictEqual(withoutH.get(0), 0xfn);
  file.define(0x140, new FunctionCsr({ read: () => 9n }));
  file.runWords(withoutH, batch, results);
  strictEqual(results.words[0], 9);
});

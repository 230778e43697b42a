import { deepStrictEqual } from "node:assert/strict";
import { CodeCache } from "./_code_cache.ts";

Deno.test("CodeCache shares a program between harts and evicts the least recently used", async (t) => {
  const cache = new CodeCache(3);
  await t.step("a round: same program, one copy", () => {
    deepStrictEqual(["p", "p", "q", "p"].map((key) => cache.take(key, 1)), [
      { slot: 0, fresh: true },
      { slot: 0, fresh: false },
      { slot: 1, fresh: true },
      { slot: 0, fresh: false },
    ]);
  });
  await t.step("later rounds find it without writing it again", () => {
    deepStrictEqual(cache.take("q", 2), { slot: 1, fresh: false });
    deepStrictEqual(cache.take("r", 3), { slot: 2, fresh: true });
  });
  await t.step("a new program replaces the one used longest ago", () => {
    // p was last used in round 1, q in 2, r in 3.
    deepStrictEqual(cache.take("s", 4), { slot: 0, fresh: true });
    deepStrictEqual(cache.take("p", 5), { slot: 1, fresh: true }, "p was evicted; q is now oldest");
  });
  await t.step("never a slot the round already uses", () => {
    deepStrictEqual(["t", "u", "v", "w"].map((key) => cache.take(key, 6)), [
      { slot: 2, fresh: true },
      { slot: 0, fresh: true },
      { slot: 1, fresh: true },
      undefined,
    ]);
  });
});

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { AxError } from "./errors.ts";
import { FrameAllocator } from "./frame_allocator.ts";

const invalid = (e: unknown) => e instanceof AxError && e.kind === "InvalidInput";

Deno.test("FrameAllocator hands out every frame once, then none", () => {
  const frames = new FrameAllocator({ base: 0x8000_0000n, size: 0x4000n });
  const got = [frames.alloc(), frames.alloc(), frames.alloc(), frames.alloc()];
  deepStrictEqual(got, [0x8000_0000n, 0x8000_1000n, 0x8000_2000n, 0x8000_3000n]);
  strictEqual(frames.alloc(), undefined);
  strictEqual(frames.available, 0);
  frames.dealloc(0x8000_2000n);
  strictEqual(frames.alloc(), 0x8000_2000n);
});

Deno.test("FrameAllocator refuses bad frees and bad regions", () => {
  const frames = new FrameAllocator({ base: 0x1000n, size: 0x10000n });
  throws(() => frames.dealloc(0x1000n), invalid); // never allocated
  const pa = frames.alloc()!;
  throws(() => frames.dealloc(pa + 8n), invalid); // misaligned
  throws(() => frames.dealloc(0x100000n), invalid); // outside
  frames.dealloc(pa);
  throws(() => frames.dealloc(pa), invalid); // double free
  throws(() => new FrameAllocator({ base: 0x10n, size: 0x1000n }), invalid);
  throws(() => new FrameAllocator({ base: 0n, size: 0n }), invalid);
});

Deno.test("FrameAllocator scales to 128 MiB with 4 KiB of bookkeeping", () => {
  const frames = new FrameAllocator({ base: 0x8000_0000n, size: 128n << 20n });
  strictEqual(frames.capacity, 32768);
  for (let i = 0; i < 32768; i++) frames.alloc();
  strictEqual(frames.available, 0);
});

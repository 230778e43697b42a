/**
 * A physical frame allocator over one RAM region, shared by the backends.
 *
 * @module
 */

import { AxError } from "./errors.ts";
import { hex } from "./hex.ts";

/**
 * The size of a frame: 4 KiB, the base page size of Sv39/Sv39x4.
 *
 * @example Usage
 * ```ts
 * import { FRAME_SIZE } from "./frame_allocator.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal();
 * const frame = hal.allocFrame()!;
 * strictEqual(frame % BigInt(FRAME_SIZE), 0n);
 * hal.deallocFrame(frame);
 * await hal.close();
 * ```
 */
export const FRAME_SIZE = 4096;

/**
 * A RAM region.
 *
 * @example Usage
 * ```ts
 * import { FrameAllocator, type RamRegion } from "./frame_allocator.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const ram: RamRegion = { base: 0x8000_0000n, size: 1n << 20n };
 * strictEqual(new FrameAllocator(ram).available, 256); // 1 MiB of 4 KiB frames
 * ```
 */
export interface RamRegion {
  /** Physical base address; a multiple of {@linkcode FRAME_SIZE}. */
  base: bigint;
  /** Size in bytes; a positive multiple of {@linkcode FRAME_SIZE}. */
  size: bigint;
}

/**
 * Hands out 4 KiB frames of one RAM region, next-fit over a bitmap
 * (one bit per frame, so 128 MiB costs 4 KiB of bookkeeping).
 *
 * @example Usage
 * ```ts
 * import { FrameAllocator } from "./frame_allocator.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const frames = new FrameAllocator({ base: 0x8000_0000n, size: 0x2000n });
 * const a = frames.alloc();
 * strictEqual(a, 0x8000_0000n);
 * strictEqual(frames.alloc(), 0x8000_1000n);
 * strictEqual(frames.alloc(), undefined);
 * frames.dealloc(a!);
 * strictEqual(frames.available, 1);
 * ```
 */
export class FrameAllocator {
  /** The region the frames come from. */
  readonly region: Readonly<RamRegion>;
  #used: Uint32Array;
  #frames: number;
  #next = 0;
  #available: number;

  /**
   * Creates an allocator with every frame free.
   *
   * @param region The RAM region.
   * @throws {AxError} Kind `"InvalidInput"` for a misaligned or empty region.
   */
  constructor(region: RamRegion) {
    const frame = BigInt(FRAME_SIZE);
    if (region.base % frame !== 0n || region.size <= 0n || region.size % frame !== 0n) {
      throw new AxError(
        "InvalidInput",
        `Cannot manage RAM at ${hex(region.base)} of ${region.size} bytes: ` +
          `base and size must be positive multiples of ${FRAME_SIZE}`,
      );
    }
    this.region = Object.freeze({ ...region });
    this.#frames = Number(region.size / frame);
    this.#available = this.#frames;
    this.#used = new Uint32Array(Math.ceil(this.#frames / 32));
  }

  /** How many frames are free. */
  get available(): number {
    return this.#available;
  }

  /** How many frames the region has. */
  get capacity(): number {
    return this.#frames;
  }

  /**
   * Takes a free frame.
   *
   * @returns Its physical address, or `undefined` when none is free.
   */
  alloc(): bigint | undefined {
    if (this.#available === 0) return undefined;
    for (let scanned = 0; scanned < this.#frames; scanned++) {
      const index = (this.#next + scanned) % this.#frames;
      const word = index >>> 5;
      const bit = 1 << (index & 31);
      if ((this.#used[word]! & bit) === 0) {
        this.#used[word]! |= bit;
        this.#available--;
        this.#next = (index + 1) % this.#frames;
        return this.region.base + BigInt(index) * BigInt(FRAME_SIZE);
      }
    }
    return undefined;
  }

  /**
   * Gives a frame back.
   *
   * @param pa The frame's physical address, as {@linkcode FrameAllocator.alloc} returned it.
   * @throws {AxError} Kind `"InvalidInput"` for an address that is not an allocated frame.
   */
  dealloc(pa: bigint): void {
    const offset = pa - this.region.base;
    const frame = BigInt(FRAME_SIZE);
    if (offset < 0n || offset >= this.region.size || offset % frame !== 0n) {
      throw new AxError(
        "InvalidInput",
        `Cannot free frame ${hex(pa)}: it is not a frame of RAM ${hex(this.region.base)}` +
          `..${hex(this.region.base + this.region.size - 1n)}`,
      );
    }
    const index = Number(offset / frame);
    const word = index >>> 5;
    const bit = 1 << (index & 31);
    if ((this.#used[word]! & bit) === 0) {
      throw new AxError("InvalidInput", `Cannot free frame ${hex(pa)}: it is not allocated`);
    }
    this.#used[word]! &= ~bit;
    this.#available++;
  }

  /**
   * Whether `pa` lies inside the region.
   *
   * @param pa A physical address.
   * @returns `true` inside the region.
   */
  contains(pa: bigint): boolean {
    return pa >= this.region.base && pa < this.region.base + this.region.size;
  }
}

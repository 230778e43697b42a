/**
 * The host memory a backend offers the hypervisor: 4 KiB frames of one RAM
 * region, and a linear map between host physical and host virtual
 * addresses (the `AxVCpuHal` memory services every backend shares).
 *
 * @module
 */

import { ALL_ONES } from "./csr_fields.ts";
import { AxError } from "./errors.ts";
import { FrameAllocator, type RamRegion } from "./frame_allocator.ts";
import { hex } from "./hex.ts";

/**
 * ArceOS riscv64's linear map: host virtual = host physical + this offset.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_PHYS_VIRT_OFFSET, HostMemory } from "./host_memory.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const memory = new HostMemory({ base: 0x8000_0000n, size: 0x1000n });
 * strictEqual(memory.physToVirt(0x8000_0000n), 0x8000_0000n + DEFAULT_PHYS_VIRT_OFFSET);
 * ```
 */
export const DEFAULT_PHYS_VIRT_OFFSET: bigint = 0xffff_ffc0_0000_0000n;

/**
 * Frames of one RAM region and the linear map over it. Backends delegate
 * their `allocFrame`, `deallocFrame`, `physToVirt` and `virtToPhys` to one.
 *
 * @example Usage
 * ```ts
 * import { HostMemory } from "./host_memory.ts";
 * import { strictEqual, throws } from "node:assert/strict";
 *
 * const memory = new HostMemory({ base: 0x8000_0000n, size: 0x10_0000n });
 * const pa = memory.allocFrame()!;
 * strictEqual(memory.physToVirt(pa), 0xffff_ffc0_8000_0000n);
 * strictEqual(memory.virtToPhys(memory.physToVirt(pa) + 8n), pa + 8n);
 * throws(() => memory.physToVirt(0x1000n)); // not in RAM
 * memory.deallocFrame(pa);
 * ```
 */
export class HostMemory {
  /** The frames. */
  readonly frames: FrameAllocator;
  /** Host virtual minus host physical. */
  readonly physVirtOffset: bigint;

  /**
   * Creates the memory of a backend.
   *
   * @param region The RAM region frames come from.
   * @param physVirtOffset The linear map's offset. Default {@linkcode DEFAULT_PHYS_VIRT_OFFSET}.
   */
  constructor(region: RamRegion, physVirtOffset: bigint = DEFAULT_PHYS_VIRT_OFFSET) {
    this.frames = new FrameAllocator(region);
    this.physVirtOffset = physVirtOffset;
  }

  /**
   * Allocates one 4 KiB frame.
   *
   * @returns Its physical address, or `undefined` when none is left.
   */
  allocFrame(): bigint | undefined {
    return this.frames.alloc();
  }

  /**
   * Returns a frame.
   *
   * @param pa The frame's physical address.
   * @throws {AxError} Kind `"InvalidInput"` for an address that is not an allocated frame.
   */
  deallocFrame(pa: bigint): void {
    this.frames.dealloc(pa);
  }

  /**
   * Host physical to host virtual address.
   *
   * @param pa A physical address in RAM.
   * @returns Its virtual address.
   * @throws {AxError} Kind `"InvalidInput"` outside RAM.
   */
  physToVirt(pa: bigint): bigint {
    if (!this.frames.contains(pa)) {
      throw new AxError("InvalidInput", `Cannot map physical address ${hex(pa)}: it is not in RAM`);
    }
    return (pa + this.physVirtOffset) & ALL_ONES;
  }

  /**
   * Host virtual to host physical address.
   *
   * @param va A virtual address in the linear map of RAM.
   * @returns Its physical address.
   * @throws {AxError} Kind `"InvalidInput"` outside the linear map of RAM.
   */
  virtToPhys(va: bigint): bigint {
    const pa = (va - this.physVirtOffset) & ALL_ONES;
    if (!this.frames.contains(pa)) {
      throw new AxError(
        "InvalidInput",
        `Cannot translate virtual address ${hex(va)}: it is not in the linear map of RAM`,
      );
    }
    return pa;
  }
}

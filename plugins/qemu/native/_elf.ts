/**
 * A minimal ELF64 writer for RISC-V executables: one loadable segment at a
 * physical address, and the entry point. That is all QEMU's `-kernel`
 * loader needs; it passes the entry to OpenSBI (fw_dynamic's next address).
 *
 * Needs no permissions.
 *
 * @module
 */

/** `e_machine` of RISC-V. */
export const EM_RISCV = 243;

/** Where the segment's bytes start in the file (page-aligned, after the headers). */
const SEGMENT_OFFSET = 0x1000;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;

/** What {@linkcode elf64Executable} writes. */
export interface ElfImage {
  /** Load and link address of the segment (also its virtual address). */
  readonly address: bigint;
  /** The entry point. */
  readonly entry: bigint;
  /** The segment's bytes (file size). */
  readonly bytes: Uint8Array;
  /** The segment's size in memory; the rest after `bytes` is zero. Default `bytes.length`. */
  readonly memorySize?: number;
}

/**
 * Writes a little-endian ELF64 `ET_EXEC` for RISC-V with one `PT_LOAD`
 * segment (read, write, execute).
 *
 * @example Usage
 * ```ts
 * import { elf64Executable } from "./_elf.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const elf = elf64Executable({ address: 0x8020_0000n, entry: 0x8020_0000n, bytes: new Uint8Array(8) });
 * strictEqual(new TextDecoder().decode(elf.subarray(1, 4)), "ELF");
 * strictEqual(new DataView(elf.buffer).getBigUint64(24, true), 0x8020_0000n); // e_entry
 * ```
 *
 * @param image The segment and entry.
 * @returns The file's bytes.
 * @throws {RangeError} When `memorySize` is smaller than the bytes.
 */
export function elf64Executable(image: ElfImage): Uint8Array {
  const memorySize = image.memorySize ?? image.bytes.length;
  if (memorySize < image.bytes.length) {
    throw new RangeError(
      `Cannot write the ELF: memory size ${memorySize} is smaller than the ${image.bytes.length} bytes`,
    );
  }
  const file = new Uint8Array(SEGMENT_OFFSET + image.bytes.length);
  const view = new DataView(file.buffer);
  // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV.
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  view.setUint16(16, 2, true); // e_type ET_EXEC
  view.setUint16(18, EM_RISCV, true); // e_machine
  view.setUint32(20, 1, true); // e_version
  view.setBigUint64(24, image.entry, true); // e_entry
  view.setBigUint64(32, BigInt(EHDR_SIZE), true); // e_phoff
  view.setBigUint64(40, 0n, true); // e_shoff: no sections
  view.setUint32(48, 0x4, true); // e_flags: EF_RISCV_FLOAT_ABI_DOUBLE (no RVC)
  view.setUint16(52, EHDR_SIZE, true); // e_ehsize
  view.setUint16(54, PHDR_SIZE, true); // e_phentsize
  view.setUint16(56, 1, true); // e_phnum
  view.setUint16(58, 64, true); // e_shentsize
  view.setUint16(60, 0, true); // e_shnum
  view.setUint16(62, 0, true); // e_shstrndx
  const ph = EHDR_SIZE;
  view.setUint32(ph + 0, 1, true); // p_type PT_LOAD
  view.setUint32(ph + 4, 7, true); // p_flags R|W|X
  view.setBigUint64(ph + 8, BigInt(SEGMENT_OFFSET), true); // p_offset
  view.setBigUint64(ph + 16, image.address, true); // p_vaddr
  view.setBigUint64(ph + 24, image.address, true); // p_paddr
  view.setBigUint64(ph + 32, BigInt(image.bytes.length), true); // p_filesz
  view.setBigUint64(ph + 40, BigInt(memorySize), true); // p_memsz
  view.setBigUint64(ph + 48, BigInt(SEGMENT_OFFSET), true); // p_align
  file.set(image.bytes, SEGMENT_OFFSET);
  return file;
}

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { elf64Executable, EM_RISCV } from "./_elf.ts";

Deno.test("elf64Executable() writes one loadable RISC-V segment at its address", () => {
  const bytes = new Uint8Array([0x13, 0, 0, 0, 0x6f, 0, 0, 0]);
  const elf = elf64Executable({
    address: 0x8040_0000n,
    entry: 0x8040_0004n,
    bytes,
    memorySize: 0x100,
  });
  const view = new DataView(elf.buffer);
  deepStrictEqual([...elf.subarray(0, 7)], [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  strictEqual(view.getUint16(16, true), 2, "ET_EXEC");
  strictEqual(view.getUint16(18, true), EM_RISCV);
  strictEqual(view.getBigUint64(24, true), 0x8040_0004n, "e_entry");
  strictEqual(view.getUint16(56, true), 1, "one program header");
  const ph = Number(view.getBigUint64(32, true));
  strictEqual(view.getUint32(ph, true), 1, "PT_LOAD");
  const offset = Number(view.getBigUint64(ph + 8, true));
  strictEqual(view.getBigUint64(ph + 24, true), 0x8040_0000n, "p_paddr");
  strictEqual(view.getBigUint64(ph + 32, true), 8n, "p_filesz");
  strictEqual(view.getBigUint64(ph + 40, true), 0x100n, "p_memsz");
  deepStrictEqual(elf.subarray(offset, offset + 8), bytes);
  strictEqual(elf.length, offset + 8);
});

Deno.test("elf64Executable() refuses a memory size below the file size", () => {
  throws(
    () => elf64Executable({ address: 0n, entry: 0n, bytes: new Uint8Array(16), memorySize: 8 }),
    /memory size 8 is smaller than the 16 bytes/,
  );
});

/**
 * Test helper: GNU objdump from Debian's `binutils-riscv64-unknown-elf`, an
 * independent decoder to check the TypeScript assembler against. Tests that
 * need it are skipped with a printed reason when it is missing, and fail
 * instead under `RVHV_REQUIRE_BINUTILS=1` (which `.ci/run` sets).
 *
 * Needs `--allow-run=riscv64-unknown-elf-objdump`, `--allow-write` and
 * `--allow-read` for a temporary file, `--allow-env`.
 *
 * @module
 */

const OBJDUMP = "riscv64-unknown-elf-objdump";

/** One decoded instruction. */
export interface DisassembledLine {
  /** Its address. */
  address: number;
  /** The instruction word. */
  word: number;
  /** The instruction as objdump prints it (no aliases, numeric registers), comments cut. */
  text: string;
}

let status: { available: boolean; reason?: string } | undefined;
let printed = false;

function objdumpStatus(): { available: boolean; reason?: string } {
  if (status !== undefined) return status;
  try {
    const out = new Deno.Command(OBJDUMP, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    status = out.success
      ? { available: true }
      : { available: false, reason: `"${OBJDUMP} --version" failed` };
  } catch {
    status = {
      available: false,
      reason: `"${OBJDUMP}" is not installed (apt-get install binutils-riscv64-unknown-elf)`,
    };
  }
  return status;
}

/**
 * Registers a test that needs objdump: run when it is there, otherwise
 * skipped with the reason in its name, or failing under
 * `RVHV_REQUIRE_BINUTILS=1`.
 *
 * @param name The test's name.
 * @param fn The test.
 */
export function objdumpTest(name: string, fn: () => Promise<void>): void {
  const found = objdumpStatus();
  if (found.available) {
    Deno.test({ name, fn });
  } else if (Deno.env.get("RVHV_REQUIRE_BINUTILS") === "1") {
    Deno.test({
      name,
      fn() {
        throw new Error(`objdump is required (RVHV_REQUIRE_BINUTILS=1) but ${found.reason}`);
      },
    });
  } else {
    if (!printed) {
      printed = true;
      console.error(
        `objdump tests skipped: ${found.reason} (set RVHV_REQUIRE_BINUTILS=1 to make this a failure)`,
      );
    }
    Deno.test({ name: `${name} (skipped: ${found.reason})`, ignore: true, fn });
  }
}

/**
 * Disassembles raw RV64 code at an address.
 *
 * @param code The machine code.
 * @param address Where it runs.
 * @returns One line per instruction word.
 */
export async function disassemble(code: Uint8Array, address: number): Promise<DisassembledLine[]> {
  const file = await Deno.makeTempFile({ prefix: "rvhv-objdump-", suffix: ".bin" });
  try {
    await Deno.writeFile(file, code);
    const out = await new Deno.Command(OBJDUMP, {
      args: [
        "-b",
        "binary",
        "-m",
        "riscv:rv64",
        "-M",
        "no-aliases,numeric",
        `--adjust-vma=0x${address.toString(16)}`,
        "-D",
        file,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const lines: DisassembledLine[] = [];
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const match = /^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$/.exec(line);
      if (match === null) continue;
      const text = match[3]!.replace(/\s*#.*$/, "").replace(/\s+/, " ").trim();
      lines.push({ address: parseInt(match[1]!, 16), word: parseInt(match[2]!, 16), text });
    }
    return lines;
  } finally {
    await Deno.remove(file);
  }
}

/**
 * The target description of a gdbstub: `target.xml` and the files it
 * includes, read with the `qXfer:features:read` loop, and the registers they
 * number. QEMU answers `p`/`P` with an empty packet until `target.xml` has
 * been read on the connection, and its `riscv-csr.xml` fixes where the CSRs
 * start (which moves with the F/D/V options).
 *
 * Needs no permissions.
 *
 * @module
 */

import { GdbProtocolError } from "../../hal/errors.ts";

/**
 * One register of the target description.
 *
 * @example Usage
 * ```ts
 * import { type GdbRegister, parseTargetRegisters } from "./_gdb_target.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const regs = parseTargetRegisters([["csr.xml", '<reg name="sstatus" bitsize="64" regnum="322"/>']]);
 * const sstatus: GdbRegister = regs.get("sstatus")!;
 * strictEqual(sstatus.regnum, 322); // QEMU 7.2 and 10.0 with -cpu rv64
 * ```
 */
export interface GdbRegister {
  /** The register's name. */
  readonly name: string;
  /** Its gdb register number. */
  readonly regnum: number;
  /** Its width in bits. */
  readonly bitsize: number;
  /** The file of the target description it came from. */
  readonly file: string;
}

/** A target description: its files in include order, and their registers by name. */
export interface TargetDescription {
  /** The files read, `target.xml` first. */
  readonly files: readonly string[];
  /** The registers, by name. */
  readonly registers: ReadonlyMap<string, GdbRegister>;
}

const ERROR_REPLY_REGEXP = /^E[0-9a-fA-F]{2}$/;
const INCLUDE_REGEXP = /<xi:include\s+href="([^"]+)"\s*\/>/g;
const REG_REGEXP = /<reg\s([^>]*?)\/?>/g;
const ATTR_REGEXP = /([a-zA-Z_:-]+)="([^"]*)"/g;
/** The largest qXfer chunk asked for (QEMU 7.2's PacketSize is 0x1000). */
const MAX_XFER_CHUNK = 0xffb;

/**
 * Parses target-description XML files into registers, numbering them as
 * gdb does: a `regnum` attribute sets the number, every other register takes
 * the previous number plus one, across the files in include order.
 *
 * @example Usage
 * ```ts
 * import { parseTargetRegisters } from "./_gdb_target.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const regs = parseTargetRegisters([
 *   ["cpu.xml", '<feature><reg name="zero" bitsize="64"/><reg name="ra" bitsize="64"/></feature>'],
 *   ["csr.xml", '<feature><reg name="sstatus" bitsize="64" regnum="322"/></feature>'],
 * ]);
 * strictEqual(regs.get("ra")!.regnum, 1);
 * strictEqual(regs.get("sstatus")!.regnum, 322);
 * ```
 *
 * @param files `[name, xml]` pairs in include order.
 * @returns Registers by name.
 * @throws {GdbProtocolError} For a register without a name or with a bad number.
 */
export function parseTargetRegisters(
  files: readonly (readonly [string, string])[],
): Map<string, GdbRegister> {
  const out = new Map<string, GdbRegister>();
  let next = 0;
  for (const [file, xml] of files) {
    for (const match of xml.matchAll(REG_REGEXP)) {
      const attrs = new Map<string, string>();
      for (const attr of match[1]!.matchAll(ATTR_REGEXP)) attrs.set(attr[1]!, attr[2]!);
      const name = attrs.get("name");
      if (name === undefined || name === "") {
        throw new GdbProtocolError(`Cannot read target description ${file}: a <reg> has no name`);
      }
      let regnum = next;
      const explicit = attrs.get("regnum");
      if (explicit !== undefined) {
        regnum = Number(explicit);
        if (!Number.isInteger(regnum) || regnum < 0) {
          throw new GdbProtocolError(
            `Cannot read target description ${file}: register "${name}" has regnum "${explicit}"`,
          );
        }
      }
      const bitsize = Number(attrs.get("bitsize") ?? "0");
      out.set(name, { name, regnum, bitsize, file });
      next = regnum + 1;
    }
  }
  return out;
}

/**
 * Reads `target.xml` and every file it includes, each with the
 * `qXfer:features:read` loop (chunks sized to the stub's `PacketSize`,
 * advancing by what arrived), and numbers their registers.
 *
 * @example Usage
 * ```ts
 * import { readTargetDescription } from "./_gdb_target.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const files: Record<string, string> = {
 *   "target.xml": '<target><xi:include href="csr.xml"/></target>',
 *   "csr.xml": '<reg name="sstatus" bitsize="64" regnum="322"/>',
 * };
 * const target = await readTargetDescription(["qXfer:features:read+"], (payload) => {
 *   const [, , , annex] = payload.split(":");
 *   return Promise.resolve("l" + files[annex!]);
 * });
 * deepStrictEqual(target.files, ["target.xml", "csr.xml"]);
 * ```
 *
 * @param features The stub's `qSupported` reply, split at `;`.
 * @param exchange Sends one packet and resolves to its reply.
 * @returns The files and their registers.
 * @throws {GdbProtocolError} When the stub offers no target description or a file cannot be read.
 */
export async function readTargetDescription(
  features: readonly string[],
  exchange: (payload: string) => Promise<string>,
): Promise<TargetDescription> {
  if (!features.includes("qXfer:features:read+")) {
    throw new GdbProtocolError(
      `Cannot read the target description: the stub does not offer qXfer:features:read (qSupported: "${
        features.join(";")
      }")`,
    );
  }
  const sizeFeature = features.find((f) => f.startsWith("PacketSize="));
  const packetSize = sizeFeature === undefined ? 0x400 : parseInt(sizeFeature.slice(11), 16);
  const chunk = Math.max(16, Math.min(MAX_XFER_CHUNK, packetSize - 5));
  const files: [string, string][] = [];
  const target = await readFeature(exchange, "target.xml", chunk);
  files.push(["target.xml", target]);
  for (const match of target.matchAll(INCLUDE_REGEXP)) {
    const name = match[1]!;
    files.push([name, await readFeature(exchange, name, chunk)]);
  }
  return { files: files.map(([name]) => name), registers: parseTargetRegisters(files) };
}

async function readFeature(
  exchange: (payload: string) => Promise<string>,
  annex: string,
  chunk: number,
): Promise<string> {
  let text = "";
  for (;;) {
    const reply = await exchange(
      `qXfer:features:read:${annex}:${text.length.toString(16)},${chunk.toString(16)}`,
    );
    if (reply === "" || ERROR_REPLY_REGEXP.test(reply)) {
      throw new GdbProtocolError(
        `Cannot read target description "${annex}": the stub answered "${reply}"`,
      );
    }
    const kind = reply[0];
    if (kind !== "m" && kind !== "l") {
      throw new GdbProtocolError(
        `Cannot read target description "${annex}": unexpected reply "${reply.slice(0, 20)}"`,
      );
    }
    text += reply.slice(1);
    if (kind === "l") return text;
    if (reply.length === 1) {
      throw new GdbProtocolError(
        `Cannot read target description "${annex}": the stub sent an empty "m" chunk`,
      );
    }
  }
}

/**
 * The QEMU backend's options, their defaults and their validation, and the
 * `-cpu` string an ISA string maps to.
 *
 * Needs no permissions; with `--allow-env=RVHV_QEMU` the `RVHV_QEMU`
 * variable names the default binary.
 *
 * @module
 */

import {
  boolean,
  checkOptions,
  choice,
  either,
  integer,
  list,
  map,
  type MapShape,
  text,
} from "../../hal/_shape.ts";
import { AxError, invalidOption } from "../../hal/errors.ts";
import { FIRMWARE_NAMES, type FirmwareName } from "../../hal/firmware.ts";
import { type IsaSpec, parseIsa } from "../../hal/isa.ts";
import { type QemuLogging, SESSION_FILES } from "./qemu_process.ts";

/**
 * The most harts QEMU 7.2's `virt` machine accepts.
 *
 * @example Usage
 * ```ts
 * import { MAX_QEMU_HARTS, parseQemuOptions } from "./options.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => parseQemuOptions({ harts: MAX_QEMU_HARTS + 1 }), TypeError);
 * ```
 */
export const MAX_QEMU_HARTS = 512;

/**
 * The default binary, overridden by `RVHV_QEMU` or the `qemu` option.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_QEMU_BINARY, parseQemuOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * // Without RVHV_QEMU and without the qemu option, the binary on PATH is used.
 * if (Deno.env.get("RVHV_QEMU") === undefined) {
 *   strictEqual(parseQemuOptions({}).qemu, DEFAULT_QEMU_BINARY);
 * }
 * ```
 */
export const DEFAULT_QEMU_BINARY = "qemu-system-riscv64";

/**
 * The default ISA string (what `-cpu rv64` of QEMU 7.2 is, with H).
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_QEMU_ISA, parseQemuOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseQemuOptions({}).isa.text, DEFAULT_QEMU_ISA);
 * ```
 */
export const DEFAULT_QEMU_ISA = "rv64imafdch";

/**
 * The default time-out of one exchange with QEMU, in ms.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_QEMU_TIMEOUT_MS, parseQemuOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseQemuOptions({}).timeoutMs, DEFAULT_QEMU_TIMEOUT_MS);
 * strictEqual(parseQemuOptions({ timeoutMs: 500 }).timeoutMs, 500);
 * ```
 */
export const DEFAULT_QEMU_TIMEOUT_MS = 2000;

/**
 * The default time native access gives every hart to boot OpenSBI and park in the agent, in ms.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_QEMU_BOOT_TIMEOUT_MS, parseQemuOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseQemuOptions({ access: "native" }).bootTimeoutMs, DEFAULT_QEMU_BOOT_TIMEOUT_MS);
 * ```
 */
export const DEFAULT_QEMU_BOOT_TIMEOUT_MS = 20_000;

/**
 * A running QEMU to use instead of starting one.
 *
 * @example Usage
 * ```ts
 * import qemuPlugin, { type QemuAttachOptions } from "@rvhv/percpu/qemu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * // A QEMU started elsewhere with -qmp unix:/run/q.sock,server=on,wait=off -gdb unix:/run/g.sock,server=on,wait=off
 * const attach: QemuAttachOptions = { qmp: "/run/q.sock", gdb: "/run/g.sock" };
 * deepStrictEqual(qemuPlugin.parseOptions({ attach }).attach, attach);
 * ```
 */
export interface QemuAttachOptions {
  /** Path of its QMP unix socket (`-qmp unix:<path>,server=on,wait=off`). */
  qmp: string;
  /** Path of its gdbstub unix socket (`-gdb unix:<path>,server=on,wait=off`). */
  gdb: string;
}

/**
 * Options of `createQemuHal`, as written in code or YAML.
 *
 * @example Usage
 * ```ts
 * import qemuPlugin, { type QemuOptions } from "@rvhv/percpu/qemu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const options: QemuOptions = { harts: 4, isa: "rv64imafdch", firmware: "opensbi", cpuProps: { sscofpmf: true } };
 * strictEqual(qemuPlugin.parseOptions(options).harts, 4);
 * ```
 */
export interface QemuOptions {
  /** Number of harts (`-smp`). Default 1. Ignored with `attach` (QEMU says). */
  harts?: number;
  /**
   * The ISA string of every hart, mapped to `-cpu rv64,<letter>=true|false,…`
   * (`i m a f d c v h`; multi-letter names such as `sstc` become `<name>=true`).
   * Default `"rv64imafdch"`.
   */
  isa?: string;
  /**
   * The firmware state written into every hart through M-mode CSR writes:
   * `"none"`, `"opensbi-1.1"`, `"opensbi-1.6"`, or `"opensbi"` (default: the
   * version that ships with the connected QEMU, 7.x/8.x → 1.1, ≥ 9 → 1.6).
   * With `attach` the default is `"none"` (the machine is left as it is).
   */
  firmware?: FirmwareName;
  /**
   * The access path. `"debugger"` (default): the harts held at reset, every
   * CSR read and written from outside over the gdbstub, the firmware state
   * written by the host. `"native"`: QEMU boots its real OpenSBI and the
   * guest agent, and every CSR below machine level is accessed by the hart
   * itself, as a real `csrrw`/`csrrs`/`csrrc` in HS-mode (machine-level CSRs
   * still go through the debugger, with the VM stopped). Native access takes
   * no `firmware` (the firmware is the real one) and no `attach`.
   */
  access?: "debugger" | "native";
  /** The QEMU binary. Default `RVHV_QEMU`, else `"qemu-system-riscv64"`. */
  qemu?: string;
  /** Extra `-cpu` properties, e.g. `["sscofpmf=true"]` or `{ sscofpmf: true }`. */
  cpuProps?: readonly string[] | Readonly<Record<string, string | number | boolean>>;
  /** Use a running QEMU (its QMP and gdb unix sockets) instead of starting one. */
  attach?: QemuAttachOptions;
  /** Milliseconds to wait for any one exchange with QEMU. Default 2000. */
  timeoutMs?: number;
  /** Native access: milliseconds every hart may take to boot and park in the agent. Default 20000. */
  bootTimeoutMs?: number;
}

/**
 * Validated QEMU options with every default filled in.
 *
 * @example Usage
 * ```ts
 * import qemuPlugin, { type ResolvedQemuOptions } from "@rvhv/percpu/qemu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const resolved: ResolvedQemuOptions = qemuPlugin.parseOptions({ isa: "rv64imafdc" });
 * strictEqual(resolved.isa.extensions.has("h"), false);
 * strictEqual(resolved.access, "debugger");
 * ```
 */
export interface ResolvedQemuOptions {
  /** Number of harts to start (unused with `attach`). */
  readonly harts: number;
  /** The parsed ISA. */
  readonly isa: IsaSpec;
  /** Whether `isa` was given (with `attach`, the ISA is then read from misa). */
  readonly isaGiven: boolean;
  /** The firmware as given (`undefined`: the default for the mode). */
  readonly firmware: FirmwareName | undefined;
  /** The access path. */
  readonly access: "debugger" | "native";
  /** The binary. */
  readonly qemu: string;
  /** The `-cpu` argument. */
  readonly cpu: string;
  /** The extra `-cpu` properties, `name=value` each. */
  readonly cpuProps: readonly string[];
  /** The running QEMU, when attaching. */
  readonly attach: Readonly<QemuAttachOptions> | undefined;
  /** The per-exchange time-out. */
  readonly timeoutMs: number;
  /** Native access: the time every hart may take to park. */
  readonly bootTimeoutMs: number;
  /**
   * QEMU's logging and tracing, from the command line only (`--qemu-arg`,
   * see {@linkcode withQemuArgs}); never from `QemuOptions`, so never from
   * a manifest.
   */
  readonly logging?: {
    /** `-d`: log items. */
    readonly items?: string | undefined;
    /** `-trace`: event patterns. */
    readonly trace: readonly string[];
    /** `-D`: the log file's name in the session folder. */
    readonly file?: string | undefined;
  };
}

/** The single-letter extensions QEMU 7.2's `rv64` CPU has a property for. */
const QEMU_LETTERS = "imafdcvh";
/** Multi-letter names QEMU 7.2 spells differently, or that it always has. */
const QEMU_PROPERTY_NAMES: ReadonlyMap<string, string | null> = new Map([
  ["zicsr", "Zicsr"],
  ["zifencei", "Zifencei"],
  ["zfh", "Zfh"],
  ["zfhmin", "Zfhmin"],
  ["zve32f", "Zve32f"],
  ["zve64f", "Zve64f"],
  // Always present in 7.2; no property.
  ["zicntr", null],
  ["zihpm", null],
]);
/** A `-cpu` property's name, and its value (QEMU's option syntax: no commas). */
const CPU_PROP_NAME = "[A-Za-z][A-Za-z0-9_.-]*";
const CPU_PROP_VALUE = "[A-Za-z0-9_.:-]+";
const CPU_PROP_REGEXP = new RegExp(`^${CPU_PROP_NAME}=${CPU_PROP_VALUE}$`);

/** The range of the time-outs, in ms. */
const MAX_TIMEOUT_MS = 600_000;
/** Harts when none are asked for. */
const DEFAULT_HARTS = 1;
const ACCESS_MODES = ["debugger", "native"] as const;

/**
 * The QEMU backend's options: their forms, defaults and meanings, as
 * `parseQemuOptions` checks them first and the manifest's JSON Schema says
 * them (`manifest/rvhv-manifest.schema.json`).
 *
 * @example Usage
 * ```ts
 * import { QEMU_OPTIONS_SHAPE } from "./options.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok("attach" in QEMU_OPTIONS_SHAPE.properties);
 * ```
 */
export const QEMU_OPTIONS_SHAPE: MapShape = map({
  harts: integer(1, MAX_QEMU_HARTS, {
    default: DEFAULT_HARTS,
    description: "Number of harts (-smp). Ignored with attach.",
  }),
  isa: text({
    default: DEFAULT_QEMU_ISA,
    description: "The ISA string of every hart, mapped to -cpu rv64,<letter>=true|false,…",
    mismatch: (got, value) =>
      Array.isArray(value)
        ? "expected one ISA string: QEMU gives every hart the same -cpu"
        : `expected an ISA string such as "rv64imafdch", got ${got}`,
  }),
  firmware: choice(FIRMWARE_NAMES, {
    description: "The firmware state written into every hart (default: opensbi, the version " +
      "that ships with the QEMU; none with attach). Not with access: native.",
  }),
  access: choice(ACCESS_MODES, {
    default: "debugger",
    description: "debugger: every CSR over the gdbstub; native: the harts run csrrw/csrrs/" +
      "csrrc themselves under QEMU's real OpenSBI.",
  }),
  qemu: text({
    expected: "the path or name of the QEMU binary",
    description: `The QEMU binary (default: RVHV_QEMU, else ${DEFAULT_QEMU_BINARY}).`,
  }),
  cpuProps: either(`a list of "name=value" -cpu properties, or a map of them`, [
    list(text({ pattern: CPU_PROP_REGEXP, expected: 'a "name=value" -cpu property' })),
    map({}, {
      values: either("a string, an integer or a boolean", [
        text({ pattern: new RegExp(`^${CPU_PROP_VALUE}$`) }),
        integer(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
        boolean(),
      ]),
      keyPattern: new RegExp(`^${CPU_PROP_NAME}$`),
      keyExpected: "a valid -cpu property name",
    }),
  ], { description: 'Extra -cpu properties: ["sscofpmf=true"] or { sscofpmf: true }.' }),
  attach: map({
    qmp: text({
      expected: "the path of QEMU's qmp unix socket",
      description: "QMP: -qmp unix:<path>,server=on,wait=off",
    }),
    gdb: text({
      expected: "the path of QEMU's gdb unix socket",
      description: "The gdbstub: -gdb unix:<path>,server=on,wait=off",
    }),
  }, {
    required: ["qmp", "gdb"],
    description: "A running QEMU to use instead of starting one: its unix sockets.",
  }),
  timeoutMs: integer(1, MAX_TIMEOUT_MS, {
    default: DEFAULT_QEMU_TIMEOUT_MS,
    description: "Milliseconds to wait for any one exchange with QEMU.",
  }),
  bootTimeoutMs: integer(1, MAX_TIMEOUT_MS, {
    default: DEFAULT_QEMU_BOOT_TIMEOUT_MS,
    description: "Native access: milliseconds every hart may take to boot and park.",
  }),
}, { nullable: true });

/**
 * The `-cpu` argument for an ISA string: `rv64`, then `<letter>=true|false`
 * for each of `i m a f d c v h` (all given explicitly, so QEMU defaults do not
 * leak in), then `<name>=true` for each multi-letter extension, then the
 * extra properties.
 *
 * @example Usage
 * ```ts
 * import { cpuArgument } from "./options.ts";
 * import { parseIsa } from "../../hal/isa.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(
 *   cpuArgument(parseIsa("rv64imafdc_sstc")),
 *   "rv64,i=true,m=true,a=true,f=true,d=true,c=true,v=false,h=false,sstc=true",
 * );
 * ```
 *
 * @param isa The parsed ISA string.
 * @param extra Extra properties, `name=value` each.
 * @returns The argument.
 */
export function cpuArgument(isa: IsaSpec, extra: readonly string[] = []): string {
  const parts = ["rv64"];
  for (const letter of QEMU_LETTERS) {
    parts.push(`${letter}=${isa.extensions.has(letter)}`);
  }
  for (const ext of isa.extensions) {
    if (ext.length === 1) continue;
    const name = QEMU_PROPERTY_NAMES.has(ext) ? QEMU_PROPERTY_NAMES.get(ext) : ext;
    if (name !== null && name !== undefined) parts.push(`${name}=true`);
  }
  return [...parts, ...extra].join(",");
}

function envBinary(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "RVHV_QEMU" }).state !== "granted") {
      return undefined;
    }
    const value = Deno.env.get("RVHV_QEMU");
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * Validates QEMU options and fills in the defaults.
 *
 * @example Usage
 * ```ts
 * import { parseQemuOptions } from "./options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const options = parseQemuOptions({ harts: 4, isa: "rv64imafdch" });
 * strictEqual(options.cpu, "rv64,i=true,m=true,a=true,f=true,d=true,c=true,v=false,h=true");
 * strictEqual(options.timeoutMs, 2000);
 * ```
 *
 * @param raw Options from code or from a manifest's `backend.options`.
 * @returns The resolved options.
 * @throws {TypeError} With a `path` naming the offending option.
 */
export function parseQemuOptions(raw: unknown): ResolvedQemuOptions {
  checkOptions(QEMU_OPTIONS_SHAPE, raw);
  const options = (raw ?? {}) as QemuOptions;
  let isa: IsaSpec;
  try {
    isa = parseIsa(options.isa ?? DEFAULT_QEMU_ISA);
  } catch (error) {
    throw invalidOption(["isa"], (error as Error).message);
  }
  const access = options.access ?? "debugger";
  if (access === "native" && options.firmware !== undefined) {
    throw invalidOption(
      ["firmware"],
      `native access boots the real OpenSBI that QEMU ships; leave out "firmware"`,
    );
  }
  if (access === "native" && options.attach !== undefined) {
    throw invalidOption(
      ["attach"],
      `native access boots its own QEMU with the guest agent; it cannot attach to a running one`,
    );
  }
  const cpuProps = Array.isArray(options.cpuProps)
    ? [...options.cpuProps]
    : Object.entries(options.cpuProps ?? {}).map(([name, value]) => `${name}=${String(value)}`);
  const attach = options.attach;
  return Object.freeze({
    harts: options.harts ?? DEFAULT_HARTS,
    isa,
    isaGiven: options.isa !== undefined,
    firmware: options.firmware,
    access,
    qemu: options.qemu ?? envBinary() ?? DEFAULT_QEMU_BINARY,
    cpu: cpuArgument(isa, cpuProps),
    cpuProps: Object.freeze(cpuProps),
    attach: attach === undefined ? undefined : Object.freeze({ qmp: attach.qmp, gdb: attach.gdb }),
    timeoutMs: options.timeoutMs ?? DEFAULT_QEMU_TIMEOUT_MS,
    bootTimeoutMs: options.bootTimeoutMs ?? DEFAULT_QEMU_BOOT_TIMEOUT_MS,
  });
}

/**
 * The QEMU options a command line may add (`rvhv --qemu-arg`), each with
 * what its value is: logging and tracing only. Anything else could change
 * the machine under test, or write where it should not.
 *
 * @example Usage
 * ```ts
 * import { QEMU_ARG_ALLOW_LIST } from "./options.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(Object.keys(QEMU_ARG_ALLOW_LIST), ["-d", "-D", "-trace"]);
 * ```
 */
export const QEMU_ARG_ALLOW_LIST: Readonly<Record<"-d" | "-D" | "-trace", string>> = Object
  .freeze({
    "-d": "<items>",
    "-D": "<file>",
    "-trace": "<pattern>",
  });

/** `-d` items: names, and `trace:<pattern>`, comma-separated. */
const LOG_ITEMS_REGEXP = /^[a-z_]+(?::[A-Za-z0-9_*?.-]+)?(?:,[a-z_]+(?::[A-Za-z0-9_*?.-]+)?)*$/;
/** A `-trace` event pattern (QEMU's `enable=` form: no `file=`, no `events=`). */
const TRACE_PATTERN_REGEXP = /^[A-Za-z0-9_*?.-]+$/;
/** A `-D` file: a plain name, resolved in the session folder. */
const LOG_FILE_REGEXP = /^[A-Za-z0-9_%-][A-Za-z0-9._%-]{0,254}$/;

/** The allow-list as the messages name it: `-d <items>, -D <file> and -trace <pattern>`. */
function allowed(): string {
  const entries = Object.entries(QEMU_ARG_ALLOW_LIST).map(([flag, value]) => `${flag} ${value}`);
  return `${entries.slice(0, -1).join(", ")} and ${entries.at(-1)}`;
}

/**
 * Validates extra QEMU arguments against {@linkcode QEMU_ARG_ALLOW_LIST}:
 * `-d <items>` (repeatable, merged), `-D <file>` (once: a plain file name,
 * which QEMU writes in the session's own folder) and `-trace <pattern>`
 * (repeatable). Each word may also hold an option and its value separated
 * by spaces (`"-d int"`): no allowed value contains one.
 *
 * @example Usage
 * ```ts
 * import { parseQemuArgs } from "./options.ts";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * deepStrictEqual(parseQemuArgs(["-d", "int", "-d guest_errors", "-D", "run.log"]), {
 *   items: "int,guest_errors", trace: [], file: "run.log",
 * });
 * throws(() => parseQemuArgs(["-monitor", "stdio"]), /takes only -d <items>/);
 * ```
 *
 * @param words The arguments, as given.
 * @returns The logging they ask for.
 * @throws {AxError} Kind `"InvalidInput"` for an option outside the
 *   allow-list, a missing or malformed value, or a `-D` that is not a plain
 *   file name.
 */
export function parseQemuArgs(words: readonly string[]): QemuLogging {
  const split = words.flatMap((word) => word.trim().split(/\s+/)).filter((word) => word !== "");
  const items: string[] = [];
  const trace: string[] = [];
  let file: string | undefined;
  const refuse = (detail: string): never => {
    throw new AxError("InvalidInput", `Cannot pass ${detail} to QEMU`);
  };
  for (let i = 0; i < split.length; i += 2) {
    const flag = split[i]!;
    const value = split[i + 1];
    if (!Object.hasOwn(QEMU_ARG_ALLOW_LIST, flag)) {
      refuse(`${JSON.stringify(flag)}: --qemu-arg takes only ${allowed()}`);
    }
    if (value === undefined || Object.hasOwn(QEMU_ARG_ALLOW_LIST, value)) {
      refuse(`${flag} without its value: write ${flag} ${QEMU_ARG_ALLOW_LIST[flag as "-d"]}`);
    }
    if (flag === "-d") {
      if (!LOG_ITEMS_REGEXP.test(value!) || value!.split(",").includes("help")) {
        refuse(
          `-d ${JSON.stringify(value)}: expected log items such as "int,guest_errors" ` +
            `("${DEFAULT_QEMU_BINARY} -d help" lists them)`,
        );
      }
      items.push(value!);
    } else if (flag === "-trace") {
      const pattern = value!.startsWith("enable=") ? value!.slice("enable=".length) : value!;
      if (!TRACE_PATTERN_REGEXP.test(pattern) || pattern === "help") {
        refuse(
          `-trace ${JSON.stringify(value)}: expected an event pattern such as "gdbstub_io_*" ` +
            `("${DEFAULT_QEMU_BINARY} -trace help" lists the events)`,
        );
      }
      trace.push(pattern);
    } else {
      if (file !== undefined) refuse(`-D twice: QEMU writes one log file`);
      const names: readonly string[] = Object.values(SESSION_FILES);
      if (!LOG_FILE_REGEXP.test(value!) || names.includes(value!)) {
        refuse(
          `-D ${JSON.stringify(value)}: expected a plain file name such as "qemu.log", ` +
            `which QEMU writes in the session's own folder (not ${names.join(", ")})`,
        );
      }
      file = value!;
    }
  }
  return Object.freeze({
    ...(items.length === 0 ? {} : { items: items.join(",") }),
    trace: Object.freeze(trace),
    ...(file === undefined ? {} : { file }),
  });
}

/**
 * Adds extra QEMU arguments from the command line to validated options:
 * what `boot` does with its `qemuArgs` option. A QEMU this backend attaches
 * to was started by someone else, so it takes none.
 *
 * @example Usage
 * ```ts
 * import { parseQemuOptions, withQemuArgs } from "./options.ts";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * const options = withQemuArgs(parseQemuOptions({ harts: 2 }), ["-trace", "gdbstub_io_*"]);
 * deepStrictEqual(options.logging, { trace: ["gdbstub_io_*"] });
 * throws(() => withQemuArgs(parseQemuOptions({ attach: { qmp: "/q", gdb: "/g" } }), ["-d", "int"]));
 * ```
 *
 * @param options Validated options.
 * @param words The extra arguments.
 * @returns The options with their logging.
 * @throws {AxError} Kind `"InvalidInput"` as {@linkcode parseQemuArgs} does,
 *   and for an attached QEMU.
 */
export function withQemuArgs(
  options: ResolvedQemuOptions,
  words: readonly string[],
): ResolvedQemuOptions {
  const logging = parseQemuArgs(words);
  if (options.attach !== undefined) {
    throw new AxError(
      "InvalidInput",
      `Cannot pass arguments to an attached QEMU: it was started elsewhere (${options.attach.qmp}); ` +
        `give them to the QEMU's own command line`,
    );
  }
  return Object.freeze({ ...options, logging });
}

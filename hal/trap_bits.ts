/**
 * Exception and interrupt cause numbers (RISC-V privileged spec with H), and
 * the masks built from them.
 *
 * Delegation CSRs (`medeleg`, `hedeleg`, `mideleg`, `hideleg`) and the
 * interrupt CSRs (`mie`, `sie`, `hvip`, …) use bit `n` for cause `n`; build
 * their values with {@linkcode exceptionMask} / {@linkcode interruptMask}
 * rather than writing magic numbers.
 *
 * @module
 */

/**
 * Synchronous exception cause numbers (`mcause`/`scause` with the interrupt
 * bit clear), by their spec names.
 *
 * The ArceOS reference's misspelled name `INST_ACCESSS_FAULT` exists as a
 * deprecated alias.
 *
 * @example Usage
 * ```ts
 * import { Exception } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(Exception.ILLEGAL_INSTRUCTION, 2);
 * strictEqual(Exception.VIRTUAL_INSTRUCTION, 22);
 * ```
 */
export const Exception = {
  INSTRUCTION_ADDRESS_MISALIGNED: 0,
  INSTRUCTION_ACCESS_FAULT: 1,
  ILLEGAL_INSTRUCTION: 2,
  BREAKPOINT: 3,
  LOAD_ADDRESS_MISALIGNED: 4,
  LOAD_ACCESS_FAULT: 5,
  STORE_AMO_ADDRESS_MISALIGNED: 6,
  STORE_AMO_ACCESS_FAULT: 7,
  ENVIRONMENT_CALL_FROM_U_OR_VU: 8,
  ENVIRONMENT_CALL_FROM_HS: 9,
  ENVIRONMENT_CALL_FROM_VS: 10,
  ENVIRONMENT_CALL_FROM_M: 11,
  INSTRUCTION_PAGE_FAULT: 12,
  LOAD_PAGE_FAULT: 13,
  STORE_AMO_PAGE_FAULT: 15,
  DOUBLE_TRAP: 16,
  SOFTWARE_CHECK: 18,
  HARDWARE_ERROR: 19,
  INSTRUCTION_GUEST_PAGE_FAULT: 20,
  LOAD_GUEST_PAGE_FAULT: 21,
  VIRTUAL_INSTRUCTION: 22,
  STORE_AMO_GUEST_PAGE_FAULT: 23,
  /** @deprecated The ArceOS reference's misspelling; use `INSTRUCTION_ACCESS_FAULT`. */
  INST_ACCESSS_FAULT: 1,
} as const;

/**
 * Interrupt cause numbers (`mcause`/`scause` with the interrupt bit set), by
 * their spec names.
 *
 * The ArceOS reference's misspelled names `MACHINEL_EXTERNAL` and
 * `SUPERVISOR_GUEST_EXTERNEL` exist as deprecated aliases.
 *
 * @example Usage
 * ```ts
 * import { Interrupt } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(Interrupt.SUPERVISOR_EXTERNAL, 9);
 * strictEqual(Interrupt.VIRTUAL_SUPERVISOR_TIMER, 6);
 * ```
 */
export const Interrupt = {
  SUPERVISOR_SOFTWARE: 1,
  VIRTUAL_SUPERVISOR_SOFTWARE: 2,
  MACHINE_SOFTWARE: 3,
  SUPERVISOR_TIMER: 5,
  VIRTUAL_SUPERVISOR_TIMER: 6,
  MACHINE_TIMER: 7,
  SUPERVISOR_EXTERNAL: 9,
  VIRTUAL_SUPERVISOR_EXTERNAL: 10,
  MACHINE_EXTERNAL: 11,
  SUPERVISOR_GUEST_EXTERNAL: 12,
  COUNTER_OVERFLOW: 13,
  /** @deprecated The ArceOS reference's misspelling; use `MACHINE_EXTERNAL`. */
  MACHINEL_EXTERNAL: 11,
  /** @deprecated The ArceOS reference's misspelling; use `SUPERVISOR_GUEST_EXTERNAL`. */
  SUPERVISOR_GUEST_EXTERNEL: 12,
} as const;

/**
 * A name in {@linkcode Exception}.
 *
 * @example Usage
 * ```ts
 * import { Exception, exceptionMask } from "@rvhv/percpu";
 * import { type ExceptionName } from "./trap_bits.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const delegated: ExceptionName[] = ["BREAKPOINT", "ENVIRONMENT_CALL_FROM_U_OR_VU"];
 * strictEqual(Exception[delegated[1]!], 8);
 * strictEqual(exceptionMask(...delegated), 0x108n);
 * ```
 */
export type ExceptionName = keyof typeof Exception;
/**
 * A name in {@linkcode Interrupt}.
 *
 * @example Usage
 * ```ts
 * import { Interrupt, interruptMask } from "@rvhv/percpu";
 * import { type InterruptName } from "./trap_bits.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const timer: InterruptName = "SUPERVISOR_TIMER";
 * strictEqual(Interrupt[timer], 5);
 * strictEqual(interruptMask(timer), 0x20n);
 * ```
 */
export type InterruptName = keyof typeof Interrupt;

/** Names that are deprecated aliases, left out of reverse look-ups. */
const DEPRECATED_NAMES: ReadonlySet<string> = new Set([
  "INST_ACCESSS_FAULT",
  "MACHINEL_EXTERNAL",
  "SUPERVISOR_GUEST_EXTERNEL",
]);

function reverse(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  const out = new Map<number, string>();
  for (const [name, n] of Object.entries(table)) {
    if (!DEPRECATED_NAMES.has(name)) out.set(n, name);
  }
  return out;
}

const EXCEPTION_BY_CAUSE: ReadonlyMap<number, string> = reverse(Exception);
const INTERRUPT_BY_CAUSE: ReadonlyMap<number, string> = reverse(Interrupt);

/**
 * The mask with bit `n` set for each cause `n`.
 *
 * @example Usage
 * ```ts
 * import { Exception } from "@rvhv/percpu";
 * import { causeMask } from "./trap_bits.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(causeMask([Exception.ILLEGAL_INSTRUCTION, Exception.BREAKPOINT]), 0xcn);
 * ```
 *
 * @param causes Cause numbers from 0 to 63.
 * @returns The mask.
 * @throws {RangeError} When a cause is not an integer from 0 to 63.
 */
export function causeMask(causes: Iterable<number>): bigint {
  let mask = 0n;
  for (const cause of causes) {
    if (!Number.isInteger(cause) || cause < 0 || cause > 63) {
      throw new RangeError(`Cannot build a cause mask: cause ${cause} is not from 0 to 63`);
    }
    mask |= 1n << BigInt(cause);
  }
  return mask;
}

/**
 * The delegation mask of the named exceptions (`1n << cause` each).
 *
 * @example Usage
 * ```ts
 * import { exceptionMask } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(exceptionMask("ILLEGAL_INSTRUCTION", "BREAKPOINT"), 0xcn);
 * ```
 *
 * @param names Names from {@linkcode Exception}.
 * @returns The mask.
 */
export function exceptionMask(...names: (keyof typeof Exception)[]): bigint {
  return causeMask(names.map((name) => Exception[name]));
}

/**
 * The interrupt mask of the named interrupts (`1n << cause` each).
 *
 * @example Usage
 * ```ts
 * import { interruptMask } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(
 *   interruptMask("VIRTUAL_SUPERVISOR_SOFTWARE", "VIRTUAL_SUPERVISOR_TIMER", "VIRTUAL_SUPERVISOR_EXTERNAL"),
 *   0x444n,
 * );
 * ```
 *
 * @param names Names from {@linkcode Interrupt}.
 * @returns The mask.
 */
export function interruptMask(...names: (keyof typeof Interrupt)[]): bigint {
  return causeMask(names.map((name) => Interrupt[name]));
}

/**
 * The spec name of an exception cause, or `cause N` when it has none.
 *
 * @example Usage
 * ```ts
 * import { exceptionName } from "./trap_bits.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(exceptionName(1), "INSTRUCTION_ACCESS_FAULT");
 * strictEqual(exceptionName(14), "cause 14");
 * ```
 *
 * @param cause The cause number.
 * @returns The name.
 */
export function exceptionName(cause: number): string {
  return EXCEPTION_BY_CAUSE.get(cause) ?? `cause ${cause}`;
}

/**
 * The spec name of an interrupt cause, or `interrupt N` when it has none.
 *
 * @example Usage
 * ```ts
 * import { interruptName } from "./trap_bits.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(interruptName(11), "MACHINE_EXTERNAL");
 * ```
 *
 * @param cause The cause number.
 * @returns The name.
 */
export function interruptName(cause: number): string {
  return INTERRUPT_BY_CAUSE.get(cause) ?? `interrupt ${cause}`;
}

/**
 * The names of the bits set in `mask`, read as exception causes or as
 * interrupts; unnamed bits appear as `bit N`.
 *
 * @example Usage
 * ```ts
 * import { bitNames } from "./trap_bits.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(bitNames(0x204n, "interrupt"), [
 *   "VIRTUAL_SUPERVISOR_SOFTWARE",
 *   "SUPERVISOR_EXTERNAL",
 * ]);
 * ```
 *
 * @param mask The value to decode.
 * @param kind Whether the bits are exception causes or interrupts.
 * @returns One name per set bit, from bit 0 up.
 */
export function bitNames(mask: bigint, kind: "exception" | "interrupt"): string[] {
  const table = kind === "exception" ? EXCEPTION_BY_CAUSE : INTERRUPT_BY_CAUSE;
  const names: string[] = [];
  for (let bit = 0; mask >> BigInt(bit) !== 0n && bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(table.get(bit) ?? `bit ${bit}`);
  }
  return names;
}

/**
 * Finds the cause number for a name (case-insensitive, spec names and the
 * deprecated aliases) or passes a number through.
 *
 * @example Usage
 * ```ts
 * import { causeNumber } from "./trap_bits.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(causeNumber("illegal_instruction", "exception"), 2);
 * strictEqual(causeNumber(9, "interrupt"), 9);
 * ```
 *
 * @param name A name or a cause number.
 * @param kind Whether to look in {@linkcode Exception} or {@linkcode Interrupt}.
 * @returns The cause number, or `undefined` for an unknown name.
 */
export function causeNumber(
  name: string | number,
  kind: "exception" | "interrupt",
): number | undefined {
  if (typeof name === "number") return name;
  const table: Readonly<Record<string, number>> = kind === "exception" ? Exception : Interrupt;
  const upper = name.toUpperCase();
  return Object.hasOwn(table, upper) ? table[upper] : undefined;
}

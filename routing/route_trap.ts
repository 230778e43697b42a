/**
 * Where a trap goes: the RISC-V privileged spec's delegation rules with the H
 * extension, computed from medeleg, mideleg, hedeleg and hideleg, plus the
 * OpenSBI firmware's redirect of the traps M-mode receives
 * (`sbi_trap_redirect`, modelled by `routeTrap` below). The rules in
 * users' words: docs/routing.md.
 *
 * The rules, in the spec's words (hypervisor.adoc "Trap Entry", machine.adoc
 * "Machine Trap Delegation Registers"):
 *
 * 1. By default every trap goes to M-mode; medeleg/mideleg delegate it to
 *    HS-mode.
 * 2. Traps never go from a more privileged mode to a less privileged one: an
 *    exception raised in M-mode is taken in M-mode, delegated or not.
 * 3. A synchronous trap delegated to HS-mode by medeleg is delegated on to
 *    VS-mode when V=1 before the trap and its hedeleg bit is set.
 * 4. An interrupt delegated to HS-mode by mideleg is delegated on to VS-mode
 *    when its hideleg bit is set; VS-level interrupt codes 10, 6 and 2 are
 *    then seen by VS-mode as 9, 5 and 1.
 * 5. hedeleg bits 9–11, 16 and 20–23 are read-only zero: environment calls
 *    from HS/VS/M, double trap, guest-page faults and virtual instruction are
 *    never delegated to VS-mode. medeleg bits 11 and 16 are read-only zero.
 *    hideleg bits 1, 5, 9 and 12 (the S-level interrupts) are read-only zero.
 * 6. An interrupt is taken while in a mode only when its destination is at
 *    least as privileged as that mode (global enables such as mstatus.MIE
 *    aside); VS-level interrupts are disabled whenever V=0, U-mode included.
 *
 * @module
 */

import {
  HEDELEG_READ_ONLY_ZERO,
  HIDELEG_READ_ONLY_ZERO,
  MEDELEG_READ_ONLY_ZERO,
} from "../hal/csr_fields.ts";
import { exceptionName, interruptName } from "../hal/trap_bits.ts";

/**
 * The mode a trap is raised in: U and HS (V=0), VU and VS (V=1), or M.
 *
 * @example An environment call, from each mode it can come from
 * ```ts
 * import { ARCEOS_POLICY, routeTrap, type TrapOrigin } from "@rvhv/percpu";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const origins: TrapOrigin[] = ["U", "VU"];
 * deepStrictEqual(
 *   origins.map((from) => routeTrap(csrs, { cause: 8, interrupt: false, from }).destination),
 *   ["HS", "VS"],
 * );
 * ```
 */
export type TrapOrigin = "U" | "HS" | "VU" | "VS" | "M";

/**
 * The mode whose handler takes a trap.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY, routeTrap, type TrapLevel } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const level: TrapLevel = routeTrap(csrs, { cause: 3, interrupt: false, from: "VU" }).destination;
 * strictEqual(level, "VS"); // a guest's breakpoint goes to the guest kernel
 * ```
 */
export type TrapLevel = "M" | "HS" | "VS";

/**
 * Every origin, least privileged first within each virtualization mode.
 *
 * @example Where a breakpoint goes from each mode
 * ```ts
 * import { ARCEOS_POLICY, routeTrap } from "@rvhv/percpu";
 * import { TRAP_ORIGINS } from "./route_trap.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * deepStrictEqual(
 *   TRAP_ORIGINS.map((from) => [from, routeTrap(csrs, { cause: 3, interrupt: false, from }).destination]),
 *   [["U", "HS"], ["HS", "HS"], ["VU", "VS"], ["VS", "VS"], ["M", "M"]],
 * );
 * ```
 */
export const TRAP_ORIGINS: readonly TrapOrigin[] = Object.freeze(["U", "HS", "VU", "VS", "M"]);

/**
 * The delegation CSRs a route depends on (values as read from the hart).
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY, type DelegationCsrs, PerCpuSet } from "@rvhv/percpu";
 * import { readDelegation } from "./route_table.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ firmware: "opensbi-1.1" });
 * await PerCpuSet.init(hal);
 * const csrs: DelegationCsrs = await readDelegation(hal, 0);
 * deepStrictEqual(csrs, { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg });
 * await hal.close();
 * ```
 */
export interface DelegationCsrs {
  /** Machine exception delegation. */
  readonly medeleg: bigint;
  /** Machine interrupt delegation. */
  readonly mideleg: bigint;
  /** Hypervisor exception delegation (0 on a hart without H). */
  readonly hedeleg: bigint;
  /** Hypervisor interrupt delegation (0 on a hart without H). */
  readonly hideleg: bigint;
}

/**
 * A trap to route.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY, routeTrap } from "@rvhv/percpu";
 * import { type TrapInput } from "./route_trap.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const vsTimer: TrapInput = { cause: 6, interrupt: true, from: "VS" };
 * const route = routeTrap(csrs, vsTimer);
 * strictEqual(route.destination, "VS");
 * strictEqual(route.cause, 5); // VS-mode sees its timer as the supervisor timer
 * ```
 */
export type TrapInput = Parameters<typeof routeTrap>[1];

/**
 * The firmware model for {@linkcode TrapRoute.effective}: `opensbi` models
 * `sbi_trap_redirect`; `none` means M-mode keeps what it receives.
 *
 * @example Usage
 * ```ts
 * import { routeTrap } from "@rvhv/percpu";
 * import { type FirmwareModel } from "./route_trap.ts";
 * import { firmwareModel, readDelegation } from "./route_table.ts";
 * import { createEmulatorHal } from "@rvhv/percpu/emulator";
 * import { strictEqual } from "node:assert/strict";
 *
 * const hal = await createEmulatorHal({ firmware: "none" });
 * const firmware: FirmwareModel = firmwareModel(hal.info());
 * strictEqual(firmware, "none");
 * const route = routeTrap(await readDelegation(hal, 0), { cause: 5, interrupt: true, from: "HS" }, {
 *   firmware,
 * });
 * strictEqual(route.effective.destination, "M"); // nothing delegated, nobody redirects
 * await hal.close();
 * ```
 */
export type FirmwareModel = "opensbi" | "none";

/**
 * Options of {@linkcode routeTrap}.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY, routeTrap } from "@rvhv/percpu";
 * import { type RouteTrapOptions } from "./route_trap.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const bare: RouteTrapOptions = { firmware: "none" };
 * const trap = { cause: 2, interrupt: false, from: "VU" } as const; // illegal instruction
 * strictEqual(routeTrap(csrs, trap).effective.destination, "VS"); // OpenSBI redirects it
 * strictEqual(routeTrap(csrs, trap, bare).effective.destination, "M");
 * ```
 */
export interface RouteTrapOptions {
  /** The firmware in M-mode. Default `"opensbi"`. */
  firmware?: FirmwareModel;
}

/**
 * Where a trap ends up once the firmware in M-mode has acted on it.
 *
 * @example A guest's illegal instruction: M-mode first, then the guest
 * ```ts
 * import { ARCEOS_POLICY, routeTrap } from "@rvhv/percpu";
 * import { type EffectiveRoute } from "./route_trap.ts";
 * import { match, strictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const route = routeTrap(csrs, { cause: 2, interrupt: false, from: "VU" });
 * strictEqual(route.destination, "M"); // medeleg[2] = 0
 * const effective: EffectiveRoute = route.effective;
 * strictEqual(effective.destination, "VS");
 * match(effective.reason, /sbi_trap_redirect/);
 * ```
 */
export interface EffectiveRoute {
  /** The mode whose handler finally runs. */
  readonly destination: TrapLevel;
  /** The cause that handler sees. */
  readonly cause: number;
  /** One line saying why. */
  readonly reason: string;
}

/**
 * The result of {@linkcode routeTrap}.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY, routeTrap, type TrapRoute } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 * const route: TrapRoute = routeTrap(csrs, { cause: 8, interrupt: false, from: "VU" });
 * strictEqual(route.destination, "VS");
 * strictEqual(route.reason, "medeleg[8] = 1, V=1 and hedeleg[8] = 1: delegated on to VS-mode");
 * strictEqual(route.arises, true);
 * // An ecall from U-mode cannot arise in VS-mode.
 * strictEqual(routeTrap(csrs, { cause: 8, interrupt: false, from: "VS" }).arises, false);
 * ```
 */
export interface TrapRoute {
  /** The mode the hardware delivers the trap to. */
  readonly destination: TrapLevel;
  /** The cause the handler sees in its `xcause` (VS-level interrupts are translated). */
  readonly cause: number;
  /** One line saying which rule decided. */
  readonly reason: string;
  /**
   * Whether the trap can happen in the origin mode at all: false for an
   * environment call from another mode, a virtual-instruction exception at
   * V=0, and reserved cause numbers.
   */
  readonly arises: boolean;
  /**
   * Interrupts: whether it can be taken while the hart is in the origin mode
   * (global enables aside); an interrupt destined to a less privileged mode
   * stays pending. Exceptions: equal to `arises`.
   */
  readonly taken: boolean;
  /** Where it ends up after the firmware's redirect (equal to the hardware's for `none`). */
  readonly effective: {
    /** The mode whose handler finally runs. */
    readonly destination: TrapLevel;
    /** The cause that handler sees. */
    readonly cause: number;
    /** One line saying why. */
    readonly reason: string;
  };
}

/** VS-level interrupt codes and what VS-mode sees instead (spec: 10/6/2 → 9/5/1). */
const VS_TRANSLATION: ReadonlyMap<number, number> = new Map([[2, 1], [6, 5], [10, 9]]);

/** The only origins each environment call (and virtual instruction) can come from. */
const EXCEPTION_ORIGINS: ReadonlyMap<number, readonly TrapOrigin[]> = new Map([
  [8, ["U", "VU"]],
  [9, ["HS"]],
  [10, ["VS"]],
  [11, ["M"]],
  [22, ["VU", "VS"]],
]);

/** Exception causes the spec reserves (none of them is ever raised). */
function isReservedException(cause: number): boolean {
  return cause === 14 || cause === 17 || (cause >= 32 && cause <= 47);
}

/** Interrupt causes the spec reserves (0, 4, 8, 14, 15). */
function isReservedInterrupt(cause: number): boolean {
  return cause === 0 || cause === 4 || cause === 8 || cause === 14 || cause === 15;
}

const PRIVILEGE: Readonly<Record<TrapOrigin, number>> = { U: 0, VU: 0, VS: 1, HS: 2, M: 3 };

function isVirtual(from: TrapOrigin): boolean {
  return from === "VU" || from === "VS";
}

function named(cause: number, interrupt: boolean): string {
  return interrupt ? interruptName(cause) : exceptionName(cause);
}

function bitIsSet(value: bigint, bit: bigint): boolean {
  return (value & bit) !== 0n;
}

/** The `[N]` form the reasons use for a CSR bit. */
function field(csr: string, cause: number): string {
  return `${csr}[${cause}]`;
}

function routeException(csrs: DelegationCsrs, cause: number, from: TrapOrigin): {
  destination: TrapLevel;
  reason: string;
} {
  const bit = 1n << BigInt(cause);
  if (from === "M") {
    return {
      destination: "M",
      reason: "raised in M-mode: a trap never goes to a less privileged mode",
    };
  }
  if (bitIsSet(MEDELEG_READ_ONLY_ZERO, bit)) {
    return {
      destination: "M",
      reason: `${field("medeleg", cause)} is read-only zero: M-mode takes it`,
    };
  }
  if (!bitIsSet(csrs.medeleg, bit)) {
    return {
      destination: "M",
      reason: `${field("medeleg", cause)} = 0: not delegated, M-mode takes it`,
    };
  }
  if (!isVirtual(from)) {
    return {
      destination: "HS",
      reason: `${
        field("medeleg", cause)
      } = 1 and V=0: delegated to HS-mode (hedeleg applies only at V=1)`,
    };
  }
  if (bitIsSet(HEDELEG_READ_ONLY_ZERO, bit)) {
    return {
      destination: "HS",
      reason: `${field("medeleg", cause)} = 1; ${field("hedeleg", cause)} is read-only zero: ` +
        `HS-mode takes it`,
    };
  }
  if (bitIsSet(csrs.hedeleg, bit)) {
    return {
      destination: "VS",
      reason: `${field("medeleg", cause)} = 1, V=1 and ${field("hedeleg", cause)} = 1: ` +
        `delegated on to VS-mode`,
    };
  }
  return {
    destination: "HS",
    reason: `${field("medeleg", cause)} = 1, V=1 but ${
      field("hedeleg", cause)
    } = 0: HS-mode takes it`,
  };
}

function routeInterrupt(csrs: DelegationCsrs, cause: number): {
  destination: TrapLevel;
  seen: number;
  reason: string;
} {
  const bit = 1n << BigInt(cause);
  if (!bitIsSet(csrs.mideleg, bit)) {
    return {
      destination: "M",
      seen: cause,
      reason: `${field("mideleg", cause)} = 0: not delegated, M-mode takes it`,
    };
  }
  if (bitIsSet(HIDELEG_READ_ONLY_ZERO, bit)) {
    return {
      destination: "HS",
      seen: cause,
      reason: `${field("mideleg", cause)} = 1; ${field("hideleg", cause)} is read-only zero: ` +
        `HS-mode takes it`,
    };
  }
  if (!bitIsSet(csrs.hideleg, bit)) {
    return {
      destination: "HS",
      seen: cause,
      reason: `${field("mideleg", cause)} = 1, ${field("hideleg", cause)} = 0: HS-mode takes it`,
    };
  }
  const seen = VS_TRANSLATION.get(cause) ?? cause;
  return {
    destination: "VS",
    seen,
    reason: `${field("mideleg", cause)} = 1 and ${field("hideleg", cause)} = 1: ` +
      `delegated on to VS-mode` +
      (seen === cause ? "" : `, which sees it as cause ${seen} (${interruptName(seen)})`),
  };
}

/** Whether an interrupt for `destination` is taken while in `from` (global enables aside). */
function interruptTaken(destination: TrapLevel, from: TrapOrigin): boolean {
  if (destination === "VS") return isVirtual(from);
  return PRIVILEGE[destination] >= PRIVILEGE[from];
}

function whyNotTaken(destination: TrapLevel, from: TrapOrigin): string {
  return destination === "VS"
    ? `; not taken in ${from}-mode (VS-level interrupts are disabled while V=0)`
    : `; not taken in ${from}-mode (interrupts for a less privileged mode are disabled there)`;
}

function opensbiRedirect(
  cause: number,
  from: TrapOrigin,
  csrs: DelegationCsrs,
): EffectiveRoute {
  if (from === "M") {
    return {
      destination: "M",
      cause,
      reason:
        "OpenSBI handles a trap from M-mode itself (sbi_trap_redirect refuses previous mode M)",
    };
  }
  if (cause === 9) {
    return {
      destination: "M",
      cause,
      reason: "OpenSBI serves an ecall from HS-mode as an SBI call",
    };
  }
  if (cause === 4 || cause === 6) {
    return {
      destination: "M",
      cause,
      reason: "OpenSBI emulates misaligned loads and stores in M-mode",
    };
  }
  const bit = 1n << BigInt(cause);
  const also = cause === 2 ? " (after emulating the few instructions it implements)" : "";
  if (isVirtual(from) && !bitIsSet(HEDELEG_READ_ONLY_ZERO, bit) && bitIsSet(csrs.hedeleg, bit)) {
    return {
      destination: "VS",
      cause,
      reason: `OpenSBI redirects it to VS-mode${also}: it came from V=1 and ` +
        `${field("hedeleg", cause)} = 1 (sbi_trap_redirect)`,
    };
  }
  return {
    destination: "HS",
    cause,
    reason: `OpenSBI redirects it to HS-mode${also} (sbi_trap_redirect)`,
  };
}

/**
 * Routes one trap: where the hardware delivers it, the cause its handler
 * sees, why, whether it can happen (and, for an interrupt, be taken) in the
 * origin mode, and where it ends up once the firmware in M-mode has acted on
 * it.
 *
 * Bits the spec makes read-only zero ({@linkcode MEDELEG_READ_ONLY_ZERO},
 * {@linkcode HEDELEG_READ_ONLY_ZERO}, {@linkcode HIDELEG_READ_ONLY_ZERO}) are
 * ignored even when `csrs` has them set, so guest-page faults and virtual
 * instruction always go to HS or M.
 *
 * The `opensbi` firmware model (`sbi_trap_handler` and `sbi_trap_redirect`):
 * an exception M-mode receives from U, HS, VU or VS is redirected to VS-mode
 * when it came from V=1 and its hedeleg bit is set, else to HS-mode; except
 * that an ecall from HS-mode (9) is an SBI call and misaligned loads and
 * stores (4, 6) are emulated, both in M-mode. Traps from M-mode and
 * interrupts are not redirected.
 *
 * @example Usage
 * ```ts
 * import { ARCEOS_POLICY, routeTrap } from "@rvhv/percpu";
 * import { strictEqual } from "node:assert/strict";
 *
 * // OpenSBI's delegation and the ArceOS set-up.
 * const csrs = { medeleg: 0xf0b509n, mideleg: 0x666n, hedeleg: ARCEOS_POLICY.hedeleg, hideleg: ARCEOS_POLICY.hideleg };
 *
 * const breakpoint = routeTrap(csrs, { cause: 3, interrupt: false, from: "VU" });
 * strictEqual(breakpoint.destination, "VS");
 *
 * // Illegal instruction is not in medeleg: M-mode gets it, OpenSBI forwards it.
 * const illegal = routeTrap(csrs, { cause: 2, interrupt: false, from: "VS" });
 * strictEqual(illegal.destination, "M");
 * strictEqual(illegal.effective.destination, "VS");
 *
 * // A VS timer interrupt reaches VS-mode as a supervisor timer interrupt.
 * const timer = routeTrap(csrs, { cause: 6, interrupt: true, from: "VU" });
 * strictEqual(timer.destination, "VS");
 * strictEqual(timer.cause, 5);
 * ```
 *
 * @param csrs The delegation CSRs of the hart.
 * @param trap The cause, whether it is an interrupt, and the origin mode.
 * @param options The firmware model.
 * @returns The route.
 * @throws {RangeError} When the cause is not an integer from 0 to 63.
 * @throws {TypeError} When the origin is not one of {@linkcode TRAP_ORIGINS}.
 */
export function routeTrap(
  csrs: DelegationCsrs,
  trap: {
    /** The cause number (0–63), as in `mcause` without the interrupt bit. */
    readonly cause: number;
    /** Whether it is an interrupt (else a synchronous exception). */
    readonly interrupt: boolean;
    /** The mode the hart is in when the trap happens. */
    readonly from: TrapOrigin;
  },
  options: { readonly firmware?: "opensbi" | "none" } = {},
): TrapRoute {
  const { cause, interrupt, from } = trap;
  if (!Number.isInteger(cause) || cause < 0 || cause > 63) {
    throw new RangeError(`Cannot route cause ${cause}: a cause is an integer from 0 to 63`);
  }
  if (!TRAP_ORIGINS.includes(from)) {
    throw new TypeError(
      `Cannot route a trap from "${from}": the origin is one of ${TRAP_ORIGINS.join(", ")}`,
    );
  }
  const firmware = options.firmware ?? "opensbi";
  if (interrupt) {
    const { destination, seen, reason } = routeInterrupt(csrs, cause);
    const arises = !isReservedInterrupt(cause);
    const taken = arises && interruptTaken(destination, from);
    return {
      destination,
      cause: seen,
      reason: !arises
        ? `interrupt ${cause} is reserved; ${reason}`
        : taken
        ? reason
        : reason + whyNotTaken(destination, from),
      arises,
      taken,
      effective: {
        destination,
        cause: seen,
        reason: destination === "M"
          ? firmware === "opensbi"
            ? "OpenSBI handles M-level interrupts itself (interrupts are not redirected)"
            : "no firmware redirect: M-mode keeps it"
          : "delivered by the hardware; the firmware is not involved",
      },
    };
  }
  const { destination, reason } = routeException(csrs, cause, from);
  const only = EXCEPTION_ORIGINS.get(cause);
  const reserved = isReservedException(cause);
  const arises = !reserved && (only === undefined || only.includes(from));
  const note = reserved
    ? `exception ${cause} is reserved; `
    : arises
    ? ""
    : `${named(cause, false)} is raised only in ${only!.join(" or ")}-mode; `;
  let effective: EffectiveRoute;
  if (destination !== "M") {
    effective = {
      destination,
      cause,
      reason: "delivered by the hardware; the firmware is not involved",
    };
  } else if (firmware === "none") {
    effective = { destination, cause, reason: "no firmware redirect: M-mode keeps it" };
  } else {
    effective = opensbiRedirect(cause, from, csrs);
  }
  return { destination, cause, reason: note + reason, arises, taken: arises, effective };
}

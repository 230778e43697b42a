/**
 * `routeTrap` against a table derived from the spec text, case by case. Each
 * case names the rule it exercises (the numbers are those of the module doc
 * of route_trap.ts; "sbi" is OpenSBI's redirect, `sbi_trap_redirect`, as
 * route_trap.ts models it; "causes" is which causes each mode can raise).
 */

import { deepStrictEqual, match, strictEqual, throws } from "node:assert/strict";
import {
  type DelegationCsrs,
  type FirmwareModel,
  routeTrap,
  TRAP_ORIGINS,
  type TrapLevel,
  type TrapOrigin,
} from "./route_trap.ts";
import { HEDELEG_READ_ONLY_ZERO } from "../hal/csr_fields.ts";

const ALL = (1n << 64n) - 1n;

/** M-mode reset: nothing delegated. */
const RESET: DelegationCsrs = { medeleg: 0n, mideleg: 0n, hedeleg: 0n, hideleg: 0n };
/** OpenSBI 1.1 with H (medeleg 0xf0b509, mideleg 0x222 + the read-only-one VS bits), ArceOS set-up. */
const ARCEOS: DelegationCsrs = {
  medeleg: 0xf0b509n,
  mideleg: 0x666n,
  hedeleg: 0xb10dn,
  hideleg: 0x444n,
};
/** The same firmware with KVM's hedeleg (no illegal instruction). */
const KVM: DelegationCsrs = { ...ARCEOS, hedeleg: 0xb109n };
/** The same firmware after hardwareDisable: hedeleg and hideleg back to 0. */
const DISABLED: DelegationCsrs = { ...ARCEOS, hedeleg: 0n, hideleg: 0n };
/** Every bit set, read-only-zero bits included (the router must ignore those). */
const ALL_ONES: DelegationCsrs = { medeleg: ALL, mideleg: ALL, hedeleg: ALL, hideleg: ALL };
/** hedeleg/hideleg set but nothing delegated by medeleg/mideleg. */
const H_ONLY: DelegationCsrs = { medeleg: 0n, mideleg: 0n, hedeleg: 0xb10dn, hideleg: 0x444n };
/** OpenSBI without virtual instruction in medeleg, hedeleg all ones. */
const NO_VIRT_INST: DelegationCsrs = { ...ARCEOS, medeleg: 0xf0b509n & ~(1n << 22n), hedeleg: ALL };
/** Counter-overflow interrupt delegated all the way (Sscofpmf + Shlcofideleg). */
const LCOF: DelegationCsrs = { ...ARCEOS, mideleg: 0x2666n, hideleg: 0x2444n };

interface Case {
  /** The spec rule exercised. */
  rule: string;
  csrs: DelegationCsrs;
  cause: number;
  interrupt: boolean;
  from: TrapOrigin;
  firmware?: FirmwareModel;
  /** Hardware destination. */
  to: TrapLevel;
  /** Cause the handler sees; default: the same cause. */
  seen?: number;
  /** Default true. */
  taken?: boolean;
  /** Default true. */
  arises?: boolean;
  /** Effective destination; default: the hardware destination. */
  effective?: TrapLevel;
  /** A pattern the reason must match. */
  why?: RegExp;
}

const EXCEPTIONS: Case[] = [
  // Rule 1: by default every trap goes to M-mode.
  { rule: "1", csrs: RESET, cause: 2, interrupt: false, from: "U", to: "M", effective: "HS" },
  { rule: "1", csrs: RESET, cause: 3, interrupt: false, from: "HS", to: "M", effective: "HS" },
  { rule: "1", csrs: RESET, cause: 13, interrupt: false, from: "VU", to: "M", firmware: "none" },
  // Rule 1: medeleg delegates to HS-mode; at V=0 hedeleg does not apply even when set.
  { rule: "1", csrs: ARCEOS, cause: 3, interrupt: false, from: "U", to: "HS", why: /V=0/ },
  { rule: "1", csrs: ARCEOS, cause: 8, interrupt: false, from: "U", to: "HS" },
  { rule: "1", csrs: ARCEOS, cause: 12, interrupt: false, from: "HS", to: "HS" }, // horizontal
  { rule: "1", csrs: ARCEOS, cause: 10, interrupt: false, from: "VS", to: "HS" },
  // Rule 2: a trap raised in M-mode stays in M-mode, however it is delegated.
  { rule: "2", csrs: ARCEOS, cause: 3, interrupt: false, from: "M", to: "M", why: /M-mode/ },
  { rule: "2", csrs: ALL_ONES, cause: 12, interrupt: false, from: "M", to: "M" },
  { rule: "2", csrs: ALL_ONES, cause: 11, interrupt: false, from: "M", to: "M" },
  // Rule 3: delegated by medeleg, V=1 and hedeleg set: VS-mode.
  { rule: "3", csrs: ARCEOS, cause: 3, interrupt: false, from: "VU", to: "VS" },
  { rule: "3", csrs: ARCEOS, cause: 3, interrupt: false, from: "VS", to: "VS" },
  { rule: "3", csrs: ARCEOS, cause: 8, interrupt: false, from: "VU", to: "VS" },
  { rule: "3", csrs: ARCEOS, cause: 15, interrupt: false, from: "VS", to: "VS" },
  { rule: "3", csrs: KVM, cause: 0, interrupt: false, from: "VU", to: "VS" },
  // Rule 3: V=1 but hedeleg clear: HS-mode.
  { rule: "3", csrs: DISABLED, cause: 12, interrupt: false, from: "VU", to: "HS", why: /= 0/ },
  { rule: "3", csrs: DISABLED, cause: 3, interrupt: false, from: "VS", to: "HS" },
  // Rule 3: hedeleg only further delegates what medeleg delegated.
  { rule: "3", csrs: H_ONLY, cause: 3, interrupt: false, from: "VU", to: "M", firmware: "none" },
  // Rule 5: guest-page faults and virtual instruction never reach VS-mode.
  {
    rule: "5",
    csrs: ALL_ONES,
    cause: 20,
    interrupt: false,
    from: "VS",
    to: "HS",
    why: /read-only/,
  },
  { rule: "5", csrs: ALL_ONES, cause: 21, interrupt: false, from: "VU", to: "HS" },
  { rule: "5", csrs: ALL_ONES, cause: 22, interrupt: false, from: "VS", to: "HS" },
  { rule: "5", csrs: ALL_ONES, cause: 23, interrupt: false, from: "VU", to: "HS" },
  { rule: "5", csrs: ARCEOS, cause: 22, interrupt: false, from: "VU", to: "HS" },
  { rule: "5", csrs: ALL_ONES, cause: 10, interrupt: false, from: "VS", to: "HS" }, // ecall from VS
  // Rule 5: medeleg bit 16 (double trap) is read-only zero.
  { rule: "5", csrs: ALL_ONES, cause: 16, interrupt: false, from: "HS", to: "M", effective: "HS" },
  // Rule 5 with the sbi redirect: not in medeleg, M gets it; OpenSBI's redirect still honours read-only hedeleg bits.
  {
    rule: "5, sbi",
    csrs: NO_VIRT_INST,
    cause: 22,
    interrupt: false,
    from: "VU",
    to: "M",
    effective: "HS",
  },
  // sbi: illegal instruction is not in OpenSBI's medeleg; from V=1 with hedeleg[2] set it lands in VS.
  { rule: "sbi", csrs: ARCEOS, cause: 2, interrupt: false, from: "VS", to: "M", effective: "VS" },
  { rule: "sbi", csrs: ARCEOS, cause: 2, interrupt: false, from: "VU", to: "M", effective: "VS" },
  { rule: "sbi", csrs: ARCEOS, cause: 2, interrupt: false, from: "HS", to: "M", effective: "HS" },
  { rule: "sbi", csrs: ARCEOS, cause: 2, interrupt: false, from: "U", to: "M", effective: "HS" },
  { rule: "sbi", csrs: KVM, cause: 2, interrupt: false, from: "VS", to: "M", effective: "HS" },
  { rule: "sbi", csrs: ARCEOS, cause: 2, interrupt: false, from: "M", to: "M", effective: "M" },
  { rule: "sbi", csrs: ARCEOS, cause: 2, interrupt: false, from: "VS", to: "M", firmware: "none" },
  // sbi: OpenSBI serves SBI calls and emulates misaligned accesses itself.
  { rule: "sbi", csrs: ARCEOS, cause: 9, interrupt: false, from: "HS", to: "M", effective: "M" },
  { rule: "sbi", csrs: ARCEOS, cause: 4, interrupt: false, from: "VS", to: "M", effective: "M" },
  { rule: "sbi", csrs: ARCEOS, cause: 6, interrupt: false, from: "U", to: "M", effective: "M" },
  // Causes tied to a mode cannot arise elsewhere; reserved causes never arise.
  {
    rule: "causes",
    csrs: ARCEOS,
    cause: 9,
    interrupt: false,
    from: "U",
    to: "M",
    effective: "M",
    arises: false,
    taken: false,
    why: /only in HS-mode/,
  },
  {
    rule: "causes",
    csrs: ARCEOS,
    cause: 8,
    interrupt: false,
    from: "HS",
    to: "HS",
    arises: false,
    taken: false,
  },
  {
    rule: "causes",
    csrs: ARCEOS,
    cause: 22,
    interrupt: false,
    from: "HS",
    to: "HS",
    arises: false,
    taken: false,
  },
  {
    rule: "causes",
    csrs: ARCEOS,
    cause: 10,
    interrupt: false,
    from: "VU",
    to: "HS",
    arises: false,
    taken: false,
  },
  {
    rule: "causes",
    csrs: ARCEOS,
    cause: 14,
    interrupt: false,
    from: "U",
    to: "M",
    effective: "HS",
    arises: false,
    taken: false,
    why: /reserved/,
  },
];

const INTERRUPTS: Case[] = [
  // Rule 1 and 6: not delegated, M-mode takes it, from any mode.
  { rule: "1, 6", csrs: RESET, cause: 5, interrupt: true, from: "U", to: "M" },
  { rule: "1, 6", csrs: ARCEOS, cause: 7, interrupt: true, from: "VS", to: "M" },
  { rule: "1, 6", csrs: ARCEOS, cause: 7, interrupt: true, from: "M", to: "M" }, // mstatus.MIE aside
  { rule: "1, 6", csrs: ARCEOS, cause: 11, interrupt: true, from: "HS", to: "M" },
  // Rule 1 and 6: mideleg delegates to HS-mode; taken below M, never in M.
  { rule: "1, 6", csrs: ARCEOS, cause: 5, interrupt: true, from: "U", to: "HS" },
  { rule: "1, 6", csrs: ARCEOS, cause: 5, interrupt: true, from: "HS", to: "HS" }, // sstatus.SIE aside
  { rule: "1, 6", csrs: ARCEOS, cause: 9, interrupt: true, from: "VU", to: "HS" },
  { rule: "1, 6", csrs: ARCEOS, cause: 1, interrupt: true, from: "VS", to: "HS" },
  {
    rule: "6",
    csrs: ARCEOS,
    cause: 9,
    interrupt: true,
    from: "M",
    to: "HS",
    taken: false,
    why: /M-mode/,
  },
  // Rule 4: hideleg delegates on to VS-mode, which sees 10/6/2 as 9/5/1.
  {
    rule: "4",
    csrs: ARCEOS,
    cause: 6,
    interrupt: true,
    from: "VU",
    to: "VS",
    seen: 5,
    why: /cause 5/,
  },
  { rule: "4", csrs: ARCEOS, cause: 10, interrupt: true, from: "VS", to: "VS", seen: 9 },
  { rule: "4", csrs: ARCEOS, cause: 2, interrupt: true, from: "VU", to: "VS", seen: 1 },
  { rule: "4", csrs: LCOF, cause: 13, interrupt: true, from: "VS", to: "VS", seen: 13 },
  // Rule 6: VS-level interrupts are disabled whenever V=0 (U-mode included) and in M-mode.
  {
    rule: "4, 6",
    csrs: ARCEOS,
    cause: 6,
    interrupt: true,
    from: "HS",
    to: "VS",
    seen: 5,
    taken: false,
  },
  {
    rule: "4, 6",
    csrs: ARCEOS,
    cause: 10,
    interrupt: true,
    from: "U",
    to: "VS",
    seen: 9,
    taken: false,
    why: /V=0/,
  },
  {
    rule: "4, 6",
    csrs: ARCEOS,
    cause: 2,
    interrupt: true,
    from: "M",
    to: "VS",
    seen: 1,
    taken: false,
  },
  // Rule 4: hideleg clear (after disable): HS-mode, no translation.
  { rule: "4", csrs: DISABLED, cause: 6, interrupt: true, from: "VU", to: "HS" },
  { rule: "4", csrs: DISABLED, cause: 10, interrupt: true, from: "VS", to: "HS" },
  // Rule 4: hideleg only further delegates what mideleg delegated.
  { rule: "4", csrs: H_ONLY, cause: 2, interrupt: true, from: "VS", to: "M" },
  // Rule 5: the S-level interrupts (1, 5, 9, 12) never reach VS-mode.
  { rule: "5", csrs: ALL_ONES, cause: 9, interrupt: true, from: "VS", to: "HS", why: /read-only/ },
  { rule: "5", csrs: ALL_ONES, cause: 12, interrupt: true, from: "VU", to: "HS" },
  { rule: "5", csrs: ALL_ONES, cause: 1, interrupt: true, from: "VS", to: "HS" },
  // Reserved interrupt codes never arise.
  {
    rule: "causes",
    csrs: ARCEOS,
    cause: 4,
    interrupt: true,
    from: "U",
    to: "M",
    arises: false,
    taken: false,
  },
];

function label(c: Case): string {
  const kind = c.interrupt ? "interrupt" : "exception";
  return `rule ${c.rule}: ${kind} ${c.cause} from ${c.from} → ${c.to}` +
    (c.effective !== undefined && c.effective !== c.to ? ` (effective ${c.effective})` : "");
}

for (const [title, cases] of [["exceptions", EXCEPTIONS], ["interrupts", INTERRUPTS]] as const) {
  Deno.test(`routeTrap() routes ${title} as the spec table says`, async (t) => {
    for (const c of cases) {
      await t.step(label(c), () => {
        const route = routeTrap(
          c.csrs,
          { cause: c.cause, interrupt: c.interrupt, from: c.from },
          c.firmware === undefined ? {} : { firmware: c.firmware },
        );
        strictEqual(route.destination, c.to);
        strictEqual(route.cause, c.seen ?? c.cause);
        strictEqual(route.arises, c.arises ?? true);
        strictEqual(route.taken, c.taken ?? true);
        strictEqual(route.effective.destination, c.effective ?? c.to);
        strictEqual(route.reason.includes("\n"), false, "the reason is one line");
        if (c.why !== undefined) match(route.reason, c.why);
      });
    }
  });
}

Deno.test("routeTrap() explains the OpenSBI redirect and the firmware none model", () => {
  const csrs = ARCEOS;
  const trap = { cause: 2, interrupt: false, from: "VS" } as const;
  const redirected = routeTrap(csrs, trap);
  match(redirected.reason, /medeleg\[2\] = 0/);
  match(redirected.effective.reason, /OpenSBI redirects it to VS-mode.*hedeleg\[2\] = 1/);
  strictEqual(redirected.effective.cause, 2);
  const none = routeTrap(csrs, trap, { firmware: "none" });
  strictEqual(none.effective.destination, "M");
  match(none.effective.reason, /no firmware redirect/);
  const delivered = routeTrap(csrs, { cause: 3, interrupt: false, from: "VS" });
  match(delivered.effective.reason, /firmware is not involved/);
});

Deno.test("routeTrap() rejects causes out of range and unknown origins", () => {
  throws(() => routeTrap(ARCEOS, { cause: 64, interrupt: false, from: "U" }), RangeError);
  throws(() => routeTrap(ARCEOS, { cause: -1, interrupt: true, from: "U" }), RangeError);
  throws(() => routeTrap(ARCEOS, { cause: 1.5, interrupt: true, from: "U" }), RangeError);
  throws(
    () => routeTrap(ARCEOS, { cause: 1, interrupt: false, from: "S" as TrapOrigin }),
    /Cannot route a trap from "S": the origin is one of U, HS, VU, VS, M/,
  );
});

/** A small deterministic generator (xorshift64*) for the invariant sweep. */
function* randomCsrs(seed: bigint, count: number): Generator<DelegationCsrs> {
  let state = seed;
  const next = () => {
    state ^= state >> 12n;
    state ^= (state << 25n) & ALL;
    state ^= state >> 27n;
    return (state * 0x2545f4914f6cdd1dn) & ALL;
  };
  for (let i = 0; i < count; i++) {
    yield { medeleg: next(), mideleg: next(), hedeleg: next(), hideleg: next() };
  }
}

Deno.test("routeTrap() keeps the spec's invariants for any CSR values", () => {
  const PRIVILEGE = { U: 0, VU: 0, VS: 1, HS: 2, M: 3 } as const;
  let checked = 0;
  for (const csrs of randomCsrs(0x9e3779b97f4a7c15n, 200)) {
    for (let cause = 0; cause < 64; cause++) {
      for (const from of TRAP_ORIGINS) {
        const exception = routeTrap(csrs, { cause, interrupt: false, from });
        // Never below the origin's privilege; VS-mode only from V=1.
        if (PRIVILEGE[exception.destination] < PRIVILEGE[from]) {
          throw new Error(`exception ${cause} from ${from} went to ${exception.destination}`);
        }
        if (exception.destination === "VS") {
          deepStrictEqual([
            from === "VU" || from === "VS",
            (HEDELEG_READ_ONLY_ZERO >> BigInt(cause)) & 1n,
          ], [
            true,
            0n,
          ]);
        }
        // The firmware never sends an exception from V=0 into the guest, nor past hedeleg's read-only bits.
        if (exception.effective.destination === "VS") {
          strictEqual(from === "VU" || from === "VS", true);
          strictEqual((HEDELEG_READ_ONLY_ZERO >> BigInt(cause)) & 1n, 0n);
        }
        if (from === "M") strictEqual(exception.effective.destination, "M");
        const irq = routeTrap(csrs, { cause, interrupt: true, from });
        // Delegated interrupts are never taken in a more privileged mode than their destination.
        if (irq.taken && irq.destination !== "VS") {
          strictEqual(PRIVILEGE[irq.destination] >= PRIVILEGE[from], true);
        }
        if (irq.taken && irq.destination === "VS") {
          strictEqual(from === "VU" || from === "VS", true);
        }
        if ([2, 6, 10].includes(cause) && irq.destination === "VS") {
          strictEqual(irq.cause, cause - 1);
        }
        if (irq.destination !== "VS") strictEqual(irq.cause, cause);
        checked += 2;
      }
    }
  }
  strictEqual(checked, 200 * 64 * 5 * 2);
});

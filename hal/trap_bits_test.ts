import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  bitNames,
  causeMask,
  causeNumber,
  Exception,
  exceptionMask,
  exceptionName,
  Interrupt,
  interruptMask,
  interruptName,
} from "./trap_bits.ts";

Deno.test("Exception and Interrupt carry the spec's cause numbers", () => {
  deepStrictEqual(
    [
      Exception.INSTRUCTION_ADDRESS_MISALIGNED,
      Exception.ILLEGAL_INSTRUCTION,
      Exception.ENVIRONMENT_CALL_FROM_U_OR_VU,
      Exception.STORE_AMO_PAGE_FAULT,
      Exception.SOFTWARE_CHECK,
      Exception.INSTRUCTION_GUEST_PAGE_FAULT,
      Exception.STORE_AMO_GUEST_PAGE_FAULT,
    ],
    [0, 2, 8, 15, 18, 20, 23],
  );
  deepStrictEqual(
    [
      Interrupt.SUPERVISOR_SOFTWARE,
      Interrupt.VIRTUAL_SUPERVISOR_TIMER,
      Interrupt.SUPERVISOR_GUEST_EXTERNAL,
    ],
    [1, 6, 12],
  );
});

Deno.test("the reference's misspelled names are aliases of the spec names", () => {
  strictEqual(Exception.INST_ACCESSS_FAULT, Exception.INSTRUCTION_ACCESS_FAULT);
  strictEqual(Interrupt.MACHINEL_EXTERNAL, Interrupt.MACHINE_EXTERNAL);
  strictEqual(Interrupt.SUPERVISOR_GUEST_EXTERNEL, Interrupt.SUPERVISOR_GUEST_EXTERNAL);
  // Reverse look-ups give the spec name, never the alias.
  strictEqual(exceptionName(1), "INSTRUCTION_ACCESS_FAULT");
  strictEqual(interruptName(12), "SUPERVISOR_GUEST_EXTERNAL");
});

/** The exceptions the reference delegates (its hedeleg), in cause order. */
const REFERENCE_HEDELEG = [
  "INSTRUCTION_ADDRESS_MISALIGNED",
  "ILLEGAL_INSTRUCTION",
  "BREAKPOINT",
  "ENVIRONMENT_CALL_FROM_U_OR_VU",
  "INSTRUCTION_PAGE_FAULT",
  "LOAD_PAGE_FAULT",
  "STORE_AMO_PAGE_FAULT",
] as const;

Deno.test("masks built from names give the reference's values", () => {
  strictEqual(
    exceptionMask(...REFERENCE_HEDELEG),
    0xb10dn,
  );
  strictEqual(
    interruptMask("SUPERVISOR_EXTERNAL", "SUPERVISOR_SOFTWARE", "SUPERVISOR_TIMER"),
    0x222n,
  );
  strictEqual(causeMask([63]), 1n << 63n);
  throws(() => causeMask([64]), RangeError);
});

Deno.test("bitNames() and causeNumber() decode and encode", () => {
  deepStrictEqual(bitNames(0xb10dn, "exception"), REFERENCE_HEDELEG);
  deepStrictEqual(bitNames(1n << 14n, "exception"), ["bit 14"]);
  strictEqual(causeNumber("inst_accesss_fault", "exception"), 1);
  strictEqual(causeNumber("NOPE", "interrupt"), undefined);
});

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { CSR } from "./csr_numbers.ts";
import * as E from "./errors.ts";

Deno.test("every error class sets its name and kind and extends AxError", () => {
  const cause = new Error("root");
  const errors: [E.AxError, string, string][] = [
    [new E.AxError("Timeout", "x", { cause }), "AxError", "Timeout"],
    [
      new E.CsrTrap({ hart: 2, csr: CSR.hedeleg, trapCause: 2, op: "write", cause }),
      "CsrTrap",
      "Unsupported",
    ],
    [
      new E.ManifestError({ file: "m.yaml", line: 3, column: 2, path: ["a"], detail: "d", cause }),
      "ManifestError",
      "InvalidInput",
    ],
    [
      new E.TraceDivergence({
        file: "t",
        index: 1,
        hart: 0,
        csr: 1,
        expected: "a",
        actual: "b",
        cause,
      }),
      "TraceDivergence",
      "InvalidData",
    ],
    [
      new E.TraceFormatError({ file: "t", line: 1, detail: "d", cause }),
      "TraceFormatError",
      "InvalidData",
    ],
    [
      new E.QmpError({ command: "c", errorClass: "GenericError", desc: "d", cause }),
      "QmpError",
      "Io",
    ],
    [new E.GdbProtocolError("x", { cause }), "GdbProtocolError", "Io"],
  ];
  // Every error class the module exports is in the list above.
  const classes = Object.entries(E)
    .filter(([, value]) => typeof value === "function" && value.prototype instanceof Error)
    .map(([name]) => name);
  deepStrictEqual(
    [...new Set(errors.map(([, name]) => name))].sort(),
    classes.sort(),
  );
  for (const [error, name, kind] of errors) {
    ok(error instanceof E.AxError);
    ok(error instanceof Error);
    strictEqual(error.name, name);
    strictEqual(error.kind, kind);
    strictEqual(error.cause, cause, `${name} passes cause through`);
  }
});

Deno.test("CsrTrap's message names the CSR by name and number, the hart and the cause", () => {
  const trap = new E.CsrTrap({ hart: 3, csr: CSR.hedeleg, trapCause: 2, op: "write" });
  strictEqual(
    trap.message,
    'Cannot write CSR "hedeleg" (0x602) on hart 3: the hart raised ILLEGAL_INSTRUCTION (cause 2)',
  );
  strictEqual(trap.hart, 3);
});

Deno.test("ManifestError's message is file:line:column, key path, detail", () => {
  const error = new E.ManifestError({
    file: "rvhv.yaml",
    line: 4,
    column: 11,
    path: ["backend", "options", "harts"],
    detail: "expected an integer",
  });
  strictEqual(
    error.message,
    "Invalid manifest at rvhv.yaml:4:11 (backend.options.harts): expected an integer",
  );
  match(
    new E.ManifestError({ file: "x", line: 0, column: 0, path: [], detail: "d" }).message,
    /^Invalid manifest at x: d$/,
  );
});

Deno.test("TraceDivergence says how to re-record", () => {
  const error = new E.TraceDivergence({
    file: "run.jsonl",
    index: 4,
    hart: 1,
    csr: CSR.hedeleg,
    expected: "write hedeleg 0xb10d",
    actual: "write hedeleg 0xb109",
  });
  match(
    error.message,
    /hedeleg.*hart 1.*event 4.*expected write hedeleg 0xb10d, got write hedeleg 0xb109.*re-record/,
  );
});

Deno.test("invalidOption() is a TypeError with the option path", () => {
  const error = E.invalidOption(["ram", "size"], "must be positive");
  ok(error instanceof TypeError);
  strictEqual(error.message, 'Invalid option "ram.size": must be positive');
});

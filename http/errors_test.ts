import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { AxError, type AxErrorKind, CsrTrap, ManifestError } from "../hal/errors.ts";
import { ERROR_STATUS, errorResponse, HttpRefusal } from "./errors.ts";

Deno.test("errorResponse() gives every AxError kind its status", () => {
  const expected = Object.fromEntries(
    [
      ..."InvalidInput 400 NotFound 404 BadState 409 AlreadyExists 409 InvalidData 500 Unsupported 501 Io 502 ResourceBusy 503 Timeout 504"
        .matchAll(/(\w+) (\d+)/g),
    ].map(([, kind, status]) => [kind!, Number(status)]),
  );
  deepStrictEqual(ERROR_STATUS, expected);
  for (const [kind, status] of Object.entries(expected)) {
    const answer = errorResponse(new AxError(kind as AxErrorKind, `Cannot do it: ${kind}`));
    deepStrictEqual(answer, {
      status,
      body: { error: { kind, message: `Cannot do it: ${kind}` } },
    });
  }
  // Subclasses answer by their kind.
  strictEqual(errorResponse(new CsrTrap({ hart: 0, csr: 0x680, trapCause: 2 })).status, 501);
  strictEqual(
    errorResponse(
      new ManifestError({ file: "m.yaml", line: 1, column: 1, path: [], detail: "bad" }),
    ).status,
    400,
  );
});

Deno.test("errorResponse() answers refusals by their status and anything else with 500", () => {
  for (
    const [kind, status] of [
      ["Unauthorized", 401],
      ["Forbidden", 403],
      ["MethodNotAllowed", 405],
      ["PayloadTooLarge", 413],
      ["UnsupportedMediaType", 415],
      ["Unavailable", 503],
    ] as const
  ) {
    const refusal = new HttpRefusal(kind, "Cannot serve it");
    strictEqual(refusal.name, "HttpRefusal");
    deepStrictEqual(errorResponse(refusal), {
      status,
      body: { error: { kind, message: "Cannot serve it" } },
    });
  }
  // A TypeError here is a bug, not the caller's mistake.
  deepStrictEqual(errorResponse(new TypeError("x is undefined")), {
    status: 500,
    body: { error: { kind: "Internal", message: "x is undefined" } },
  });
  strictEqual(errorResponse("a string").body.error.message, "a string");
});

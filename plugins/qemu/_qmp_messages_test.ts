import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { parseGreeting, parseQmpLine, QmpProtocolError } from "./_qmp_messages.ts";

Deno.test("parseQmpLine() tells greetings, events, returns and errors apart", () => {
  strictEqual(parseQmpLine(`{"QMP": {}}`).kind, "greeting");
  deepStrictEqual(parseQmpLine(`{"event": "STOP", "data": {"a": 1}}`), {
    kind: "event",
    event: { event: "STOP", data: { a: 1 } },
  });
  deepStrictEqual(parseQmpLine(`{"return": 7, "id": "x"}`), { kind: "return", id: "x", value: 7 });
  deepStrictEqual(
    parseQmpLine(`{"error": {"class": "GenericError", "desc": "no"}, "id": "x"}`),
    { kind: "error", id: "x", error: { errorClass: "GenericError", desc: "no" } },
  );
  deepStrictEqual(parseQmpLine(`{"error": {}, "id": "x"}`), {
    kind: "error",
    id: "x",
    error: undefined,
  });
});

Deno.test("parseQmpLine() throws for non-objects and flags unroutable messages", () => {
  throws(() => parseQmpLine("{oops"), (e) => e instanceof QmpProtocolError && e.line === "{oops");
  throws(() => parseQmpLine("[1]"), /not a JSON object/);
  for (
    const [line, why] of [
      [`{"error": {"desc": "bad"}}`, /no id \(bad\)/],
      [`{"return": {}, "id": 3}`, /id is not a string/],
      [`{"hello": 1}`, /neither a greeting, an event nor a reply/],
    ] as const
  ) {
    const message = parseQmpLine(line);
    ok(message.kind === "malformed");
    ok(why.test(message.error.message), message.error.message);
  }
});

Deno.test("parseGreeting() checks the version and capabilities", () => {
  const greeting = parseGreeting(
    { QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 } }, capabilities: ["oob"] } },
    "line",
  );
  deepStrictEqual(greeting.version, { qemu: { major: 7, minor: 2, micro: 22 }, package: "" });
  throws(() => parseGreeting({ QMP: { version: {} } }, "line"), /'qemu' must be a JSON object/);
});

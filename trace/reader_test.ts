import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { AxError, TraceFormatError } from "../hal/errors.ts";
import { header, traceText, withTempDir, writeTrace } from "../tests/_helpers/traces.ts";
import { readTraceHeader, TraceReader } from "./reader.ts";

/** Asserts a `TraceFormatError` at `file:line` whose message matches `detail`. */
function formatError(file: string, line: number, detail: RegExp) {
  return (error: unknown) => {
    ok(error instanceof TraceFormatError, `expected TraceFormatError, got ${error}`);
    strictEqual(error.file, file);
    strictEqual(error.line, line, error.message);
    strictEqual(error.kind, "InvalidData");
    ok(
      error.message.startsWith(`Cannot read trace ${file}:${line}: `),
      `${error.message} should name ${file}:${line}`,
    );
    ok(detail.test(error.message), `${error.message} should match ${detail}`);
    return true;
  };
}

function readAll(path: string): void {
  using reader = TraceReader.open(path);
  for (const _ of reader) { /* read to the end */ }
}

Deno.test("TraceReader reads the header, then every event with its line", async () => {
  await withTempDir(async (dir) => {
    const path = await writeTrace(dir, "ok.jsonl", [
      { hart: 0, op: "read", csr: "hgatp", ret: "0x0" },
      { hart: 1, op: "write", csr: "hedeleg", arg: "0xB10D", ret: "0x0" },
      { hart: 0, op: "clear", csr: "hvip", arg: "0x4", ret: "0x0" },
      { hart: 1, op: "read", csr: "hgatp", trap: 2 },
    ]);
    using reader = TraceReader.open(path);
    strictEqual(reader.header.backend, "emulator");
    deepStrictEqual(reader.header.harts, [0, 1]);
    deepStrictEqual(reader.header.info, {
      backend: "emulator",
      isa: "rv64imafdch",
      profile: "spec",
    });
    const events = [...reader];
    deepStrictEqual(events.map((e) => [e.i, e.hart, e.op, e.csr, e.arg, e.ret, e.trap, e.line]), [
      [0, 0, "read", 0x680, undefined, 0n, undefined, 2],
      [1, 1, "write", 0x602, 0xb10dn, 0n, undefined, 3],
      [2, 0, "clear", 0x645, 0x4n, 0n, undefined, 4],
      [3, 1, "read", 0x680, undefined, undefined, 2, 5],
    ]);
    strictEqual(reader.eventsRead, 4);
    strictEqual(reader.done, true);
    strictEqual(readTraceHeader(path).isa, "rv64imafdch");
  });
});

Deno.test("TraceReader reads lines across chunk boundaries, CRLF endings and a last line without newline", async () => {
  await withTempDir(async (dir) => {
    const count = 6000; // about 400 KiB: more than one 256 KiB chunk
    const events = Array.from({ length: count }, (_, i) => ({
      hart: i % 2,
      op: "write" as const,
      csr: "sscratch",
      arg: `0x${(i * 0x10001).toString(16)}`,
      ret: `0x${i.toString(16)}`,
    }));
    const text = traceText(events);
    const crlf = `${dir}/crlf.jsonl`;
    await Deno.writeTextFile(crlf, text.replaceAll("\n", "\r\n").trimEnd());
    ok((await Deno.stat(crlf)).size > 256 * 1024);
    using reader = TraceReader.open(crlf);
    let n = 0;
    for (const event of reader) {
      strictEqual(event.i, n);
      strictEqual(event.arg, BigInt(n * 0x10001));
      strictEqual(event.ret, BigInt(n));
      n++;
    }
    strictEqual(n, count);
  });
});

Deno.test("TraceReader names the file and the 1-based line of every malformed line", async (t) => {
  await withTempDir(async (dir) => {
    const good = traceText([{ hart: 0 }, { hart: 1 }, { hart: 0 }]);
    const lines = good.trimEnd().split("\n");
    const broken = async (name: string, replace: number, line: string) => {
      const copy = [...lines];
      copy[replace - 1] = line;
      const path = `${dir}/${name}`;
      await Deno.writeTextFile(path, copy.join("\n") + "\n");
      return path;
    };

    await t.step("a truncated last line", async () => {
      const path = `${dir}/truncated.jsonl`;
      await Deno.writeTextFile(path, good.slice(0, good.length - 20));
      throws(
        () => readAll(path),
        formatError(path, 4, /the event is truncated: the file ends in the middle of it/),
      );
    });
    await t.step("a corrupt line in the middle", async () => {
      const path = await broken("corrupt.jsonl", 3, '{"i":1,"hart":1,"op":"read"');
      throws(() => readAll(path), formatError(path, 3, /the event is not valid JSON/));
    });
    await t.step("an unknown header version is refused", async () => {
      const path = await broken("v2.jsonl", 1, JSON.stringify(header({ version: 2 })));
      throws(
        () => TraceReader.open(path),
        formatError(path, 1, /unknown trace version 2; this release reads version 1/),
      );
    });
    await t.step("a header without a version, or of another format", async () => {
      const { version: _, ...noVersion } = header();
      const path = await broken("nov.jsonl", 1, JSON.stringify(noVersion));
      throws(
        () => TraceReader.open(path),
        formatError(path, 1, /the header has no "version"; this release reads version 1/),
      );
      const other = await broken("har.jsonl", 1, JSON.stringify(header({ format: "har" })));
      throws(() => TraceReader.open(other), formatError(other, 1, /not an rvhv trace.*"har"/));
    });
    await t.step("an empty file, and a header that is not JSON", async () => {
      const empty = `${dir}/empty.jsonl`;
      await Deno.writeTextFile(empty, "");
      throws(() => TraceReader.open(empty), formatError(empty, 1, /the file is empty/));
      const path = await broken("hdr.jsonl", 1, "{format: rvhv-trace}");
      throws(() => TraceReader.open(path), formatError(path, 1, /the header is not valid JSON/));
    });
    await t.step("bad header fields", async () => {
      const harts = await broken("harts.jsonl", 1, JSON.stringify(header({ harts: [1, 0] })));
      throws(
        () => TraceReader.open(harts),
        formatError(harts, 1, /"harts" must be a non-empty ascending list/),
      );
      const isa = await broken("isa.jsonl", 1, JSON.stringify(header({ isa: 64 })));
      throws(() => TraceReader.open(isa), formatError(isa, 1, /"isa" must be a string/));
    });
    const eventCases: [string, string, RegExp][] = [
      [
        "index.jsonl",
        '{"i":5,"hart":0,"op":"read","csr":"sscratch","num":"0x140","ret":"0x0"}',
        /"i" is 5, expected 1/,
      ],
      [
        "hart.jsonl",
        '{"i":1,"hart":7,"op":"read","csr":"sscratch","num":"0x140","ret":"0x0"}',
        /"hart" is 7, which is not one of the header's harts 0, 1/,
      ],
      [
        "op.jsonl",
        '{"i":1,"hart":0,"op":"csrrw","csr":"sscratch","num":"0x140","ret":"0x0"}',
        /"op" is "csrrw"/,
      ],
      [
        "num.jsonl",
        '{"i":1,"hart":0,"op":"read","csr":"sscratch","num":"0x1140","ret":"0x0"}',
        /"num" is "0x1140"/,
      ],
      [
        "name.jsonl",
        '{"i":1,"hart":0,"op":"read","csr":"hedeleg","num":"0x140","ret":"0x0"}',
        /"csr" is "hedeleg", but "num" "0x140" is "sscratch"/,
      ],
      [
        "readarg.jsonl",
        '{"i":1,"hart":0,"op":"read","csr":"sscratch","num":"0x140","arg":"0x1","ret":"0x0"}',
        /a read event has no "arg"/,
      ],
      [
        "noarg.jsonl",
        '{"i":1,"hart":0,"op":"set","csr":"sscratch","num":"0x140","ret":"0x0"}',
        /a set event needs an "arg"/,
      ],
      [
        "noret.jsonl",
        '{"i":1,"hart":0,"op":"read","csr":"sscratch","num":"0x140"}',
        /needs "ret" or "trap"/,
      ],
      [
        "both.jsonl",
        '{"i":1,"hart":0,"op":"read","csr":"sscratch","num":"0x140","ret":"0x0","trap":2}',
        /either "ret" or "trap", not both/,
      ],
      [
        "hex.jsonl",
        '{"i":1,"hart":0,"op":"read","csr":"sscratch","num":"0x140","ret":"12"}',
        /"ret" is "12", expected a 64-bit "0x…" hex string/,
      ],
      [
        "big.jsonl",
        '{"i":1,"hart":0,"op":"write","csr":"sscratch","num":"0x140","arg":"0x10000000000000000","ret":"0x0"}',
        /"arg" is "0x10000000000000000"/,
      ],
      [
        "trap.jsonl",
        '{"i":1,"hart":0,"op":"read","csr":"sscratch","num":"0x140","trap":"2"}',
        /"trap" is "2", expected an exception cause/,
      ],
      ["array.jsonl", "[1,2]", /expected an event object, got a list/],
      ["blank.jsonl", "", /the line is empty; expected an event/],
    ];
    for (const [name, line, detail] of eventCases) {
      await t.step(`event: ${detail.source}`, async () => {
        const path = await broken(name, 3, line);
        throws(() => readAll(path), formatError(path, 3, detail));
      });
    }
    await t.step("the generic csr0x… spelling is accepted for any address", async () => {
      const path = await broken(
        "generic.jsonl",
        3,
        '{"i":1,"hart":1,"op":"read","csr":"csr0x140","num":"0x140","ret":"0x0"}',
      );
      readAll(path);
    });
  });
});

Deno.test("TraceReader reads lines the writer would not write (spaces, key order, escapes) the same", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/loose.jsonl`;
    await Deno.writeTextFile(
      path,
      [
        JSON.stringify(header()),
        '{"i":0,"hart":1,"op":"write","csr":"hedeleg","num":"0x602","arg":"0xB10D","ret":"0x0"}',
        '{ "i": 1, "hart": 1, "op": "write", "csr": "hedeleg", "num": "0x602", "arg": "0xb10d", "ret": "0x0" }',
        '{"op":"write","hart":1,"i":2,"num":"0x602","csr":"h\\u0065deleg","ret":"0x0","arg":"0x000000000000000000b10d"}',
        '{"i":3,"hart":1,"op":"write","csr":"csr0x602","num":"0X602","arg":"0xb10d","ret":"0x0","note":"x"}',
        '{"i":4,"hart":1,"op":"read","csr":"hgatp","num":"0x680","trap":2.0}',
      ].join("\n") + "\n",
    );
    using reader = TraceReader.open(path);
    const events = [...reader];
    deepStrictEqual(
      events.slice(0, 4).map((e) => [e.i, e.hart, e.op, e.csr, e.arg, e.ret, e.trap]),
      [0, 1, 2, 3].map((i) => [i, 1, "write", 0x602, 0xb10dn, 0n, undefined]),
    );
    deepStrictEqual([events[4]!.op, events[4]!.csr, events[4]!.trap], ["read", 0x680, 2]);
  });
});

Deno.test("TraceReader.open() rejects a missing file with NotFound", () => {
  throws(
    () => TraceReader.open("/nonexistent/run.jsonl"),
    (e) =>
      e instanceof AxError && e.kind === "NotFound" &&
      /Cannot open trace \/nonexistent\/run\.jsonl/.test(e.message),
  );
});

import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { AxError } from "../hal/errors.ts";
import { header, withTempDir } from "../tests/_helpers/traces.ts";
import type { TraceHeader } from "./format.ts";
import { TraceReader } from "./reader.ts";
import { FLUSH_EVENTS, TraceWriter } from "./writer.ts";

const HEADER = header() as unknown as TraceHeader;

function lines(text: string): string[] {
  return text.trimEnd().split("\n");
}

Deno.test("TraceWriter writes canonical lines to <path>.partial and renames on finish()", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    const writer = TraceWriter.create(path, HEADER);
    strictEqual(writer.partialPath, `${path}.partial`);
    deepStrictEqual(lines(await Deno.readTextFile(writer.partialPath)), [JSON.stringify(HEADER)]);
    writer.append(0, "read", 0x680, undefined, 0n, undefined);
    writer.append(1, "write", 0x602, 0xb10dn, 0n, undefined);
    writer.append(1, "write", 0x602, 0xb109n, 0xb10dn, undefined); // same (op, CSR), new values
    writer.append(1, "write", 0x602, 0xb109n, 0xb10dn, undefined); // same again: cached text
    writer.append(0, "set", 0x104, -1n, (1n << 64n) - 1n, undefined);
    writer.append(0, "read", 0x7c0, undefined, undefined, 2);
    strictEqual(writer.events, 6);
    writer.finish();
    writer.finish();
    await rejects(Deno.stat(writer.partialPath), Deno.errors.NotFound);
    deepStrictEqual(lines(await Deno.readTextFile(path)).slice(1), [
      '{"i":0,"hart":0,"op":"read","csr":"hgatp","num":"0x680","ret":"0x0"}',
      '{"i":1,"hart":1,"op":"write","csr":"hedeleg","num":"0x602","arg":"0xb10d","ret":"0x0"}',
      '{"i":2,"hart":1,"op":"write","csr":"hedeleg","num":"0x602","arg":"0xb109","ret":"0xb10d"}',
      '{"i":3,"hart":1,"op":"write","csr":"hedeleg","num":"0x602","arg":"0xb109","ret":"0xb10d"}',
      '{"i":4,"hart":0,"op":"set","csr":"sie","num":"0x104","arg":"0xffffffffffffffff","ret":"0xffffffffffffffff"}',
      '{"i":5,"hart":0,"op":"read","csr":"csr0x7c0","num":"0x7c0","trap":2}',
    ]);
    throws(
      () => writer.append(0, "read", 0x680, undefined, 0n, undefined),
      (e) => e instanceof AxError && e.kind === "BadState" && /it is finished/.test(e.message),
    );
  });
});

Deno.test("TraceWriter flushes a full batch at once, and the rest when the event loop turns", async () => {
  await withTempDir(async (dir) => {
    const writer = TraceWriter.create(`${dir}/run.jsonl`, HEADER);
    for (let k = 0; k < FLUSH_EVENTS - 1; k++) {
      writer.append(k % 2, "write", 0x140, BigInt(k), BigInt(k), undefined);
    }
    // Read synchronously: the event loop has not turned yet.
    strictEqual(lines(Deno.readTextFileSync(writer.partialPath)).length, 1, "only the header");
    writer.append(0, "read", 0x140, undefined, 1n, undefined);
    const text = Deno.readTextFileSync(writer.partialPath);
    ok(text.endsWith("\n"));
    strictEqual(lines(text).length, 1 + FLUSH_EVENTS, "a full batch is written at once");
    writer.append(0, "read", 0x140, undefined, 2n, undefined);
    writer.append(1, "read", 0x140, undefined, 3n, undefined);
    strictEqual(lines(Deno.readTextFileSync(writer.partialPath)).length, 1 + FLUSH_EVENTS);
    await new Promise((resolve) => setTimeout(resolve, 0));
    // The partial file is a valid trace after every flush.
    using reader = TraceReader.open(writer.partialPath);
    const events = [...reader];
    strictEqual(events.length, FLUSH_EVENTS + 2, "the rest followed when the loop turned");
    // Values that never repeat (written without the suffix cache) come back exactly.
    ok(
      events.slice(0, FLUSH_EVENTS - 1).every((e, k) => e.arg === BigInt(k) && e.ret === BigInt(k)),
    );
    deepStrictEqual(events.slice(-3).map((e) => e.ret), [1n, 2n, 3n]);
    writer.finish();
  });
});

Deno.test("TraceWriter.create() names the path it cannot create", () => {
  throws(
    () => TraceWriter.create("/nonexistent/dir/run.jsonl", HEADER),
    (e) =>
      e instanceof AxError && e.kind === "NotFound" &&
      e.message.startsWith(
        "Cannot record trace /nonexistent/dir/run.jsonl: cannot create /nonexistent/dir/run.jsonl.partial: ",
      ),
  );
});

import { deepStrictEqual, throws } from "node:assert/strict";
import { parseReplayOptions } from "./options.ts";

function optionError(path: string[], detail: RegExp) {
  return (error: unknown) => {
    if (!(error instanceof TypeError)) return false;
    deepStrictEqual((error as TypeError & { path: string[] }).path, path);
    return detail.test(error.message);
  };
}

Deno.test("parseReplayOptions() fills in strict and lookahead, and names each bad option", () => {
  deepStrictEqual(parseReplayOptions({ path: "t.jsonl", strict: false, lookahead: 8 }), {
    path: "t.jsonl",
    strict: false,
    lookahead: 8,
  });
  throws(
    () => parseReplayOptions(undefined),
    optionError([], /missing option "path"; add "path: <trace\.jsonl>", the trace file to replay/),
  );
  throws(
    () => parseReplayOptions({ path: 3 }),
    optionError(["path"], /expected a trace file path/),
  );
  throws(
    () => parseReplayOptions({ path: "t", strict: "yes" }),
    optionError(["strict"], /true or false/),
  );
  throws(
    () => parseReplayOptions({ path: "t", lookahead: 0 }),
    optionError(["lookahead"], /from 1/),
  );
  throws(
    () => parseReplayOptions({ path: "t", stict: true }),
    optionError(["stict"], /unknown option "stict"/),
  );
});

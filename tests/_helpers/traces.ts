/** Helpers for tests that write trace files. */

/** An event as written in a trace line, with defaults for what a test does not care about. */
export interface EventSpec {
  hart?: number;
  op?: "read" | "write" | "set" | "clear";
  csr?: string;
  num?: string;
  arg?: string;
  ret?: string;
  trap?: number;
}

const NUMS: Record<string, string> = {
  hgatp: "0x680",
  hedeleg: "0x602",
  hideleg: "0x603",
  hcounteren: "0x606",
  hvip: "0x645",
  sie: "0x104",
  vsie: "0x204",
  sscratch: "0x140",
  mhartid: "0xf14",
};

/** A header line's object, with the given fields replaced. */
export function header(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: "rvhv-trace",
    version: 1,
    backend: "emulator",
    isa: "rv64imafdch",
    profile: "spec",
    harts: [0, 1],
    created: "2026-01-01T00:00:00.000Z",
    tool: "@rvhv/percpu@test",
    ...overrides,
  };
}

/** The text of a trace: the header line, then one line per event (numbered in order). */
export function traceText(
  events: readonly EventSpec[],
  headerOverrides: Record<string, unknown> = {},
): string {
  const lines = [JSON.stringify(header(headerOverrides))];
  events.forEach((spec, i) => {
    const csr = spec.csr ?? "sscratch";
    const event: Record<string, unknown> = {
      i,
      hart: spec.hart ?? 0,
      op: spec.op ?? "read",
      csr,
      num: spec.num ?? NUMS[csr] ?? "0x140",
    };
    if (spec.arg !== undefined) event.arg = spec.arg;
    else if ((spec.op ?? "read") !== "read") event.arg = "0x0";
    if (spec.trap !== undefined) event.trap = spec.trap;
    else event.ret = spec.ret ?? "0x0";
    lines.push(JSON.stringify(event));
  });
  return lines.join("\n") + "\n";
}

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a trace to `<dir>/<name>` and returns its path. */
export async function writeTrace(
  dir: string,
  name: string,
  events: readonly EventSpec[],
  headerOverrides: Record<string, unknown> = {},
): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, traceText(events, headerOverrides));
  return path;
}

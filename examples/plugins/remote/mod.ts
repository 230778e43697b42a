/**
 * `remote`: a third-party backend plugin that drives the harts of another
 * rvhv server over its HTTP API, so QEMU can run on one machine and be
 * scripted from another.
 *
 * The server runs `rvhv serve <manifest> --token <T>` (raw CSR access needs
 * a token); this plugin sends each CSR batch to
 * `POST /api/backend/harts/:id/csr` with `Authorization: Bearer <T>`.
 * Frames and address translation are the client's own (a local RAM region):
 * they belong to the hypervisor's host, not to the remote harts.
 *
 * Requires `--allow-net=<server host:port>`.
 *
 * @example Usage
 * ```yaml
 * version: 1
 * backend:
 *   plugin: ./examples/plugins/remote/mod.ts
 *   options: { url: "http://127.0.0.1:8787", token: "s3cret" }
 * ```
 *
 * @module
 */

import {
  AxError,
  type AxErrorKind,
  type AxVCpuHal,
  BackendHal,
  type CsrOp,
  type CsrResult,
  type HalInfo,
  type HalPlugin,
  type HartId,
  hex,
  invalidOption,
  parseHex,
} from "@rvhv/percpu";

/** The remote backend's options. */
export interface RemoteOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The server's token (`serve --token`). */
  token: string;
  /** How long one request may take. Default 5000 ms. */
  timeoutMs?: number;
}

/** The statuses the server's error table maps back to `AxError` kinds. */
const KIND_BY_STATUS: Readonly<Record<number, AxErrorKind>> = {
  400: "InvalidInput",
  404: "NotFound",
  409: "BadState",
  501: "Unsupported",
  504: "Timeout",
};

type WireResult = { ok: true; value: string } | { ok: false; trapCause: number };

/**
 * The harts of a remote rvhv server: BackendHal does the contract (checks,
 * per-hart order, closed state, frames from a local RAM region), this plugin
 * only sends each checked batch over HTTP.
 */
function createRemoteHal(
  options: Required<RemoteOptions>,
  info: HalInfo,
  harts: readonly HartId[],
): AxVCpuHal {
  const described: HalInfo = Object.freeze({
    ...info,
    backend: "remote",
    remoteBackend: info.backend,
    url: options.url,
  });
  return new BackendHal({
    name: "remote",
    harts,
    info: () => described,
    ram: { base: 0x8000_0000n, size: 16n << 20n },
    physVirtOffset: 0n,
    async run(hart: HartId, ops: readonly CsrOp[]): Promise<CsrResult[]> {
      const wire = ops.map((op) =>
        op.op === "read"
          ? { op: op.op, csr: op.csr }
          : { op: op.op, csr: op.csr, value: hex(op.value) }
      );
      const body = await request(options, "POST", `/api/backend/harts/${hart}/csr`, {
        ops: wire,
      }) as { results: WireResult[] };
      return body.results.map((r): CsrResult => r.ok ? { ok: true, value: parseHex(r.value) } : r);
    },
  });
}

/** One JSON request to the server; HTTP errors become `AxError`s of the server's kind. */
async function request(
  options: Required<RemoteOptions>,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(new URL(path, options.url), {
      method,
      headers: {
        Authorization: `Bearer ${options.token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    const timedOut = (error as Error).name === "TimeoutError";
    throw new AxError(
      timedOut ? "Timeout" : "Io",
      `Cannot reach the rvhv server at ${options.url}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const json = await response.json().catch(() => undefined) as
    | { error?: { message?: string } }
    | undefined;
  if (!response.ok) {
    throw new AxError(
      KIND_BY_STATUS[response.status] ?? "Io",
      json?.error?.message ?? `The rvhv server answered ${response.status} to ${method} ${path}`,
    );
  }
  return json;
}

/**
 * The remote backend as a plugin: `backend.plugin: ./examples/plugins/remote/mod.ts`.
 *
 * @example Usage
 * ```ts ignore
 * import remote from "./examples/plugins/remote/mod.ts";
 *
 * const hal = await remote.create(remote.parseOptions({ url: "http://127.0.0.1:8787", token: "s3cret" }));
 * console.log(hal.harts);
 * ```
 */
const remotePlugin: HalPlugin<Required<RemoteOptions>> = {
  name: "remote",
  describe: "the harts of another rvhv server (rvhv serve --token), over its HTTP API",
  permissions: ["--allow-net=<server host:port>"],
  parseOptions(raw: unknown): Required<RemoteOptions> {
    const options = (raw ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(options)) {
      if (!["url", "token", "timeoutMs"].includes(key)) {
        throw invalidOption([key], `unknown option "${key}"; expected "url", "token", "timeoutMs"`);
      }
    }
    if (typeof options.url !== "string" || !/^https?:\/\//.test(options.url)) {
      throw invalidOption(["url"], 'expected the server\'s URL, e.g. "http://127.0.0.1:8787"');
    }
    if (typeof options.token !== "string" || options.token === "") {
      throw invalidOption(["token"], "expected the server's token (raw CSR access needs one)");
    }
    const timeoutMs = options.timeoutMs ?? 5000;
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
      throw invalidOption(["timeoutMs"], "expected a positive number of milliseconds");
    }
    return { url: options.url, token: options.token, timeoutMs };
  },
  async create(options: Required<RemoteOptions>): Promise<AxVCpuHal> {
    const backend = await request(options, "GET", "/api/backend") as {
      info: HalInfo;
      harts: HartId[];
    };
    return createRemoteHal(options, backend.info, backend.harts);
  },
};

export default remotePlugin;

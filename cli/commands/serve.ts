/**
 * `serve`: boot a manifest and serve its harts over HTTP (the page and the
 * JSON API of `@rvhv/percpu/http`) until SIGINT or SIGTERM, then close the
 * system (enabled harts disabled, the backend closed).
 *
 * Permissions: `--allow-net=<host>:<port>` for the listen address (e.g.
 * `--allow-net=127.0.0.1:8787`), and `--allow-env=RVHV_TOKEN` to read the
 * token from the environment; plus the CLI's and the backend's.
 *
 * @module
 */

import { createApp } from "../../http/app.ts";
import { bootForCli } from "../boot.ts";
import { nextInterrupt, signalExitCode } from "../signals.ts";
import { readManifestArg } from "../manifest_arg.ts";
import { type Command, EXIT, UsageError } from "../io.ts";
import { defineCommand } from "../command_line.ts";

/** Where `serve` listens when neither `--listen` nor the manifest says. */
export const DEFAULT_LISTEN = "127.0.0.1:8787";

/** How many of the most recent trace events `GET /api/trace` returns. */
const TRACE_EVENTS_SERVED = 10_000;

const LISTEN_REGEXP = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d{1,5})$/i;

const HELP = `Usage: rvhv serve <manifest> [--listen host:port] [--token T] [--json]

Boots the manifest and serves its harts over HTTP until SIGINT (Ctrl-C) or
SIGTERM: the page at / (a hart x CSR grid with drift marked, each hart's card
with its CSRs, enable/disable, vCPU bind/unbind and trap-routing grid) and the
JSON API under /api (see docs/http.md).
On exit the server stops accepting, in-flight requests finish, and the
system is closed: enabled harts are disabled (prior values restored) and the
backend is closed.

Listens on --listen, else the manifest's server.listen, else ${DEFAULT_LISTEN}.
A loopback address (127.0.0.0/8, ::1, localhost) answers only to loopback
Host names (a request without a Host header is refused too). Any other
address is refused unless a token is given (--token or the RVHV_TOKEN
environment variable); with a token every request but /healthz needs
"Authorization: Bearer <token>", and a browser opens the page once as
/?token=<token> (a session cookie then carries it). A request whose Origin
header names another origin is refused (403) either way.

Options:
  --listen HOST:PORT  address to listen on (port 0 picks a free port)
  --token T           require the token T on every request but /healthz
  --json              once listening, print {"url", "harts"} as JSON on stdout
  -h, --help          show this help

Permissions: --allow-net=HOST:PORT for the listen address, and
--allow-env=RVHV_TOKEN to read the token from the environment.

Exit codes: 130/143 stopped by SIGINT/SIGTERM (the system closed first), 1 a
hart cannot be set up, 2 usage or manifest error (a non-loopback address
without a token included), 3 backend or listen failure.

Example:
  npx -y deno@2.9.6 run --allow-read=examples --allow-env=LOG_TOKENS,LOG_STREAM,RVHV_TOKEN \\
    --allow-net=127.0.0.1:8787 cli/main.ts serve examples/emulator.yaml
`;

/** A parsed listen address. */
export interface ListenAddress {
  /** The host name or address, without IPv6 brackets. */
  hostname: string;
  /** The port (0: any free port). */
  port: number;
  /** Whether the address is loopback only. */
  loopback: boolean;
}

/**
 * Parses `host:port` (`[::1]:8787` for IPv6) and says whether it is loopback.
 *
 * @param text The address.
 * @returns The parsed address.
 * @throws {UsageError} When it is not `host:port` with a port up to 65535.
 */
export function parseListen(text: string): ListenAddress {
  const match = LISTEN_REGEXP.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) {
    throw new UsageError(`--listen needs "host:port" such as "${DEFAULT_LISTEN}", got "${text}"`);
  }
  const hostname = match[1]!.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return { hostname, port, loopback: isLoopback(hostname) };
}

function isLoopback(hostname: string): boolean {
  if (hostname === "localhost" || hostname === "::1") return true;
  const octets = hostname.split(".");
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

/** `host:port` as it appears in a URL and a Host header. */
function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** RVHV_TOKEN, when set and readable without a prompt. */
function envToken(): { token?: string; unreadable: boolean } {
  const state = Deno.permissions.querySync({ name: "env", variable: "RVHV_TOKEN" }).state;
  if (state !== "granted") return { unreadable: true };
  const token = Deno.env.get("RVHV_TOKEN");
  return token === undefined ? { unreadable: false } : { token, unreadable: false };
}

/**
 * The token `serve` uses: `--token`, else `RVHV_TOKEN`.
 *
 * @param flag The `--token` value.
 * @returns The token, and whether the environment could not be read.
 * @throws {UsageError} For an empty token.
 */
export function resolveToken(flag: string | undefined): { token?: string; unreadable: boolean } {
  const found = flag === undefined ? envToken() : { token: flag, unreadable: false };
  if (found.token !== undefined && found.token.trim() === "") {
    throw new UsageError(
      flag === undefined ? "RVHV_TOKEN is set but empty" : "--token needs a non-empty value",
    );
  }
  return found;
}

/**
 * Refuses a non-loopback address without a token.
 *
 * @param address Where to listen.
 * @param token The token, if any.
 * @param unreadable Whether RVHV_TOKEN could not be read (for the hint).
 * @throws {UsageError} When the address is not loopback and there is no token.
 */
export function checkExposure(
  address: ListenAddress,
  token: string | undefined,
  unreadable: boolean,
): void {
  if (address.loopback || token !== undefined) return;
  const hint = unreadable ? " (RVHV_TOKEN cannot be read without --allow-env=RVHV_TOKEN)" : "";
  throw new UsageError(
    `Cannot listen on ${hostPort(address.hostname, address.port)} without a token: ` +
      `it is not a loopback address; pass --token or set RVHV_TOKEN${hint}`,
  );
}

/** The `serve` command. */
export const serveCommand: Command = defineCommand({
  name: "serve",
  summary: "serve the harts over HTTP: a page per hart and a JSON API (enable/disable)",
  help: HELP,
  options: {
    listen: { type: "string" },
    token: { type: "string" },
  },
  takes: "manifest",
  async run({ values, path: manifestPath, trust }, io): Promise<number> {
    const manifest = await readManifestArg(manifestPath, io.stdin);
    const address = parseListen(values.listen ?? manifest.server?.listen ?? DEFAULT_LISTEN);
    const { token, unreadable } = resolveToken(values.token);
    checkExposure(address, token, unreadable);

    io.err(`rvhv: booting ${manifest.file} (backend ${manifest.backend.plugin})\n`);
    // serve closes the system on SIGINT itself, so a recording also gets the close.
    const system = await bootForCli(manifest, trust);
    const stop = new AbortController();
    let received: Deno.Signal | undefined;
    // While serving, SIGINT/SIGTERM stop the server instead of exiting the CLI.
    void nextInterrupt().then((signal) => {
      received = signal;
      stop.abort();
    });
    try {
      let handle: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response> =
        () => new Response("Starting", { status: 503 });
      const server = Deno.serve(
        { hostname: address.hostname, port: address.port, signal: stop.signal, onListen() {} },
        (request, info) => handle(request, info),
      );
      const port = server.addr.port;
      const where = hostPort(address.hostname, port);
      const hosts = address.loopback
        ? [...new Set([where, `127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])]
        : undefined;
      const recording = system.hal.recording;
      const app = createApp(system, {
        ...(token === undefined ? {} : { token }),
        ...(hosts === undefined ? {} : { hosts }),
        ...(recording === undefined
          ? {}
          : { trace: () => recording.readEvents(TRACE_EVENTS_SERVED) }),
      });
      handle = (request, info) => app.fetch(request, info);
      const url = `http://${where}/`;
      io.err(
        `rvhv: serving ${system.percpus.harts.length} hart(s) on ${url}` +
          `${
            token === undefined ? "" : " (token required: open the page once as /?token=<token>)"
          }; Ctrl-C stops\n`,
      );
      if (values.json) io.out(JSON.stringify({ url, harts: system.percpus.harts }) + "\n");
      await server.finished;
      io.err(`rvhv: ${received ?? "signal"} received; server stopped\n`);
    } finally {
      await system.close();
      io.err("rvhv: closed (enabled harts disabled, prior values restored, backend closed)\n");
    }
    // Stopped by a signal (the only way serve ends): exit as the signal says (130, 143).
    return received === undefined ? EXIT.ok : signalExitCode(received);
  },
});

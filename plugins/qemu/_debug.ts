/**
 * `RVHV_DEBUG` logging: `RVHV_DEBUG=qmp,rsp` writes every QMP line and every
 * gdb remote-protocol packet to stderr as it is sent or received.
 *
 * Reading the variable needs `--allow-env=RVHV_DEBUG`; without that
 * permission logging is simply off (no prompt, no error).
 *
 * @module
 */

/** The channels `RVHV_DEBUG` can switch on. */
export type DebugChannel = "qmp" | "rsp";

/** Writes one log line to stderr. */
export type DebugLog = (line: string) => void;

const encoder = new TextEncoder();

function envChannels(): Set<string> {
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: "RVHV_DEBUG" }).state;
    if (state !== "granted") return new Set();
    const value = Deno.env.get("RVHV_DEBUG") ?? "";
    return new Set(value.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== ""));
  } catch {
    return new Set();
  }
}

/**
 * The logger of a channel, or `undefined` when the channel is off.
 *
 * @param channel The channel.
 * @param force `true`/`false` overrides the environment; `undefined` reads `RVHV_DEBUG`.
 * @returns A logger writing `<channel><direction> <text>` lines to stderr, or `undefined`.
 */
export function debugLogger(channel: DebugChannel, force?: boolean): DebugLog | undefined {
  const on = force ?? (() => {
    const channels = envChannels();
    return channels.has(channel) || channels.has("all") || channels.has("1");
  })();
  if (!on) return undefined;
  return (line: string) => {
    try {
      Deno.stderr.writeSync(encoder.encode(`[rvhv ${channel}] ${line}\n`));
    } catch {
      // stderr closed: nothing to log to.
    }
  };
}

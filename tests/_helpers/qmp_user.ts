/**
 * A minimal QMP client for tests that play the user: connects to a QMP
 * unix socket (the user's monitor of a held session), negotiates
 * capabilities and runs commands one at a time, skipping events.
 *
 * Needs `--allow-read`, `--allow-write` and `--allow-net` for the socket.
 */

/** A QMP connection, closed with `close()`. */
export interface UserQmp {
  /** Runs a command and resolves to its `return` (rejects on an `error`). */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown>;
  /** Closes the connection. */
  close(): void;
}

/**
 * Connects to a QMP socket and leaves the capabilities negotiation done.
 *
 * @param path The socket.
 * @returns The connection.
 */
export async function connectUserQmp(path: string): Promise<UserQmp> {
  const conn = await Deno.connect({ transport: "unix", path });
  const lines = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextMessage = async (): Promise<Record<string, unknown>> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`QMP ${path} closed`);
      buffered += value;
    }
    const end = buffered.indexOf("\n");
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    return JSON.parse(line);
  };
  const writer = conn.writable.getWriter();
  const execute = async (command: string, args?: Record<string, unknown>) => {
    await writer.write(
      new TextEncoder().encode(
        JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }) + "\n",
      ),
    );
    for (;;) {
      const message = await nextMessage();
      if ("event" in message) continue;
      if ("error" in message) throw new Error(`QMP ${command}: ${JSON.stringify(message.error)}`);
      return message.return;
    }
  };
  const greeting = await nextMessage();
  if (!("QMP" in greeting)) throw new Error(`no QMP greeting on ${path}`);
  await execute("qmp_capabilities");
  return {
    execute,
    close() {
      lines.releaseLock();
      writer.releaseLock();
      conn.close();
    },
  };
}

/**
 * The HTTP bench's load generator, run as its own process so that it does
 * not share the servers' event loop: `CONNECTIONS` keep-alive connections,
 * each sending `GET <path>` and waiting for the whole response before the
 * next (as wrk does), for `SECONDS`. Prints one JSON line: requests, the
 * measured duration, the p50 and p99 latency, socket errors and non-2xx
 * answers.
 *
 * Usage: `deno run --allow-net bench/http_load.ts <url> <connections> <seconds>`
 */

/** What one run measured. */
export interface LoadReport {
  /** Requests answered completely. */
  requests: number;
  /** How long the run took, in µs. */
  duration_us: number;
  /** Median latency, in µs. */
  p50_us: number;
  /** 99th-percentile latency, in µs. */
  p99_us: number;
  /** Connections that failed. */
  socket_errors: number;
  /** Answers whose status was not 2xx. */
  non_2xx: number;
}

/** Reads HTTP/1.1 responses off one connection, one at a time. */
class ResponseReader {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  async #fill(): Promise<void> {
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf.subarray(0, this.#end));
      this.#buf = bigger;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("connection closed by the server");
    this.#end += n;
  }

  /** Where the buffered response's header ends (after its blank line), or -1. */
  #headerEnd(): number {
    const buf = this.#buf;
    for (let i = this.#start; i + 3 < this.#end; i++) {
      if (buf[i] === 0x0d && buf[i + 1] === 0x0a && buf[i + 2] === 0x0d && buf[i + 3] === 0x0a) {
        return i + 4;
      }
    }
    return -1;
  }

  /** Reads one response; returns its status. */
  async read(): Promise<number> {
    let headerEnd: number;
    while ((headerEnd = this.#headerEnd()) < 0) await this.#fill();
    const head = new TextDecoder().decode(this.#buf.subarray(this.#start, headerEnd));
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    this.#start = headerEnd;
    if (length !== null) {
      const need = Number(length[1]);
      while (this.#end - this.#start < need) await this.#fill();
      this.#start += need;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      await this.#skipChunks();
    } else {
      throw new Error(`a response without a length: ${head}`);
    }
    return status;
  }

  async #skipChunks(): Promise<void> {
    for (;;) {
      let lineEnd = -1;
      while (lineEnd < 0) {
        for (let i = this.#start; i + 1 < this.#end; i++) {
          if (this.#buf[i] === 0x0d && this.#buf[i + 1] === 0x0a) {
            lineEnd = i;
            break;
          }
        }
        if (lineEnd < 0) await this.#fill();
      }
      const size = parseInt(
        new TextDecoder().decode(this.#buf.subarray(this.#start, lineEnd)),
        16,
      );
      this.#start = lineEnd + 2;
      while (this.#end - this.#start < size + 2) await this.#fill();
      this.#start += size + 2;
      if (size === 0) return;
    }
  }
}

/**
 * Loads `url` with `connections` connections for `seconds`.
 *
 * @param url An `http://127.0.0.1:<port>/<path>` URL.
 * @param connections How many connections.
 * @param seconds How long.
 * @returns What the run measured.
 */
export async function load(url: string, connections: number, seconds: number): Promise<LoadReport> {
  const target = new URL(url);
  const request = new TextEncoder().encode(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`,
  );
  const latencies: number[] = [];
  let requests = 0;
  let socketErrors = 0;
  let non2xx = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  async function client(): Promise<void> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
    } catch {
      socketErrors++;
      return;
    }
    conn.setNoDelay(true);
    const reader = new ResponseReader(conn);
    try {
      while (performance.now() < deadline) {
        const sent = performance.now();
        let written = 0;
        while (written < request.length) written += await conn.write(request.subarray(written));
        const status = await reader.read();
        latencies.push(performance.now() - sent);
        requests++;
        if (status < 200 || status > 299) non2xx++;
      }
    } catch {
      socketErrors++;
    } finally {
      conn.close();
    }
  }
  await Promise.all(Array.from({ length: connections }, client));
  const duration = performance.now() - start;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requests,
    duration_us: Math.round(duration * 1000),
    p50_us: Math.round(at(0.5) * 1000),
    p99_us: Math.round(at(0.99) * 1000),
    socket_errors: socketErrors,
    non_2xx: non2xx,
  };
}

if (import.meta.main) {
  const [url, connections, seconds] = Deno.args;
  if (url === undefined || connections === undefined || seconds === undefined) {
    console.error("usage: deno run --allow-net bench/http_load.ts <url> <connections> <seconds>");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await load(url, Number(connections), Number(seconds))));
}

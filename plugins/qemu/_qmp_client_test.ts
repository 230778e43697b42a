import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { AxError, QmpError } from "../../hal/errors.ts";
import { MemoryTransport } from "../../tests/_helpers/memory_transport.ts";
import { QmpClient } from "./_qmp_client.ts";
import { type QmpEvent, QmpProtocolError } from "./_qmp_messages.ts";

const GREETING =
  `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n`;

interface Command {
  execute: string;
  id: string;
  arguments?: Record<string, unknown>;
}

/** A scripted QMP server: greets, answers qmp_capabilities, hands other commands to `handle`. */
function server(handle?: (command: Command, transport: MemoryTransport) => void): MemoryTransport {
  const transport = new MemoryTransport();
  let partial = "";
  transport.onWrite = (text) => {
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      const command = JSON.parse(line) as Command;
      if (command.execute === "qmp_capabilities") {
        transport.serverSend(`{"return": {}, "id": ${JSON.stringify(command.id)}}\r\n`);
      } else {
        handle?.(command, transport);
      }
    }
  };
  queueMicrotask(() => transport.serverSend(GREETING));
  return transport;
}

function reply(transport: MemoryTransport, command: Command, value: unknown): void {
  transport.serverSend(`${JSON.stringify({ return: value, id: command.id })}\r\n`);
}

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "QmpClient.connect() validates the greeting and negotiates capabilities",
  opts,
  async () => {
    const transport = server();
    const qmp = new QmpClient(transport, { debug: false });
    strictEqual(qmp.runstate, "idle");
    const connecting = qmp.connect();
    strictEqual(qmp.runstate, "connecting");
    const greeting = await connecting;
    strictEqual(qmp.runstate, "running");
    deepStrictEqual(greeting.version.qemu, { major: 7, minor: 2, micro: 22 });
    strictEqual(qmp.versionText, "7.2.22");
    deepStrictEqual(greeting.capabilities, ["oob"]);
    const sent = JSON.parse(transport.written.trim());
    deepStrictEqual(sent, { execute: "qmp_capabilities", id: "__rvhv#00001" });
    await rejects(qmp.connect(), (e) => e instanceof AxError && e.kind === "BadState");
    await qmp.close();
    strictEqual(qmp.runstate, "idle");
    strictEqual(await qmp.closed, undefined);
    ok(transport.closed);
  },
);

Deno.test("QmpClient.connect() rejects a bad or missing greeting", opts, async (t) => {
  const cases: [string, string, RegExp][] = [
    ["not JSON", "QEMU monitor ready\n", /not JSON/],
    ["no QMP member", `{"return": {}}\n`, /no 'QMP' member/],
    ["version not an object", `{"QMP": {"version": 7, "capabilities": []}}\n`, /'version' must be/],
    [
      "micro missing",
      `{"QMP": {"version": {"qemu": {"major": 7, "minor": 2}}, "capabilities": []}}\n`,
      /'micro' must be an integer/,
    ],
    [
      "capabilities not strings",
      `{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": [1]}}\n`,
      /capabilities/,
    ],
  ];
  for (const [name, line, pattern] of cases) {
    await t.step(name, async () => {
      const transport = new MemoryTransport();
      queueMicrotask(() => transport.serverSend(line));
      const error = await QmpClient.connect(transport, { debug: false }).then(
        () => undefined,
        (e) => e,
      );
      ok(error instanceof QmpProtocolError, `expected a protocol error, got ${error}`);
      match(error.message, pattern);
      strictEqual(error.line, line.replace(/\r?\n$/, ""));
      ok(transport.closed);
    });
  }
  await t.step("silence times out", async () => {
    const transport = new MemoryTransport();
    await rejects(
      QmpClient.connect(transport, { timeoutMs: 20, debug: false }),
      (e) =>
        e instanceof AxError && e.kind === "Timeout" && /no greeting within 20 ms/.test(e.message),
    );
    ok(transport.closed);
  });
  await t.step("a hang-up before the greeting is Io", async () => {
    const transport = new MemoryTransport();
    queueMicrotask(() => transport.serverClose());
    await rejects(
      QmpClient.connect(transport, { debug: false }),
      (e) => e instanceof AxError && e.kind === "Io",
    );
  });
});

Deno.test(
  "QmpClient.execute() routes out-of-order replies by id and events to listeners",
  opts,
  async () => {
    const held: Command[] = [];
    const transport = server((command) => {
      held.push(command);
      if (held.length === 3) {
        // Answer in reverse order, with events in between.
        transport.serverSend(
          `{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n`,
        );
        reply(transport, held[2]!, "third");
        transport.serverSend(
          `{"event": "RESUME"}\r\n{"event": "RESET", "data": {"guest": false}}\r\n`,
        );
        reply(transport, held[0]!, { status: "prelaunch" });
        reply(transport, held[1]!, [1, 2]);
      }
    });
    const qmp = await QmpClient.connect(transport, { debug: false });
    const all: string[] = [];
    const stops: QmpEvent[] = [];
    qmp.addEventListener((e) => all.push(e.event));
    const remove = qmp.addEventListener((e) => stops.push(e), ["STOP"]);
    const results = await Promise.all([
      qmp.execute("query-status"),
      qmp.execute("query-cpus-fast"),
      qmp.execute("qom-get", { path: "/machine/soc0/harts[0]", property: "h" }),
    ]);
    deepStrictEqual(results, [{ status: "prelaunch" }, [1, 2], "third"]);
    deepStrictEqual(all, ["STOP", "RESUME", "RESET"]);
    deepStrictEqual(stops, [{ event: "STOP", timestamp: { seconds: 1, microseconds: 2 } }]);
    deepStrictEqual(held.map((c) => c.id), ["__rvhv#00002", "__rvhv#00003", "__rvhv#00004"]);
    deepStrictEqual(held[2]!.arguments, { path: "/machine/soc0/harts[0]", property: "h" });
    remove();
    transport.serverSend(`{"event": "STOP"}\r\n`);
    const ping = qmp.execute("query-status");
    reply(transport, held[0]!, "late duplicate"); // unknown id now: dropped
    await new Promise((r) => setTimeout(r, 0));
    reply(transport, held.at(-1)!, "pong");
    strictEqual(await ping, "pong");
    strictEqual(stops.length, 1);
    strictEqual(all.length, 4);
    await qmp.close();
  },
);

Deno.test("QmpClient.execute() rejects with QmpError carrying class and desc", opts, async () => {
  const transport = server((command) => {
    transport.serverSend(
      `{"id": ${
        JSON.stringify(command.id)
      }, "error": {"class": "CommandNotFound", "desc": "The command no-such-cmd has not been found"}}\r\n`,
    );
  });
  const qmp = await QmpClient.connect(transport, { debug: false });
  const error = await qmp.execute("no-such-cmd").then(() => undefined, (e) => e);
  ok(error instanceof QmpError);
  strictEqual(error.errorClass, "CommandNotFound");
  strictEqual(error.desc, "The command no-such-cmd has not been found");
  strictEqual(error.kind, "Io");
  strictEqual(qmp.runstate, "running");
  await qmp.close();
});

Deno.test(
  "QmpClient: a malformed line is a protocol error that ends the session",
  opts,
  async (t) => {
    const cases: [string, string][] = [
      ["not JSON", `{"return": {}, "id": \r\n`],
      ["an array", `[1, 2]\r\n`],
      ["no known kind", `{"hello": "world"}\r\n`],
      [
        "a reply without id",
        `{"error": {"class": "GenericError", "desc": "JSON parse error"}}\r\n`,
      ],
      ["a second greeting", GREETING],
    ];
    for (const [name, line] of cases) {
      await t.step(name, async () => {
        const transport = server(() => transport.serverSend(line));
        const qmp = await QmpClient.connect(transport, { debug: false });
        const pending = qmp.execute("query-status");
        const error = await pending.then(() => undefined, (e) => e);
        ok(error instanceof QmpProtocolError, `expected QmpProtocolError, got ${error}`);
        strictEqual(error.line, line.replace(/\r?\n$/, ""));
        const closeReason = await qmp.closed;
        strictEqual(closeReason, error);
        strictEqual(qmp.runstate, "idle");
        await rejects(
          qmp.execute("query-status"),
          (e) => e instanceof AxError && e.kind === "Io",
        );
        await qmp.close();
      });
    }
  },
);

Deno.test("QmpClient: a disconnect mid-call rejects every pending call with Io", opts, async () => {
  let seen = 0;
  const transport = server(() => {
    if (++seen === 2) transport.serverClose();
  });
  const qmp = await QmpClient.connect(transport, { debug: false });
  const a = qmp.execute("query-status");
  const b = qmp.execute("stop");
  for (const call of [a, b]) {
    await rejects(call, (e) => {
      ok(e instanceof AxError);
      strictEqual(e.kind, "Io");
      match(e.message, /Cannot execute QMP command "(query-status|stop)": the connection closed/);
      return true;
    });
  }
  const reason = await qmp.closed;
  ok(reason instanceof AxError);
  match(reason.message, /closed the QMP connection/);
  await rejects(qmp.execute("cont"), (e) => e instanceof AxError && e.kind === "Io");
  await qmp.close();
});

Deno.test(
  "QmpClient.execute() times out, honours AbortSignal, and drops late replies",
  opts,
  async () => {
    const held: Command[] = [];
    const transport = server((command) => held.push(command));
    const qmp = await QmpClient.connect(transport, { debug: false });
    await rejects(
      qmp.execute("query-status", undefined, { timeoutMs: 10 }),
      (e) =>
        e instanceof AxError && e.kind === "Timeout" &&
        /"query-status": QEMU did not answer within 10 ms/.test(e.message),
    );
    const controller = new AbortController();
    const aborted = qmp.execute("stop", undefined, { signal: controller.signal });
    controller.abort(new Error("user gave up"));
    await rejects(aborted, /user gave up/);
    const already = new AbortController();
    already.abort(new Error("too late"));
    await rejects(qmp.execute("stop", undefined, { signal: already.signal }), /too late/);
    // Late replies to the abandoned calls are ignored; the session goes on.
    reply(transport, held[0]!, "late");
    reply(transport, held[1]!, "late");
    const next = qmp.execute("query-status");
    await new Promise((r) => setTimeout(r, 0));
    reply(transport, held[2]!, { running: false });
    deepStrictEqual(await next, { running: false });
    strictEqual(qmp.runstate, "running");
    await qmp.close();
    await qmp.close();
  },
);

Deno.test(
  "QmpClient.close() before connect() closes the transport and refuses later calls",
  opts,
  async () => {
    const transport = new MemoryTransport();
    const qmp = new QmpClient(transport, { debug: false });
    await qmp.close();
    strictEqual(transport.closed, true);
    strictEqual(qmp.runstate, "idle");
    await rejects(qmp.execute("query-status"), (e) => e instanceof AxError && e.kind === "Io");
    await rejects(qmp.connect(), (e) => e instanceof AxError && e.kind === "BadState");
  },
);

/**
 * The `remote` example plugin passes the conformance kit against a local
 * rvhv server (an emulator behind `createApp`, on loopback), and loads from
 * a manifest.
 */

import { match, rejects, strictEqual } from "node:assert/strict";
import { AxError, boot, CSR, parseManifest } from "../../../mod.ts";
import { createApp } from "../../../http/mod.ts";
import { runHalConformance } from "../../../testing/mod.ts";
import remote from "./mod.ts";

const TOKEN = "conformance-token";

/** Serves a fresh emulated system on 127.0.0.1 and returns a remote backend for it. */
async function remoteBackend(options: Record<string, unknown>) {
  const system = await boot(parseManifest(JSON.stringify({
    version: 1,
    backend: { plugin: "emulator", options },
    percpu: { harts: [], enable: false },
  })));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createApp(system, { token: TOKEN }).fetch,
  );
  const hal = await remote.create(
    remote.parseOptions({ url: `http://127.0.0.1:${server.addr.port}`, token: TOKEN }),
  );
  // Closing the remote backend also stops this server and its system.
  const close = hal.close.bind(hal);
  hal.close = async () => {
    await close();
    await server.shutdown();
    await system.close();
  };
  return hal;
}

runHalConformance({
  name: "remote (example plugin)",
  create: () => remoteBackend({ harts: 2 }),
  createWithoutH: () => remoteBackend({ harts: 2, isa: ["rv64imafdc", "rv64imafdch"] }),
});

Deno.test("the remote plugin refuses a server without the right token, and bad options", async () => {
  const system = await boot(parseManifest("version: 1\nbackend: { plugin: emulator }\n"));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createApp(system).fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    const hal = await remote.create(remote.parseOptions({ url, token: "t" }));
    // The server has no token, so it serves no raw CSR access at all.
    await rejects(
      hal.csr.read(0, CSR.hedeleg),
      (e) =>
        e instanceof AxError && e.kind === "Unsupported" && /start it with --token/.test(e.message),
    );
    await hal.close();
  } finally {
    await server.shutdown();
    await system.close();
  }
  for (
    const [raw, path] of [[{ url: "ftp://x", token: "t" }, "url"], [{ url, token: "" }, "token"], [{
      url,
      token: "t",
      port: 1,
    }, "port"]] as const
  ) {
    try {
      remote.parseOptions(raw);
      throw new Error("parseOptions accepted bad options");
    } catch (error) {
      strictEqual((error as { path?: string[] }).path?.[0], path);
    }
  }
});

Deno.test("the remote plugin loads from a manifest and sets up the server's harts", async () => {
  const system = await boot(parseManifest(
    "version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\npercpu: { harts: [], enable: false }\n",
  ));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createApp(system, { token: TOKEN }).fetch,
  );
  try {
    const plugin = new URL("./mod.ts", import.meta.url).href;
    const client = await boot(
      parseManifest(JSON.stringify({
        version: 1,
        backend: {
          plugin,
          options: { url: `http://127.0.0.1:${server.addr.port}`, token: TOKEN },
        },
      })),
      { allowPlugins: [plugin] }, // this one module, as written in the manifest
    );
    strictEqual(client.hal.info().backend, "remote");
    match(String(client.hal.info().remoteBackend), /emulator/);
    // The set-up ran on the server's harts.
    strictEqual(await system.hal.csr.read(1, CSR.hedeleg), 0xb10dn);
    await client.close();
    strictEqual(await system.hal.csr.read(1, CSR.hedeleg), 0n);
  } finally {
    await server.shutdown();
    await system.close();
  }
});

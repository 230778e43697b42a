/**
 * The curl examples of docs/http.md, run as written against the server they
 * name (`serve examples/emulator.yaml`, here on a free port): each answers
 * 2xx with JSON, in order, and the vCPU examples bind and unbind.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { boot } from "../manifest/boot.ts";
import { loadManifest } from "../manifest/parse.ts";
import { createApp } from "./app.ts";

const DOC = new URL("../docs/http.md", import.meta.url);
/** Where the docs say the server listens. */
const DOCUMENTED = "http://127.0.0.1:8787";

/** The `curl` lines of the doc's shell blocks. */
function curlLines(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```sh\b[^\n]*\n([\s\S]*?)^```$/gm)].map(([, body]) =>
    body!
  );
  return blocks.flatMap((body) => body.split("\n")).filter((line) => line.startsWith("curl "));
}

function hasCurl(): boolean {
  try {
    return new Deno.Command("curl", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

const WHY_SKIPPED = 'curl is not installed ("apt-get install -y curl")';
const curl = hasCurl();
if (!curl) console.log(`curl examples skipped: ${WHY_SKIPPED}`);

Deno.test({
  name: `every curl example in docs/http.md answers with JSON${
    curl ? "" : ` (skipped: ${WHY_SKIPPED})`
  }`,
  ignore: !curl,
  async fn() {
    const lines = curlLines(await Deno.readTextFile(DOC));
    for (const route of ["/vcpu/bind", "/vcpu/unbind", "/api/generation"]) {
      ok(lines.some((line) => line.includes(route)), `docs/http.md shows ${route}`);
    }
    const system = await boot(
      await loadManifest(new URL("../examples/emulator.yaml", import.meta.url).pathname),
    );
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      createApp(system).fetch,
    );
    try {
      const answers: Record<string, unknown>[] = [];
      for (const line of lines) {
        const command = line.replaceAll(DOCUMENTED, `http://127.0.0.1:${server.addr.port}`) +
          " -w '\\n%{http_code}'";
        const { success, stdout } = await new Deno.Command("sh", { args: ["-c", command] })
          .output();
        const [body, status] = new TextDecoder().decode(stdout).split(/\n(?=\d+$)/);
        ok(success, line);
        ok(Number(status) >= 200 && Number(status) < 300, `${line}: ${status} ${body}`);
        answers.push(JSON.parse(body!));
      }
      const bind = lines.findIndex((line) => line.endsWith("/vcpu/bind"));
      deepStrictEqual(answers[bind]!.vcpu, { vm: 1, state: "bound" });
      const unbind = lines.findIndex((line) => line.endsWith("/vcpu/unbind"));
      deepStrictEqual(answers[unbind]!.vcpu, { vm: 1, state: "free" });
      strictEqual(system.percpus.get(2).vcpu, undefined);
    } finally {
      await server.shutdown();
      await system.close();
    }
  },
});

/**
 * The overview: identical harts grouped, every value that is not what its
 * hart should hold now (drift), that the hart refused, or that differs from
 * its peers marked; and its size at 4,096 harts.
 */

import { deepStrictEqual, doesNotMatch, match, ok, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import { boot, type System } from "../manifest/boot.ts";
import { parseManifest } from "../manifest/parse.ts";
import { createApp, type HttpApp } from "./app.ts";
import { type GridHart, gridOf, idRuns } from "./_grid.ts";

function bootHarts(harts: number, policy: string, profile = "spec"): Promise<System> {
  return boot(parseManifest(
    `version: 1\nbackend: { plugin: emulator, options: { harts: ${harts}, profile: ${profile} } }\n` +
      `percpu: { policy: ${policy} }\n`,
  ));
}

/** The overview's rows as text: harts, state, vCPU, then each value with its mark. */
async function rows(app: HttpApp): Promise<string[]> {
  const page = await (await app.request("/fragments/grid")).text();
  const body = page.slice(page.indexOf("<tbody>"), page.indexOf("</tbody>"));
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map(([, row]) =>
    [...row!.matchAll(/<t[hd](?: class="([a-z-]+)")?[^>]*>(.*?)<\/t[hd]>/g)].map(
      ([, mark, text]) => {
        const plain = text!.replaceAll(/<[^>]+>/g, "");
        return mark === undefined || mark.startsWith("state-") || mark === "none"
          ? plain
          : `${plain}!${mark}`;
      },
    ).join(" ")
  );
}

/** The tooltip of the first value marked `mark`. */
async function note(app: HttpApp, mark: string): Promise<string> {
  const page = await (await app.request("/fragments/grid")).text();
  return new RegExp(`<td class="${mark}" title="([^"]*)"`).exec(page)![1]!.replaceAll("&#39;", "'");
}

async function post(app: HttpApp, path: string, body = "{}") {
  const headers = { "Content-Type": "application/json" };
  return await (await app.request(path, { method: "POST", headers, body })).json();
}

Deno.test("the overview groups identical harts and marks what is not as it should be (kvm)", async (t) => {
  const system = await bootHarts(8, "kvm");
  const app = createApp(system);
  const hal = system.hal;
  try {
    await t.step("harts that agree share one row", async () => {
      deepStrictEqual(await rows(app), [
        "0–7 (8) enabled none 0x0 0x0 0x0 0x2 0x0 0xf0b509 0x666",
      ]);
    });

    await t.step("a CSR written behind the app's back is drift, on its own row", async () => {
      await hal.csr.write(5, CSR.hedeleg, 0xb109n);
      deepStrictEqual(await rows(app), [
        "0–4, 6–7 (7) enabled none 0x0 0x0 0x0 0x2 0x0 0xf0b509 0x666",
        "5 enabled none 0xb109!drift 0x0 0x0 0x2 0x0 0xf0b509 0x666",
      ]);
      strictEqual(
        await note(app, "drift"),
        "Drift: hedeleg is 0xb109; it should hold 0x0 now (bits 0, 3, 8, 12, 13, 15 differ)",
      );
      const page = await (await app.request("/")).text();
      match(
        page,
        /drift \(not what the hart should hold now\)<\/span>: <ul><li><code>hedeleg<\/code> on hart <a href="\?hart=5">5<\/a><\/li>/,
      );
      match(
        await (await app.request("/?hart=5")).text(),
        /<td data-field="value" class="drift" title="Drift: hedeleg is 0xb109;/,
      );
    });

    await t.step(
      "a bound kvm vCPU's delegation is what its hart should hold: not marked",
      async () => {
        await hal.csr.write(5, CSR.hedeleg, 0n);
        strictEqual((await post(app, "/api/harts/2/vcpu/bind", '{"vm":4}')).vcpu.state, "bound");
        deepStrictEqual(await rows(app), [
          "0–1, 3–7 (7) enabled none 0x0 0x0 0x0 0x2 0x0 0xf0b509 0x666",
          "2 enabled VM 4, bound 0xb10d 0x444 0x0 0x2 0x0 0xf0b509 0x666",
        ]);
        // Unbound, the hart keeps it (vcpu_put writes nothing): still what it should hold.
        await post(app, "/api/harts/2/vcpu/unbind");
        deepStrictEqual(
          (await rows(app))[1],
          "2 enabled VM 4, free 0xb10d 0x444 0x0 0x2 0x0 0xf0b509 0x666",
        );
        // The same value on a hart where no vCPU was bound is drift.
        await hal.csr.write(3, CSR.hideleg, 0x444n);
        match((await rows(app)).join("\n"), /^3 enabled none 0x0 0x444!drift /m);
        await hal.csr.write(3, CSR.hideleg, 0n);
      },
    );

    await t.step("a firmware value unlike its peers' is odd (nothing asks it)", async () => {
      await hal.csr.write(6, CSR.medeleg, 0xb509n);
      match((await rows(app)).join("\n"), /^6 enabled none 0x0 0x0 0x0 0x2 0x0 0xb509!odd 0x666$/m);
      strictEqual(
        await note(app, "odd"),
        "Differs: medeleg is 0xb509; 7 of the 8 harts in its state that should hold the same " +
          "hold 0xf0b509",
      );
      await hal.csr.write(6, CSR.medeleg, 0xf0b509n);
    });

    await t.step(
      "a disabled hart should hold its priors: as restored, nothing is marked",
      async () => {
        await post(app, "/api/harts/7/disable");
        match(
          (await rows(app)).join("\n"),
          /^7 disabled none 0x0 0x0 0x0 0x0 0x0 0xf0b509 0x666$/m,
        );
        await hal.csr.write(7, CSR.hcounteren, 0x7n);
        match((await rows(app)).join("\n"), /^7 disabled none 0x0 0x0 0x0 0x7!drift /m);
        match(await note(app, "drift"), /its value before the set-up, which the disable restored/);
      },
    );
  } finally {
    await system.close();
  }
});

Deno.test("the overview marks bits the hart refused as refused, not drift (arceos)", async () => {
  const system = await bootHarts(3, "arceos");
  const app = createApp(system);
  try {
    deepStrictEqual(await rows(app), [
      "0–2 (3) enabled none 0xb10d 0x444 0x0 0xffffffff!refused 0x222 0xf0b509 0x666",
    ]);
    match(await note(app, "refused"), /did not keep bits 32–63 of the 0xffffffffffffffff/);
    // Losing a bit the hart kept is drift, refused bits and all.
    await system.hal.csr.clear(1, CSR.hcounteren, 0x1n);
    deepStrictEqual(
      (await rows(app))[1],
      "1 enabled none 0xb10d 0x444 0x0 0xfffffffe!drift 0x222 0xf0b509 0x666",
    );
  } finally {
    await system.close();
  }
});

Deno.test("gridOf() marks no value odd when no value is the most common", () => {
  const hart = (id: number, value: bigint): GridHart => ({
    id,
    state: "enabled",
    vcpu: null,
    cells: [{ csr: "medeleg", value, mark: "ok", bits: 0n }],
  });
  const tied = gridOf([hart(0, 1n), hart(1, 2n)]);
  deepStrictEqual(tied.marked, []);
  deepStrictEqual(tied.groups.map((group) => group.harts), [[0], [1]]);
  const odd = gridOf([hart(0, 1n), hart(1, 2n), hart(2, 1n)]);
  deepStrictEqual(odd.marked, [{ hart: 1, csr: "medeleg", mark: "odd" }]);
  deepStrictEqual(odd.groups.map((group) => group.harts), [[0, 2], [1]]);
  deepStrictEqual(idRuns([0, 1, 2, 5, 7, 8]), [[0, 2], [5, 5], [7, 8]]);
});

Deno.test("the page at 4,096 harts weighs under 1 MB, its harts alike or all different", async () => {
  const system = await bootHarts(4096, "kvm");
  const app = createApp(system);
  try {
    const alike = new Uint8Array(await (await app.request("/")).arrayBuffer());
    ok(alike.length <= 1_000_000, `${alike.length} bytes`);
    // A vCPU of another VM on every hart: 4,096 rows, each hart its own.
    for (let hart = 0; hart < 4096; hart++) {
      const answer = await app.request(`/api/harts/${hart}/vcpu/bind`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ vm: hart }),
      });
      strictEqual(answer.status, 200);
      await answer.body?.cancel();
    }
    const page = await (await app.request("/")).text();
    const bytes = new TextEncoder().encode(page).length;
    ok(bytes <= 1_000_000, `${bytes} bytes`);
    match(page, /4096 harts \(4096 enabled\) in 4096 rows/);
    doesNotMatch(page, /<article/);
  } finally {
    await system.close();
  }
});

/**
 * The vCPU routes through `app.request()`: bind and unbind, their errors and
 * request rules, races with enable/disable, the frames a bind takes; and the
 * generation the page polls.
 */

import { deepStrictEqual, match, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { CSR } from "../hal/csr_numbers.ts";
import type { AxVCpuHal } from "../hal/types.ts";
import { boot, type System } from "../manifest/boot.ts";
import { parseManifest } from "../manifest/parse.ts";
import { PerCpuSet } from "../percpu/percpu_set.ts";
import type { PolicySpec } from "../percpu/policy.ts";
import { createEmulatorHal } from "../plugins/emulator/mod.ts";
import { forwardingHal } from "../tests/_helpers/forwarding_hal.ts";
import { createApp, type HttpApp } from "./app.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };

/** A JSON answer, read field by field (a hart object or an error body). */
// deno-lint-ignore no-explicit-any
type Answer = Record<string, any>;

function bootFour(policy = "kvm"): Promise<System> {
  return boot(parseManifest(
    `version: 1\nbackend: { plugin: emulator, options: { harts: 4 } }\npercpu: { policy: ${policy} }\n`,
  ));
}

/** POSTs a JSON body (`{}` by default) and reads the JSON answer. */
async function post(
  app: HttpApp,
  path: string,
  body = "{}",
  headers: Record<string, string> = JSON_HEADERS,
): Promise<{ status: number; body: Answer }> {
  const response = await app.request(path, { method: "POST", headers, body });
  return { status: response.status, body: await response.json() };
}

async function get(app: HttpApp, path: string): Promise<Answer> {
  const response = await app.request(path);
  strictEqual(response.status, 200, path);
  return await response.json();
}

function expectError(
  answer: { status: number; body: Answer },
  status: number,
  kind: string,
  message: RegExp,
): void {
  strictEqual(answer.status, status, JSON.stringify(answer.body));
  strictEqual(answer.body.error.kind, kind);
  match(answer.body.error.message, message);
}

Deno.test("POST /api/harts/:id/vcpu/bind and /unbind drive a hart's vCPU (kvm)", async (t) => {
  const system = await bootFour();
  const app = createApp(system);
  try {
    await t.step("bind: a vCPU of the VM, bound; its delegation on that hart only", async () => {
      const bound = await post(app, "/api/harts/1/vcpu/bind", '{ "vm": 3 }');
      strictEqual(bound.status, 200);
      deepStrictEqual(bound.body.vcpu, { vm: 3, state: "bound" });
      strictEqual(bound.body.id, 1);
      strictEqual(bound.body.state, "enabled");
      deepStrictEqual(
        [bound.body.csrs.hedeleg.value, bound.body.csrs.hedeleg.asked],
        ["0xb10d", "0xb10d"],
        "what the hart should hold now: the vCPU's delegation",
      );
      deepStrictEqual(await get(app, "/api/harts/1"), bound.body);
      strictEqual((await get(app, "/api/harts/0")).csrs.hedeleg.value, "0x0");
      deepStrictEqual(
        (await get(app, "/api/harts")).harts.map((hart: { vcpu: unknown }) => hart.vcpu),
        [null, { vm: 3, state: "bound" }, null, null],
      );
      const hgatp = await system.hal.csr.read(1, CSR.hgatp);
      strictEqual(hgatp >> 44n & 0x3fffn, 3n, "KVM puts the VMID in hgatp");
    });

    await t.step("a second bind on the hart: ResourceBusy, nothing written", async () => {
      const hgatp = await system.hal.csr.read(1, CSR.hgatp);
      for (const vm of [4, 3]) {
        expectError(
          await post(app, "/api/harts/1/vcpu/bind", JSON.stringify({ vm })),
          503,
          "ResourceBusy",
          /^Cannot bind a vCPU of VM \d on hart 1: vCPU 0 of VM 3 is bound there; unbind it first$/,
        );
      }
      strictEqual(await system.hal.csr.read(1, CSR.hgatp), hgatp);
    });

    await t.step("disable under a bound vCPU: BadState", async () => {
      expectError(await post(app, "/api/harts/1/disable"), 409, "BadState", /unbind it first/);
      strictEqual(system.percpus.get(1).state, "enabled");
    });

    await t.step("unbind: free; kvm leaves the delegation; a second unbind BadState", async () => {
      const vcpu = system.percpus.get(1).vcpu;
      const unbound = await post(app, "/api/harts/1/vcpu/unbind");
      strictEqual(unbound.status, 200);
      deepStrictEqual(unbound.body.vcpu, { vm: 3, state: "free" });
      strictEqual(unbound.body.csrs.hedeleg.value, "0xb10d", "vcpu_put writes nothing");
      expectError(
        await post(app, "/api/harts/1/vcpu/unbind", ""),
        409,
        "BadState",
        /^Cannot unbind a vCPU on hart 1: no vCPU is bound there$/,
      );
      // The free vCPU of the same VM is bound again, not a new one.
      strictEqual((await post(app, "/api/harts/1/vcpu/bind", '{"vm":3}')).status, 200);
      strictEqual(system.percpus.get(1).vcpu, vcpu);
      strictEqual((await post(app, "/api/harts/1/vcpu/unbind")).status, 200);
      // Another VM: a new vCPU.
      strictEqual((await post(app, "/api/harts/1/vcpu/bind", '{"vm":7}')).status, 200);
      notStrictEqual(system.percpus.get(1).vcpu, vcpu);
      strictEqual(system.percpus.get(1).vcpu?.vmId, 7);
      strictEqual((await post(app, "/api/harts/1/vcpu/unbind")).status, 200);
    });

    await t.step("a hart not enabled: BadState, no vCPU", async () => {
      strictEqual((await post(app, "/api/harts/2/disable")).status, 200);
      expectError(
        await post(app, "/api/harts/2/vcpu/bind", '{"vm":1}'),
        409,
        "BadState",
        /^Cannot create a vCPU on hart 2: its per-CPU state is disabled/,
      );
      strictEqual((await get(app, "/api/harts/2")).vcpu, null);
    });

    await t.step("malformed bodies and ids, unknown harts", async () => {
      const cases: [string, string, RegExp][] = [
        ["/api/harts/3/vcpu/bind", "", /the body needs "vm" \(\{ "vm": n \}\)/],
        ["/api/harts/3/vcpu/bind", "{}", /the body needs "vm"/],
        ["/api/harts/3/vcpu/bind", "nope", /the body is not JSON/],
        ["/api/harts/3/vcpu/bind", "[1]", /must be a JSON object \(\{ "vm": n \}\)/],
        ["/api/harts/3/vcpu/bind", '{"vm":-1}', /"vm" must be a non-negative integer, got -1/],
        ["/api/harts/3/vcpu/bind", '{"vm":"1"}', /"vm" must be a non-negative integer, got "1"/],
        ["/api/harts/3/vcpu/bind", '{"vm":1.5}', /non-negative integer, got 1.5/],
        ["/api/harts/3/vcpu/bind", '{"vm":1,"hart":2}', /unknown field "hart"/],
        [
          "/api/harts/3/vcpu/unbind",
          '{"vm":1}',
          /unknown field "vm" in the body \(expected \{\}\)/,
        ],
        ["/api/harts/x/vcpu/bind", '{"vm":1}', /Cannot parse hart id "x"/],
      ];
      for (const [path, body, message] of cases) {
        expectError(await post(app, path, body), 400, "InvalidInput", message);
      }
      expectError(await post(app, "/api/harts/9/vcpu/bind", '{"vm":1}'), 404, "NotFound", /hart 9/);
      expectError(await post(app, "/api/harts/9/vcpu/unbind"), 404, "NotFound", /hart 9/);
      strictEqual((await get(app, "/api/harts/3")).vcpu, null, "a refused request binds nothing");
    });

    await t.step("the request rules of every POST: content type, method", async () => {
      const bind = "/api/harts/3/vcpu/bind";
      expectError(
        await post(app, bind, '{"vm":1}', {}),
        415,
        "UnsupportedMediaType",
        /application\/json/,
      );
      const put = await app.request(bind, { method: "PUT", headers: JSON_HEADERS, body: "{}" });
      strictEqual(put.status, 405);
      strictEqual(put.headers.get("allow"), "POST");
      await put.body?.cancel();
      strictEqual((await get(app, "/api/harts/3")).vcpu, null);
    });
  } finally {
    await system.close();
  }
});

Deno.test("the vCPU routes keep the token, Origin and Host rules", async () => {
  const system = await bootFour();
  const app = createApp(system, { token: "t0ken", hosts: ["127.0.0.1:8787"] });
  const url = "http://127.0.0.1:8787/api/harts/1/vcpu/bind";
  const headers = { ...JSON_HEADERS, Host: "127.0.0.1:8787" };
  const body = '{"vm":2}';
  try {
    for (const path of ["bind", "unbind"]) {
      const target = url.replace("bind", path);
      const answer = await app.request(target, { method: "POST", headers, body });
      strictEqual(answer.status, 401, path);
      await answer.body?.cancel();
    }
    const authorized = { ...headers, Authorization: "Bearer t0ken" };
    const refusals: [Record<string, string>, number][] = [
      [{ ...authorized, Origin: "https://evil.example" }, 403],
      [{ ...authorized, Host: "rebound.example" }, 403],
    ];
    for (const [sent, status] of refusals) {
      const answer = await app.request(url, { method: "POST", headers: sent, body });
      strictEqual(answer.status, status);
      await answer.body?.cancel();
    }
    strictEqual(system.percpus.get(1).vcpu, undefined, "nothing refused was bound");
    const bound = await app.request(url, { method: "POST", headers: authorized, body });
    strictEqual(bound.status, 200);
    deepStrictEqual((await bound.json()).vcpu, { vm: 2, state: "bound" });
  } finally {
    await system.close();
  }
});

Deno.test("concurrent changes of one hart over HTTP leave it consistent", async (t) => {
  for (const policy of ["kvm", "arceos"]) {
    await t.step(`${policy}: bind racing disable, both orders`, async () => {
      const system = await bootFour(policy);
      const app = createApp(system);
      try {
        for (const order of [["bind", "disable"], ["disable", "bind"]]) {
          const percpu = system.percpus.get(2);
          if (percpu.vcpu !== undefined) await percpu.vcpu.unbind();
          if (percpu.state !== "enabled") await percpu.hardwareEnable();
          const answers = await Promise.all(
            order.map((action) =>
              action === "bind"
                ? post(app, "/api/harts/2/vcpu/bind", '{"vm":1}')
                : post(app, "/api/harts/2/disable")
            ),
          );
          deepStrictEqual(answers.map((a) => a.status), [200, 409], order.join(" then "));
          const kinds = answers.filter((a) => a.status === 409).map((a) => a.body.error.kind);
          deepStrictEqual(kinds, ["BadState"]);
          // Either the vCPU is bound on an enabled hart, or the hart is disabled with none bound.
          if (order[0] === "bind") {
            deepStrictEqual([percpu.state, percpu.vcpu?.state], ["enabled", "bound"]);
          } else {
            deepStrictEqual([percpu.state, percpu.vcpu], ["disabled", undefined]);
            const delegation = [CSR.hedeleg, CSR.hideleg].map((csr) => system.hal.csr.read(2, csr));
            deepStrictEqual(await Promise.all(delegation), [0n, 0n], "the priors");
          }
        }
      } finally {
        await system.close();
      }
    });
  }

  await t.step("two binds of different VMs: one bound, the other refused", async () => {
    const system = await bootFour();
    const app = createApp(system);
    try {
      const answers = await Promise.all([
        post(app, "/api/harts/3/vcpu/bind", '{"vm":1}'),
        post(app, "/api/harts/3/vcpu/bind", '{"vm":2}'),
      ]);
      deepStrictEqual(answers.map((a) => a.status), [200, 409]);
      strictEqual(system.percpus.get(3).vcpu?.vmId, 1);
      strictEqual(await system.hal.csr.read(3, CSR.hgatp) >> 44n & 0x3fffn, 1n);
    } finally {
      await system.close();
    }
  });
});

Deno.test("a bind gives back the frames of vCPUs it no longer needs", async () => {
  const inner = await createEmulatorHal({ harts: 2, profile: "qemu-7.2" });
  let taken = 0;
  const hal: AxVCpuHal = {
    ...forwardingHal(inner, {}),
    allocFrame() {
      const frame = inner.allocFrame();
      if (frame !== undefined) taken++;
      return frame;
    },
    deallocFrame(pa) {
      taken--;
      inner.deallocFrame(pa);
    },
  };
  // hedeleg cannot delegate an ecall from VS on this hart (bit 10 is read-only zero).
  const refused = { hedeleg: [3, 10], hideleg: [], hcounteren: 0, sie: [], delegation: "per-vcpu" };
  for (const policy of ["kvm", refused]) {
    const percpus = await PerCpuSet.init(hal, { policy: policy as PolicySpec });
    await percpus.enableAll();
    const app = createApp({ hal, percpus });
    try {
      if (policy === "kvm") {
        for (const vm of [1, 2, 2, 3]) {
          strictEqual((await post(app, "/api/harts/0/vcpu/bind", `{"vm":${vm}}`)).status, 200);
          strictEqual((await post(app, "/api/harts/0/vcpu/unbind")).status, 200);
          strictEqual(taken, 1, `one G-stage root after VM ${vm}: the replaced one went back`);
        }
      } else {
        const answer = await post(app, "/api/harts/1/vcpu/bind", '{"vm":1}');
        expectError(answer, 501, "Unsupported", /hedeleg did not keep ENVIRONMENT_CALL_FROM_VS/);
        strictEqual(taken, 1, "the failed bind's root went back");
        strictEqual(percpus.get(1).vcpu, undefined);
      }
    } finally {
      await percpus.disableAll();
    }
  }
  await inner.close();
});

Deno.test("GET /api/generation changes after every POST and says when the backend is gone", async () => {
  const system = await bootFour();
  const app = createApp(system);
  const generation = async () => (await get(app, "/api/generation")).generation as string;
  try {
    const first = await generation();
    match(first, /^[0-9a-z]+-0$/);
    strictEqual(await generation(), first, "reads change nothing");
    await get(app, "/api/harts/1");
    strictEqual(await generation(), first);
    strictEqual((await post(app, "/api/harts/1/vcpu/bind", '{"vm":1}')).status, 200);
    const second = await generation();
    notStrictEqual(second, first);
    // A refused change counts too: the page redraws for nothing rather than miss one.
    strictEqual((await post(app, "/api/harts/1/disable")).status, 409);
    notStrictEqual(await generation(), second);
    ok(
      !(await generation()).startsWith(
        (await get(createApp(system), "/api/generation")).generation.split("-")[0],
      ),
      "another app (a restart) has another generation",
    );
    await system.close();
    const gone = await app.request("/api/generation");
    strictEqual(gone.status, 503);
    deepStrictEqual((await gone.json()).error.kind, "Unavailable");
  } finally {
    await system.close();
  }
});

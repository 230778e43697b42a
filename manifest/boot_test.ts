import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { manifestErrorAt } from "../tests/_helpers/manifest_error.ts";
import { CSR } from "../hal/csr_numbers.ts";
import { AxError, ManifestError } from "../hal/errors.ts";
import { boot } from "./boot.ts";
import { loadManifest, parseManifest } from "./parse.ts";
import { counts } from "../tests/fixtures/plugins/counting_plugin.ts";

/** What a test that boots its own fixture plugins allows. */
const TRUSTED = { allowPlugins: true } as const;
const FIXTURE_PLUGIN =
  new URL("../tests/fixtures/plugins/counting_plugin.ts", import.meta.url).pathname;

Deno.test("boot() sets up and enables every hart, close() restores them", async () => {
  const system = await boot(
    parseManifest("version: 1\nbackend:\n  plugin: emulator\n  options: { harts: 3 }\n"),
  );
  deepStrictEqual([...system.percpus.states().values()], ["enabled", "enabled", "enabled"]);
  strictEqual(await system.hal.csr.read(2, CSR.hedeleg), 0xb10dn);
  const hal = system.hal;
  await system.close();
  await system.close();
  await rejects(hal.csr.read(0, CSR.hedeleg), (e) => e instanceof AxError && e.kind === "BadState");
});

Deno.test("boot() honours percpu.harts, policy and enable: false", async () => {
  const system = await boot(parseManifest(
    "version: 1\nbackend: { plugin: emulator, options: { harts: 4 } }\n" +
      "percpu: { harts: [1, 3], policy: kvm-6.12, enable: false }\n",
  ));
  deepStrictEqual([...system.percpus.states()], [[1, "initialized"], [3, "initialized"]]);
  strictEqual(await system.hal.csr.read(3, CSR.hedeleg), 0xb109n);
  strictEqual(await system.hal.csr.read(0, CSR.hedeleg), 0n);
  await system.close();
});

Deno.test("boot(): a plugin option error points at the option's own line", async () => {
  const text = [
    "version: 1",
    "backend:",
    "  plugin: emulator",
    "  options:",
    "    harts: 2",
    "    ram:",
    "      size: 100",
  ].join("\n");
  await rejects(
    boot(parseManifest(text, { file: "opts.yaml" })),
    manifestErrorAt(
      7,
      ["backend", "options", "ram", "size"],
      /opts\.yaml:7:13.*plugin "emulator" rejected its options.*multiple of 4096/,
    ),
  );
  await rejects(
    boot(parseManifest("version: 1\nbackend:\n  plugin: emulator\n  options:\n    hart: 2\n")),
    manifestErrorAt(5, ["backend", "options", "hart"], /unknown option "hart"/),
  );
  await rejects(
    boot(
      parseManifest(
        "version: 1\nbackend:\n  plugin: emulator\n  options:\n    harts: 2\n    isa: [rv64imafdch]\n",
      ),
    ),
    manifestErrorAt(6, ["backend", "options", "isa"], /one per hart/),
  );
});

Deno.test("boot(): a hart the backend lacks is a manifest error at that list item", async () => {
  await rejects(
    boot(
      parseManifest(
        "version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\npercpu:\n  harts:\n    - 0\n    - 5\n",
      ),
    ),
    manifestErrorAt(6, ["percpu", "harts", 1], /hart 5 does not exist; the backend has harts 0, 1/),
  );
});

Deno.test("boot() loads a third-party plugin by path and closes it when the set-up fails", async () => {
  const before = { ...counts() };
  const ok1 = await boot(
    parseManifest(`version: 1\nbackend: { plugin: "${FIXTURE_PLUGIN}", options: { harts: 2 } }\n`),
    TRUSTED,
  );
  strictEqual(ok1.plugin.name, "counting");
  await ok1.close();
  await rejects(
    boot(
      parseManifest(
        `version: 1\nbackend:\n  plugin: "${FIXTURE_PLUGIN}"\n  options: { harts: 2, isa: [rv64imafdch, rv64imac] }\n`,
      ),
      TRUSTED,
    ),
    (e) => e instanceof AxError && e.kind === "Unsupported" && e.hart === 1,
  );
  strictEqual(counts().created - before.created, 2);
  strictEqual(counts().closed - before.closed, 2, "the failed boot closed its backend");
  await rejects(
    boot(
      parseManifest(
        `version: 1\nbackend:\n  plugin: "${FIXTURE_PLUGIN}"\n  options: { harts: two }\n`,
      ),
      TRUSTED,
    ),
    manifestErrorAt(4, ["backend", "options", "harts"], /plugin "counting" rejected its options/),
  );
});

Deno.test("boot(): a module that is not a plugin, or cannot be imported, is a manifest error", async () => {
  const notPlugin = new URL("../tests/fixtures/plugins/not_a_plugin.ts", import.meta.url).pathname;
  await rejects(
    boot(parseManifest(`version: 1\nbackend:\n  plugin: "${notPlugin}"\n`), TRUSTED),
    manifestErrorAt(
      3,
      ["backend", "plugin"],
      /is not a HalPlugin: its default export has no string array "permissions"/,
    ),
  );
  await rejects(
    boot(
      parseManifest(`version: 1\nbackend:\n  plugin: ./does_not_exist.ts\n`, {
        file: "/tmp/x.yaml",
      }),
      TRUSTED,
    ),
    manifestErrorAt(
      3,
      ["backend", "plugin"],
      /cannot import plugin module "\.\/does_not_exist\.ts"/,
    ),
  );
});

Deno.test("boot() records every CSR access to record: and close() finishes the trace", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "rvhv_boot_" });
  try {
    await t.step("the trace holds the manifest and the set-up, restore included", async () => {
      const path = `${dir}/run.jsonl`;
      const system = await boot(parseManifest(
        `version: 1\nbackend: { plugin: emulator, options: { harts: 2 } }\nrecord: "${path}"\n`,
        { file: "rec.yaml" },
      ));
      strictEqual(await system.hal.csr.read(1, CSR.hedeleg), 0xb10dn);
      await rejects(Deno.stat(path), Deno.errors.NotFound, "not renamed before close()");
      await system.close();
      const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
      const header = JSON.parse(lines[0]!);
      strictEqual(header.format, "rvhv-trace");
      strictEqual(header.manifest.file, "rec.yaml");
      deepStrictEqual(header.manifest.backend, { plugin: "emulator", options: { harts: 2 } });
      ok(!("record" in header.manifest), "the header's manifest does not record again");
      const events = lines.slice(1).map((line) => JSON.parse(line));
      // Per hart: 7 probe/prior reads, 9 set-up operations, 5 read-backs, 6 restores; and our read.
      strictEqual(events.length, 2 * 27 + 1);
      deepStrictEqual(
        events.filter((e) => e.csr === "hedeleg" && e.op === "write").map((e) => [e.hart, e.arg]),
        [[0, "0xb10d"], [1, "0xb10d"], [0, "0x0"], [1, "0x0"]],
      );
    });
    await t.step(
      "a set-up that fails still finishes the trace and closes the backend",
      async () => {
        const path = `${dir}/no_h.jsonl`;
        const before = { ...counts() };
        await rejects(
          boot(
            parseManifest(
              `version: 1\nbackend: { plugin: "${FIXTURE_PLUGIN}", options: { harts: 2, isa: rv64imac } }\nrecord: "${path}"\n`,
            ),
            TRUSTED,
          ),
          (e) => e instanceof AxError && e.kind === "Unsupported" && e.hart === 0,
        );
        strictEqual(counts().closed - before.closed, 1);
        const events = (await Deno.readTextFile(path)).trimEnd().split("\n").slice(1)
          .map((line) => JSON.parse(line));
        deepStrictEqual(events[0], {
          i: 0,
          hart: 0,
          op: "read",
          csr: "hgatp",
          num: "0x680",
          trap: 2,
        });
      },
    );
    await t.step(
      "a record: path that cannot be written is a manifest error; nothing runs",
      async () => {
        const before = { ...counts() };
        await rejects(
          boot(
            parseManifest(
              `version: 1\nbackend: { plugin: "${FIXTURE_PLUGIN}" }\nrecord: ${dir}/missing/run.jsonl\n`,
              { file: "bad.yaml" },
            ),
            TRUSTED,
          ),
          manifestErrorAt(
            3,
            ["record"],
            /bad\.yaml:3:9 \(record\): cannot record to ".*missing\/run\.jsonl"/,
          ),
        );
        strictEqual(counts().created - before.created, 0, "checked before the backend started");
      },
    );
    await t.step("an invalid hart list fails before any trace is written", async () => {
      const path = `${dir}/never.jsonl`;
      await rejects(
        boot(parseManifest(
          `version: 1\nbackend: { plugin: emulator }\npercpu: { harts: [3] }\nrecord: "${path}"\n`,
        )),
        manifestErrorAt(3, ["percpu", "harts", 0], /hart 3 does not exist/),
      );
      await rejects(Deno.stat(`${path}.partial`), Deno.errors.NotFound);
      await rejects(Deno.stat(path), Deno.errors.NotFound);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadManifest() names a file it cannot read", async () => {
  await rejects(loadManifest("/nonexistent/rvhv.yaml"), (e) => {
    ok(e instanceof ManifestError);
    strictEqual(e.file, "/nonexistent/rvhv.yaml");
    ok(/cannot read the file/.test(e.message));
    return true;
  });
});

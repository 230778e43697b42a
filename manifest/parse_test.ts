import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { ManifestError } from "../hal/errors.ts";
import { parseManifest } from "./parse.ts";

/** Asserts a ManifestError at file:line with this key path (and column when given). */
function fails(
  text: string,
  where: { line: number; column?: number; path: (string | number)[]; detail: RegExp },
): void {
  throws(() => parseManifest(text, { file: "bad.yaml" }), (error) => {
    ok(error instanceof ManifestError, `expected ManifestError, got ${error}`);
    strictEqual(error.file, "bad.yaml");
    strictEqual(error.line, where.line, `line in: ${error.message}`);
    if (where.column !== undefined) {
      strictEqual(error.column, where.column, `column in: ${error.message}`);
    }
    deepStrictEqual(error.path, where.path.map(String));
    ok(
      where.detail.test(error.message),
      `message ${JSON.stringify(error.message)} should match ${where.detail}`,
    );
    ok(error.message.startsWith(`Invalid manifest at bad.yaml:${where.line}:`));
    return true;
  });
}

Deno.test("parseManifest() reads a full manifest and fills the defaults", () => {
  const manifest = parseManifest(
    [
      "version: 1",
      "backend:",
      "  plugin: emulator",
      "  options: { harts: 4, isa: rv64imafdch }",
      "percpu:",
      "  harts: [0, 2]",
      "  policy: kvm",
      "  enable: false",
      "record: traces/run.jsonl",
      'server: { listen: "127.0.0.1:8787" }',
    ].join("\n"),
    { file: "full.yaml" },
  );
  deepStrictEqual(JSON.parse(JSON.stringify(manifest)), {
    version: 1,
    file: "full.yaml",
    backend: { plugin: "emulator", options: { harts: 4, isa: "rv64imafdch" } },
    percpu: { harts: [0, 2], policy: "kvm", enable: false },
    vcpus: [],
    record: "traces/run.jsonl",
    server: { listen: "127.0.0.1:8787" },
  });
  const minimal = parseManifest("version: 1\nbackend: { plugin: emulator }\n");
  deepStrictEqual(minimal.percpu, { harts: "all", policy: "arceos", enable: true });
  strictEqual(minimal.file, "<manifest>");
});

Deno.test("parseManifest() reads a custom policy", () => {
  const manifest = parseManifest(
    "version: 1\nbackend: { plugin: emulator }\npercpu:\n  policy:\n" +
      '    hedeleg: [ILLEGAL_INSTRUCTION, 8]\n    hideleg: [2, 6, 10]\n    hcounteren: "0x7"\n    sie: []\n',
  );
  deepStrictEqual(manifest.percpu.policy, {
    hedeleg: ["ILLEGAL_INSTRUCTION", 8],
    hideleg: [2, 6, 10],
    hcounteren: "0x7",
    sie: [],
  });
});

Deno.test("parseManifest(): a YAML syntax error names its line", () => {
  fails("version: 1\nbackend:\n  plugin: emulator\n  options: { harts: 4\n", {
    line: 5,
    path: [],
    detail: /YAML syntax error/,
  });
});

Deno.test("parseManifest(): a duplicate key names the key and its second line", () => {
  fails("version: 1\nbackend:\n  plugin: emulator\n  plugin: qemu\n", {
    line: 4,
    column: 3,
    path: ["backend", "plugin"],
    detail: /duplicate key "plugin"/,
  });
});

Deno.test("parseManifest(): an unknown key is named, with a suggestion", () => {
  fails("version: 1\nbackend: { plugin: emulator }\npercpu:\n  polcy: kvm\n", {
    line: 4,
    column: 3,
    path: ["percpu", "polcy"],
    detail: /unknown key "polcy" in "percpu" \(did you mean "policy"\?\)/,
  });
  fails("version: 1\nbackned: { plugin: emulator }\n", {
    line: 2,
    column: 1,
    path: ["backned"],
    detail: /unknown key "backned" in the manifest \(did you mean "backend"\?\)/,
  });
});

Deno.test("parseManifest(): wrong types point at the value", () => {
  fails("version: 1\nbackend: { plugin: emulator }\npercpu:\n  harts: four\n", {
    line: 4,
    column: 10,
    path: ["percpu", "harts"],
    detail: /expected "all" or a list of hart ids, got "four"/,
  });
  fails("version: 1\nbackend: { plugin: emulator }\npercpu:\n  enable: yes\n", {
    line: 4,
    path: ["percpu", "enable"],
    detail: /expected true or false, got "yes"/,
  });
  fails("version: 1\nbackend: emulator\n", {
    line: 2,
    path: ["backend"],
    detail: /expected a map, got "emulator"/,
  });
  fails("version: 1\nbackend: { plugin: emulator }\npercpu:\n  harts: [0, -1]\n", {
    line: 4,
    path: ["percpu", "harts", 1],
    detail: /hart id/,
  });
  fails("version: 1\nbackend: { plugin: emulator, options: [1] }\n", {
    line: 2,
    path: ["backend", "options"],
    detail: /expected a map of plugin options/,
  });
});

Deno.test("parseManifest(): an unknown plugin name is refused at its line", () => {
  fails("version: 1\nbackend:\n  plugin: emulater\n", {
    line: 3,
    column: 11,
    path: ["backend", "plugin"],
    detail: /unknown plugin "emulater" \(did you mean "emulator"\?\)/,
  });
});

Deno.test("parseManifest(): version, required keys, policy, server", () => {
  fails("backend: { plugin: emulator }\n", { line: 1, path: [], detail: /missing key "version"/ });
  fails("version: 2\nbackend: { plugin: emulator }\n", {
    line: 1,
    column: 10,
    path: ["version"],
    detail: /unsupported manifest version 2/,
  });
  fails("version: 1\n", { line: 1, path: [], detail: /missing key "backend"/ });
  fails("version: 1\nbackend:\n  options: {}\n", {
    line: 2,
    path: ["backend"],
    detail: /missing key "plugin"/,
  });
  fails("", { line: 1, path: [], detail: /the manifest is empty/ });
  fails("version: 1\nbackend: { plugin: emulator }\npercpu: { policy: linux }\n", {
    line: 3,
    path: ["percpu", "policy"],
    detail: /expected "arceos", "kvm", "kvm-6\.12" or a custom policy map, got "linux"/,
  });
  fails(
    "version: 1\nbackend: { plugin: emulator }\npercpu:\n  policy:\n    hedeleg: [ILEGAL_INSTRUCTION]\n" +
      "    hideleg: []\n    hcounteren: 0\n    sie: []\n",
    {
      line: 5,
      path: ["percpu", "policy", "hedeleg", 0],
      detail:
        /expected an exception name \(e\.g\. "ILLEGAL_INSTRUCTION"\) or a cause number from 0 to 63, got "ILEGAL_INSTRUCTION" \(did you mean "ILLEGAL_INSTRUCTION"\?\)/,
    },
  );
  fails("version: 1\nbackend: { plugin: emulator }\npercpu:\n  policy: { hedeleg: [] }\n", {
    line: 4,
    path: ["percpu", "policy"],
    detail: /missing key "hideleg" in "percpu\.policy"/,
  });
  fails('version: 1\nbackend: { plugin: emulator }\nserver: { listen: "localhost" }\n', {
    line: 3,
    path: ["server", "listen"],
    detail: /expected "host:port"/,
  });
});

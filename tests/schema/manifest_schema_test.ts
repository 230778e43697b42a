/**
 * The manifest's JSON Schema (`manifest/rvhv-manifest.schema.json`): the
 * committed file is what `deno task schema` writes now; every example
 * manifest names it on its first line; every example, test fixture and
 * documented manifest meant to be valid validates against it; and on a
 * table of manifests the schema and rvhv's own validators (the manifest's
 * and the built-in plugins' options) give the same verdict, except for the
 * listed checks a schema cannot make. The schema is read by an independent
 * validator of the keywords it uses (`./_json_schema.ts`).
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse } from "yaml";
import { MANIFEST_SCHEMA_PATH, manifestSchemaText } from "../../manifest/json_schema.ts";
import { parseManifest } from "../../manifest/parse.ts";
import { BUILTIN_PLUGINS } from "../../manifest/registry.ts";
import { codeBlocks, docFiles, readDoc } from "../docs/_markdown.ts";
import { SUPPORTED_KEYWORDS, validate } from "./_json_schema.ts";

const ROOT = new URL("../../", import.meta.url);
const SCHEMA_URL = new URL(MANIFEST_SCHEMA_PATH, ROOT);
const schema = JSON.parse(await Deno.readTextFile(SCHEMA_URL));

/** The YAML files of a folder, relative to the root. */
async function yamlFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL(folder, ROOT))) {
    if (entry.isFile && entry.name.endsWith(".yaml")) files.push(`${folder}${entry.name}`);
  }
  return files.sort();
}

/** Whether the schema takes a manifest's text (its violations, for messages). */
function schemaVerdict(text: string): { valid: boolean; why: string } {
  const violations = validate(schema, parse(text));
  return { valid: violations.length === 0, why: JSON.stringify(violations) };
}

/** Whether rvhv takes a manifest: the manifest's validator, then a built-in plugin's options. */
async function rvhvVerdict(text: string): Promise<{ valid: boolean; why: string }> {
  try {
    const manifest = parseManifest(text);
    const load = BUILTIN_PLUGINS.get(manifest.backend.plugin);
    if (load !== undefined) (await load()).parseOptions(manifest.backend.options);
    return { valid: true, why: "" };
  } catch (error) {
    return { valid: false, why: (error as Error).message };
  }
}

Deno.test("the committed manifest schema is what `deno task schema` writes now", async () => {
  const committed = await Deno.readTextFile(SCHEMA_URL);
  ok(
    committed === await manifestSchemaText(),
    `${MANIFEST_SCHEMA_PATH} is stale: run "deno task schema" and commit it`,
  );
  strictEqual(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
});

Deno.test("every example manifest names the schema on its first line", async () => {
  const examples = await yamlFiles("examples/");
  ok(examples.length >= 3, `found ${examples.length} example manifests`);
  for (const file of examples) {
    const first = (await Deno.readTextFile(new URL(file, ROOT))).split("\n")[0]!;
    const reference = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)?.[1];
    ok(reference !== undefined, `${file} starts with "# yaml-language-server: $schema=…"`);
    strictEqual(new URL(reference, new URL(file, ROOT)).href, SCHEMA_URL.href, file);
  }
});

/** Fixtures written to be refused (by rvhv and the schema alike). */
const INVALID_FIXTURES: ReadonlySet<string> = new Set([
  "tests/fixtures/manifests/bad_option.yaml", // profile: qemu-9.9
]);

Deno.test("every example, fixture and documented manifest meant to be valid validates", async () => {
  const files = [
    ...await yamlFiles("examples/"),
    ...await yamlFiles("tests/fixtures/manifests/"),
  ];
  const manifests = await Promise.all(
    files.map(async (file) => ({
      where: file,
      text: await Deno.readTextFile(new URL(file, ROOT)),
    })),
  );
  for (const file of await docFiles()) {
    for (const block of codeBlocks(file, await readDoc(file))) {
      if (block.lang === "yaml" && /^version:/m.test(block.code)) {
        manifests.push({ where: `${file}:${block.line}`, text: block.code });
      }
    }
  }
  ok(manifests.length >= files.length + 3, "the docs' manifests are included");
  for (const { where, text } of manifests) {
    const verdict = schemaVerdict(text);
    strictEqual(verdict.valid, !INVALID_FIXTURES.has(where), `${where}: ${verdict.why}`);
    // Whatever rvhv takes, the schema takes: an editor never flags a working manifest.
    if ((await rvhvVerdict(text)).valid) ok(verdict.valid, `${where}: ${verdict.why}`);
  }
  for (const file of INVALID_FIXTURES) {
    strictEqual((await rvhvVerdict(await Deno.readTextFile(new URL(file, ROOT)))).valid, false);
  }
});

const HEAD = "version: 1\nbackend:\n  plugin: emulator\n";
const emulator = (options: string) =>
  `version: 1\nbackend:\n  plugin: emulator\n  options: ${options}\n`;
const qemu = (options: string) => `version: 1\nbackend:\n  plugin: qemu\n  options: ${options}\n`;
const replay = (options: string) =>
  `version: 1\nbackend:\n  plugin: replay\n  options: ${options}\n`;
const policy = (map: string) => `${HEAD}percpu:\n  policy: ${map}\n`;

/** Manifests on which the schema and rvhv agree: valid ones, then invalid ones. */
const AGREED: readonly [valid: boolean, text: string][] = [
  [true, HEAD],
  [true, `${HEAD}percpu:\nvcpus:\n`],
  [true, `${HEAD}percpu: { harts: [0, 2], policy: kvm-6.12, enable: false }\n`],
  [
    true,
    policy('{ hedeleg: [ILLEGAL_INSTRUCTION, 8], hideleg: [2, 6], hcounteren: "0x7", sie: [] }'),
  ],
  [true, policy("{ hedeleg: [illegal_instruction], hideleg: [], hcounteren: 7, sie: [9] }")],
  [true, policy('{ hedeleg: [], hideleg: [], hcounteren: "0x7", sie: [], delegation: per-vcpu }')],
  [true, `${HEAD}vcpus: [{ hart: 0, vm: 1 }, { hart: 1, vm: 1 }]\n`],
  [true, `${HEAD}record: traces/run.jsonl\nserver: { listen: "[::1]:65535" }\n`],
  [true, emulator('{ harts: 2, isa: [rv64imafdch, rv64imafdc], ram: { base: "0x8000_0000" } }')],
  [true, emulator("{ spec: { geilen: 3, hgatpModes: [sv39x4, sv57x4] }, physVirtOffset: 0 }")],
  [true, emulator("")],
  [true, qemu('{ harts: 512, cpuProps: ["vlen=256"], attach: { qmp: /q, gdb: /g } }')],
  [true, qemu("{ cpuProps: { sscofpmf: true, vlen: 256, priv_spec: v1.12.0 }, access: native }")],
  [true, replay("{ path: run.jsonl, strict: false, lookahead: 8 }")],
  [true, "version: 1\nbackend:\n  plugin: ./mine.ts\n  options: { anything: [1, { x: 2 }] }\n"],
  [false, "version: 2\nbackend: { plugin: emulator }\n"],
  [false, "backend: { plugin: emulator }\n"],
  [false, "version: 1\n"],
  [false, "version: 1\nbackend: { options: {} }\n"],
  [false, "version: 1\nbackned: { plugin: emulator }\n"],
  [false, "version: 1\nbackend: { plugin: emulater }\n"],
  [false, "version: 1\nbackend: { plugin: emulator, options: [1] }\n"],
  [false, `${HEAD}percpu: { harts: four }\n`],
  [false, `${HEAD}percpu: { harts: [0, -1] }\n`],
  [false, `${HEAD}percpu: { harts: [1, 1] }\n`],
  [false, `${HEAD}percpu: { enable: yes }\n`],
  [false, `${HEAD}percpu: { policy: linux }\n`],
  [false, policy("{ hedeleg: [] }")],
  [false, policy('{ hedeleg: [ILEGAL_INSTRUCTION], hideleg: [], hcounteren: "0x7", sie: [] }')],
  [false, policy('{ hedeleg: [64], hideleg: [], hcounteren: "0x7", sie: [] }')],
  [false, policy("{ hedeleg: [], hideleg: [], hcounteren: -1, sie: [] }")],
  [false, policy('{ hedeleg: [], hideleg: [], hcounteren: "0x7", sie: [], delegation: per-vm }')],
  [
    false,
    policy('{ hedeleg: [], hideleg: [], hcounteren: "0x7", sie: [], guestPageTableLevels: 6 }'),
  ],
  [false, `${HEAD}vcpus: [{ hart: 0 }]\n`],
  [false, `${HEAD}vcpus: [{ hart: 0, vm: -1 }]\n`],
  [false, `${HEAD}record: ""\n`],
  [false, `${HEAD}server: { listen: localhost }\n`],
  [false, `${HEAD}server: { listen: "127.0.0.1:65536" }\n`],
  [false, emulator("{ harts: 0 }")],
  [false, emulator("{ harts: 2.5 }")],
  [false, emulator("{ hart: 2 }")],
  [false, emulator("{ profile: qemu-9.9 }")],
  [false, emulator("{ firmware: uboot }")],
  [false, emulator("{ ram: { size: -4096 } }")],
  [false, emulator("{ spec: { geilen: 64 } }")],
  [false, emulator("{ spec: { hgatpModes: [sv32x4] } }")],
  [false, qemu("{ harts: 513 }")],
  [false, qemu("{ isa: [rv64imafdch] }")],
  [false, qemu("{ access: gdb }")],
  [false, qemu('{ cpuProps: ["sscofpmf"] }')],
  [false, qemu('{ cpuProps: { "a,b": true } }')],
  [false, qemu("{ attach: { qmp: /q } }")],
  [false, qemu("{ timeoutMs: 0 }")],
  [false, qemu("{ profile: qemu-7.2 }")],
  [false, replay("{}")],
  [false, replay("{ path: t, strict: yes }")],
];

/** What rvhv refuses and a schema cannot say: each with why. */
const RVHV_ONLY: readonly [why: string, text: string][] = [
  ["an ISA string's grammar", emulator("{ isa: rv32imac }")],
  ["a list of ISA strings one per hart", emulator("{ harts: 2, isa: [rv64imafdch] }")],
  ["RAM in whole pages", emulator("{ ram: { size: 100 } }")],
  ["profile auto outside rvhv diff", emulator("{ profile: auto }")],
  [
    "a value that fits 64 bits",
    policy('{ hedeleg: [], hideleg: [], hcounteren: "0x1_0000_0000_0000_0000", sie: [] }'),
  ],
  ["one vCPU per hart", `${HEAD}vcpus: [{ hart: 0, vm: 1 }, { hart: 0, vm: 2 }]\n`],
  ["native access takes no firmware", qemu("{ access: native, firmware: opensbi }")],
];

Deno.test("the schema and rvhv's validators agree on what the schema can say", async () => {
  const disagreements: string[] = [];
  for (const [valid, text] of AGREED) {
    const [bySchema, byRvhv] = [schemaVerdict(text), await rvhvVerdict(text)];
    if (bySchema.valid !== valid || byRvhv.valid !== valid) {
      disagreements.push(
        `${JSON.stringify(text)}: expected ${valid}, schema ${bySchema.valid} ${bySchema.why}, ` +
          `rvhv ${byRvhv.valid} ${byRvhv.why}`,
      );
    }
  }
  deepStrictEqual(disagreements, []);
});

Deno.test("what a schema cannot say, rvhv still refuses (at the option's line)", async () => {
  for (const [why, text] of RVHV_ONLY) {
    ok(schemaVerdict(text).valid, `the schema takes it: ${why}`);
    strictEqual((await rvhvVerdict(text)).valid, false, `rvhv refuses it: ${why}`);
  }
});

/** Every keyword of a schema, found by walking all of it. */
function keywordsOf(node: unknown, found = new Set<string>()): Set<string> {
  if (typeof node !== "object" || node === null) return found;
  for (const [keyword, value] of Object.entries(node)) {
    found.add(keyword);
    if (keyword === "properties") {
      for (const sub of Object.values(value as object)) keywordsOf(sub, found);
    } else if (["anyOf", "allOf"].includes(keyword)) {
      for (const sub of value as unknown[]) keywordsOf(sub, found);
    } else if (
      ["items", "additionalProperties", "propertyNames", "if", "then", "else"].includes(keyword)
    ) {
      keywordsOf(value, found);
    }
  }
  return found;
}

Deno.test("the small validator reads every keyword the schema uses, and fails closed", () => {
  const unread = [...keywordsOf(schema)].filter((keyword) => !SUPPORTED_KEYWORDS.has(keyword));
  deepStrictEqual(unread, []);
  let threw = false;
  try {
    validate({ oneOf: [] }, 1);
  } catch {
    threw = true;
  }
  ok(threw, "an unknown keyword is an error, never taken as valid");
});

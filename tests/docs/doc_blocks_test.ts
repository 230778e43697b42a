/**
 * The rules that keep README.md and docs/*.md true, checked cheaply:
 * every code block `deno test --doc` skips is run by another test; shell
 * blocks run Deno from npm, at the version CI uses, and name tasks that
 * exist; every link and repository path resolves inside the repository;
 * no comment, script, help text or doc anywhere in the repository cites a
 * Markdown file it does not have; every page is linked from the index;
 * the README stays a five-minute read.
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import {
  allCodeBlocks,
  type CodeBlock,
  docFiles,
  isQemuExample,
  isShellBlock,
  readDoc,
  ROOT,
  shellCommands,
  skippedByDocTests,
  statedCommand,
} from "./_markdown.ts";

/** The most the README may weigh. */
const README_MAX_BYTES = 16 * 1024;

/** The page whose files `tests/readme_plugin_test.ts` copies into a folder and runs. */
const PLUGIN_WALKTHROUGH = "docs/plugins.md";

/** Languages `deno test --doc` would run, where the docs use `ts`. */
const OTHER_SCRIPT_LANGS: ReadonlySet<string> = new Set([
  "js",
  "javascript",
  "jsx",
  "typescript",
  "tsx",
  "mts",
]);

/** A Markdown link or image target: `](target)`. */
const LINK_REGEXP = /\]\(([^)\s]+)\)/g;
/** Code spans, for the paths they name. */
const CODE_SPAN_REGEXP = /`([^`\n]+)`/g;
/** A Markdown file named anywhere in the text. */
const MD_NAME_REGEXP = /[\w.-]+\.md\b/g;

const where = (block: CodeBlock) => `${block.file}:${block.line}`;

/** The Deno version CI runs (`.ci/run`): the one the docs' commands must name. */
async function ciDenoVersion(): Promise<string> {
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  const version = /npx -y deno@([\d.]+)/.exec(ci)?.[1];
  ok(version !== undefined, ".ci/run names the Deno version it runs");
  return version;
}

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replaceAll(/[^\p{L}\p{N}\s_-]/gu, "").replaceAll(/\s/g, "-");
}

/** The anchors of a Markdown file's headings. */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) out.add(anchorOf(heading[1]!));
  }
  return out;
}

/** The text outside fenced code blocks (prose, tables, headings). */
function prose(text: string): string {
  let fenced = false;
  return text.split("\n").filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  }).join("\n");
}

Deno.test("every ts block that deno test --doc skips is run by another test", async () => {
  const untested = (await allCodeBlocks())
    .filter((block) => block.lang === "ts" && skippedByDocTests(block))
    .filter((block) => !isQemuExample(block) && block.file !== PLUGIN_WALKTHROUGH)
    .map(where);
  deepStrictEqual(
    untested,
    [],
    'a skipped block must be a QEMU example ("ts ignore qemu", run by shell_commands_test.ts) ' +
      `or a file of the plugin walkthrough (${PLUGIN_WALKTHROUGH})`,
  );
});

Deno.test("the docs' code is written as ts, which deno test --doc runs", async () => {
  const other = (await allCodeBlocks())
    .filter((block) => OTHER_SCRIPT_LANGS.has(block.lang))
    .map((block) => `${where(block)} (${block.lang})`);
  deepStrictEqual(other, []);
});

Deno.test("shell blocks run Deno from npm at CI's version and name tasks that exist", async () => {
  const version = await ciDenoVersion();
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const tasks = new Set(Object.keys(config.tasks));
  const problems: string[] = [];
  for (const block of (await allCodeBlocks()).filter(isShellBlock)) {
    for (const { flat: command } of shellCommands(block).commands) {
      const [first] = command.split(/\s+/);
      if (first === "deno" || first === "rvhv") {
        problems.push(`${where(block)}: "${command}" (write "npx -y deno@${version} …")`);
      }
      for (const match of command.matchAll(/npx -y deno@(\S+)(?:\s+task\s+(\S+))?/g)) {
        if (match[1] !== version) {
          problems.push(`${where(block)}: deno@${match[1]}, CI runs deno@${version}`);
        }
        if (match[2] !== undefined && !tasks.has(match[2])) {
          problems.push(`${where(block)}: there is no task "${match[2]}" in deno.json`);
        }
      }
    }
  }
  deepStrictEqual(problems, []);
});

/** A permission flag that grants a whole kind: no `=<scope>`. */
const UNSCOPED_FLAG_REGEXP = /(?:^|\s)(--allow-(?:read|write|net|env|run|sys|ffi|all)|-A)(?=\s|$)/g;
/**
 * The tasks that grant whole kinds, each for its reason (docs/development.md,
 * "Permissions of the tasks"): they start Deno itself, QEMU, Chromium and
 * other tools, so `--allow-run` cannot be narrowed, and no narrower grant of
 * the other kinds would then hold.
 */
const UNSCOPED_TASKS: ReadonlySet<string> = new Set(["test", "bench"]);

/** The unscoped grants of a command line, but `--allow-net` for QEMU's unix sockets. */
function unscopedGrants(command: string): string[] {
  const qemu = /--allow-run=\S*(qemu|RVHV_QEMU)/.test(command);
  return [...command.matchAll(UNSCOPED_FLAG_REGEXP)].map((m) => m[1]!)
    .filter((flag) => !(flag === "--allow-net" && qemu));
}

Deno.test("documented commands and tasks grant scoped permissions", async () => {
  const problems: string[] = [];
  for (const block of await allCodeBlocks()) {
    const commands = isShellBlock(block)
      ? shellCommands(block).commands.map(({ flat, line }) => ({ flat, line }))
      : [{ flat: statedCommand(block) ?? "", line: block.line + 1 }];
    for (const command of commands) {
      for (const flag of unscopedGrants(command.flat)) {
        problems.push(`${block.file}:${command.line}: ${flag} is unscoped`);
      }
    }
  }
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  for (const [task, command] of Object.entries<string>(config.tasks)) {
    if (UNSCOPED_TASKS.has(task)) continue;
    for (const flag of unscopedGrants(command)) problems.push(`task ${task}: ${flag} is unscoped`);
  }
  deepStrictEqual(problems, [], "grant the folders, files, hosts and variables used");
});

Deno.test("every link and repository path in the docs resolves inside the repository", async () => {
  const topLevel = new Set<string>();
  for await (const entry of Deno.readDir(ROOT)) topLevel.add(entry.name);
  const mdNames = new Set(["README.md", "CHANGELOG.md"]);
  for (const file of await docFiles()) mdNames.add(file.slice(file.lastIndexOf("/") + 1));

  const problems: string[] = [];
  for (const file of await docFiles()) {
    const text = prose(await readDoc(file));
    const base = new URL(file, ROOT);
    for (const [, target] of text.matchAll(LINK_REGEXP)) {
      if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
      const [path = "", anchor] = target!.split("#");
      const url = path === "" ? base : new URL(path, base);
      if (!url.href.startsWith(ROOT.href)) {
        problems.push(`${file}: link "${target}" leaves the repository`);
      } else if (!await exists(url)) {
        problems.push(`${file}: link "${target}" names a file the repository does not have`);
      } else if (anchor !== undefined && url.pathname.endsWith(".md")) {
        if (!anchors(await Deno.readTextFile(url)).has(anchor)) {
          problems.push(`${file}: link "${target}": no heading makes that anchor`);
        }
      }
    }
    for (const [, span] of text.matchAll(CODE_SPAN_REGEXP)) {
      const path = span!.trim();
      if (path.startsWith("../")) problems.push(`${file}: "${path}" leaves the repository`);
      const top = path.split("/")[0]!;
      if (!path.includes("/") || !topLevel.has(top) || /[\s*…<>{}$]/.test(path)) continue;
      if (!await exists(new URL(path, ROOT))) {
        problems.push(`${file}: \`${path}\` is not a path in the repository`);
      }
    }
    for (const [name] of text.matchAll(MD_NAME_REGEXP)) {
      if (!mdNames.has(name)) {
        problems.push(`${file}: names ${name}, which the repository does not have; state the fact`);
      }
    }
  }
  deepStrictEqual(problems, []);
});

/** Folders no citation is looked for in: git's, and dependencies'. */
const NOT_SOURCE: ReadonlySet<string> = new Set([".git", "node_modules"]);
/** Files that are not text. */
const BINARY_REGEXP = /\.(png|jpe?g|gif|ico|wasm|gz|zip)$/;
/** A Markdown file named anywhere, with the folders written before it (`docs/http.md`). */
const MD_PATH_REGEXP = /(?:[\w.-]+\/)*[\w-][\w.-]*\.md\b/g;

/** Every text file of the repository, relative to the root. */
async function repositoryFiles(dir = ROOT, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (NOT_SOURCE.has(entry.name)) continue;
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      files.push(...await repositoryFiles(new URL(`${entry.name}/`, dir), `${path}/`));
    } else if (entry.isFile && !BINARY_REGEXP.test(entry.name)) files.push(path);
  }
  return files.sort();
}

Deno.test("no comment, script or doc cites a Markdown file the repository does not have", async () => {
  const files = await repositoryFiles();
  const markdown = new Set(files.filter((file) => file.endsWith(".md")));
  const names = new Set([...markdown].map((file) => file.slice(file.lastIndexOf("/") + 1)));
  const topLevel = new Set(files.map((file) => file.split("/")[0]!));
  /** A path that names a repository file: from the root, or from the citing file's folder. */
  const isFile = (cited: string, from: string) =>
    markdown.has(cited) || markdown.has(new URL(cited, `file:///${from}`).pathname.slice(1));
  const problems: string[] = [];
  for (const file of files) {
    const lines = (await Deno.readTextFile(new URL(file, ROOT))).split("\n");
    lines.forEach((line, i) => {
      for (const [cited] of line.matchAll(MD_PATH_REGEXP)) {
        const name = cited.slice(cited.lastIndexOf("/") + 1);
        // A path into the tree must be that file; a bare name (or a path outside it), some file.
        const known = isFile(cited, file) ||
          (names.has(name) && !topLevel.has(cited.split("/")[0]!));
        if (!known) problems.push(`${file}:${i + 1}: cites ${cited}, which the repository lacks`);
      }
    });
  }
  deepStrictEqual(problems, [], "state the fact, or bring it into docs/ and cite that page");
});

Deno.test("every docs page is linked from docs/README.md, and the README links the index", async () => {
  const index = await readDoc("docs/README.md");
  const unlinked = (await docFiles())
    .filter((file) => file.startsWith("docs/") && file !== "docs/README.md")
    .filter((file) => !index.includes(`](${file.slice("docs/".length)})`));
  deepStrictEqual(unlinked, []);
  ok((await readDoc("README.md")).includes("](docs/README.md)"), "README.md links docs/README.md");
});

Deno.test("the README is a five-minute read: at most 16 KB, with the screenshot", async () => {
  const bytes = (await Deno.readFile(new URL("README.md", ROOT))).length;
  ok(bytes <= README_MAX_BYTES, `README.md is ${bytes} bytes; at most ${README_MAX_BYTES}`);
  ok((await readDoc("README.md")).includes("](docs/harts.png)"), "the README shows docs/harts.png");
});

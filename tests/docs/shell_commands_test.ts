/**
 * Every shell command that README.md and docs/*.md show runs as written: each
 * block's commands in order, through bash, in a fresh copy of the checkout
 * (so what they write stays there), with Deno from npm as the block says and
 * exactly the permissions the command line shows. A command's expected exit
 * code is 0 unless a comment on it says "exit N". The plain block that shows
 * a block's output (the next code block, before any heading) must appear in
 * what its commands printed (`…` stands for any lines; runs of spaces count
 * as one), and comment lines after a block's last command in what that
 * command printed.
 *
 * Some commands run elsewhere or differently, each for its reason:
 * - `task test` and `task check` run this suite and the checks: `.ci/run`
 *   runs them as written (checked here);
 * - the plugin walkthrough's commands (docs/plugins.md) run in
 *   `tests/readme_plugin_test.ts`, in a folder of the page's own files;
 * - a block whose fence says `run-by=<test file>` needs what only that test
 *   sets up (a server to ask, a held session whose socket it names): that
 *   test runs it as written, and this one checks the test reads the page;
 * - `apt-get install …` runs with `--simulate`: the tests install nothing;
 * - `serve` runs until it answers `/healthz`, then gets SIGINT, as from
 *   Ctrl-C (its process group) and must exit 130. It listens on the port the
 *   docs name, so runs of this test on one machine take turns (a lock file).
 * Commands that need QEMU (7.2 from PATH as `qemu-system-riscv64`, or 10.0
 * where `scripts/install-qemu10.sh` puts it) are skipped with the reason
 * printed where it is missing, and fail under `RVHV_REQUIRE_QEMU=1`.
 *
 * Every `ts` example (but the plugin walkthrough's files) states on its first
 * line the command that runs it once saved as `example.ts` in the checkout,
 * with the permissions it needs; it runs here with exactly that command.
 */

import { ok, strictEqual } from "node:assert/strict";
import {
  allCodeBlocks,
  type CodeBlock,
  isQemuExample,
  isShellBlock,
  readDoc,
  ROOT,
  type ShellCommand,
  shellCommands,
  statedCommand,
} from "./_markdown.ts";
import {
  DEFAULT_QEMU10_LAUNCHER,
  QEMU_10_0,
  QEMU_7_2,
  type QemuTarget,
  qemuUnavailable,
} from "../_helpers/qemu.ts";

const CONFIG = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const TASKS: Record<string, string> = CONFIG.tasks;
const CI_SCRIPT = await Deno.readTextFile(new URL(".ci/run", ROOT));

/** The QEMUs the docs' commands run: 7.2 as `qemu-system-riscv64` from PATH, 10.0 where the script installs it. */
const DOCS_QEMU_7_2: QemuTarget = { ...QEMU_7_2, binary: "qemu-system-riscv64" };
const DOCS_QEMU_10_0: QemuTarget = { ...QEMU_10_0, binary: DEFAULT_QEMU10_LAUNCHER };

/** Tasks that run this suite or the checks: `.ci/run` runs them, as written. */
const RUN_BY_CI: ReadonlySet<string> = new Set(["test", "check"]);
/** The page whose commands `tests/readme_plugin_test.ts` runs in a folder of its own files. */
const PLUGIN_WALKTHROUGH = "docs/plugins.md";

/** How a command is run here. */
type Plan =
  | { readonly how: "ci" }
  | { readonly how: "walkthrough" }
  | { readonly how: "elsewhere"; readonly test: string }
  | { readonly how: "simulate" }
  | { readonly how: "serve" }
  | { readonly how: "run" };

/** A command with what it needs and how it is run. */
interface Step {
  readonly command: ShellCommand;
  readonly plan: Plan;
  readonly needs: readonly QemuTarget[];
  readonly exit: number;
}

/** `npx -y deno@… task NAME …` → NAME. */
function taskOf(command: ShellCommand): string | undefined {
  return /^npx -y deno@\S+ task (\S+)/.exec(command.flat)?.[1];
}

/** The QEMUs a command runs: named in it, or in the task it runs. */
function qemusNeeded(command: ShellCommand): QemuTarget[] {
  const task = taskOf(command);
  const text = `${command.flat} ${task === undefined ? "" : TASKS[task] ?? ""}`;
  if (/^apt-get /.test(command.flat)) return [];
  if (/qemu10/.test(text)) return [DOCS_QEMU_10_0];
  if (/qemu/.test(text)) return [DOCS_QEMU_7_2];
  return [];
}

function stepOf(block: CodeBlock, command: ShellCommand): Step {
  const task = taskOf(command);
  const exit = Number(/\bexit (\d+)\b/.exec(command.comments.join(" "))?.[1] ?? 0);
  const runBy = block.attributes.find((word) => word.startsWith("run-by="))?.slice(7);
  const plan: Plan = task !== undefined && RUN_BY_CI.has(task)
    ? { how: "ci" }
    : runBy !== undefined
    ? { how: "elsewhere", test: runBy }
    : block.file === PLUGIN_WALKTHROUGH
    ? { how: "walkthrough" }
    : /^apt-get /.test(command.flat)
    ? { how: "simulate" }
    : / cli\/main\.ts serve /.test(command.flat) || / --hold\b/.test(command.flat)
    ? { how: "serve" }
    : { how: "run" };
  return { command, plan, needs: qemusNeeded(command), exit };
}

/** What a command printed. */
interface Printed {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment the commands see: this one, colour off, the temporary folder the docs grant. */
function commandEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  // The docs grant /tmp; QEMU binaries are named on the command line, not taken from RVHV_QEMU.
  for (const name of ["TMPDIR", "RVHV_QEMU", "RVHV_DEBUG"]) delete env[name];
  return { ...env, NO_COLOR: "1" };
}

/** `bash -c <text>` in `cwd`, in the commands' environment, its output piped (`prefix`: e.g. setsid). */
function bashCommand(text: string, cwd: string, prefix: readonly string[] = []): Deno.Command {
  const [program = "bash", ...args] = [...prefix, "bash", "-c", text];
  return new Deno.Command(program, {
    args,
    cwd,
    clearEnv: true,
    env: commandEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs a command through bash in `cwd` and waits for it. */
async function runCommand(text: string, cwd: string): Promise<Printed> {
  const { code, stdout, stderr } = await bashCommand(text, cwd).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Reads a stream into `sink` until it ends. */
async function drain(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
}

/**
 * Runs a long-running command (`serve`) as a terminal would: in a process
 * group of its own, until it serves, then SIGINT to the group (Ctrl-C).
 */
async function runUntilServing(text: string, cwd: string): Promise<Printed> {
  const child = bashCommand(text, cwd, ["setsid"]).spawn();
  const stdout = { text: "" };
  const stderr = { text: "" };
  const drained = Promise.all([drain(child.stdout, stdout), drain(child.stderr, stderr)]);
  let ended = false;
  const status = child.status.finally(() => ended = true);
  let url: string | undefined;
  while (url === undefined && !ended) {
    url = /serving \d+ hart\(s\) on (http:\/\/\S+\/)/.exec(stderr.text)?.[1];
    if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (url !== undefined) {
    try {
      const health = await fetch(new URL("healthz", url));
      strictEqual(health.status, 200, await health.text());
    } finally {
      if (!ended) Deno.kill(-child.pid, "SIGINT");
    }
  }
  const { code } = await status;
  await drained;
  ok(url !== undefined, `it never served:\n${stderr.text}`);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * What each task printed, where it first ran. A task the docs show twice
 * (the demo in the README and on its page, the benchmarks) runs once: a
 * task is a fixed command of deno.json that needs nothing the commands
 * before it in a block made.
 */
const ranTasks = new Map<string, { printed: Printed; where: string }>();

/** Holds a lock file while `fn` runs, so runs on one machine take turns (the docs' port). */
async function withMachineLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const path = `/tmp/rvhv-docs-${name}.lock`;
  using file = await Deno.open(path, { create: true, write: true });
  await file.lock(true);
  try {
    return await fn();
  } finally {
    await file.unlock();
  }
}

/** A copy of the checkout in a fresh temporary folder (no `.git`, no `node_modules`). */
async function copyCheckout(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv-docs-" });
  async function copy(from: URL, to: string): Promise<void> {
    for await (const entry of Deno.readDir(from)) {
      if (entry.name === ".git" || entry.name === "node_modules") continue;
      if (entry.isDirectory) {
        await Deno.mkdir(`${to}/${entry.name}`);
        await copy(new URL(`${entry.name}/`, from), `${to}/${entry.name}`);
      } else if (entry.isFile) {
        await Deno.copyFile(new URL(entry.name, from), `${to}/${entry.name}`);
        const { mode } = await Deno.stat(new URL(entry.name, from));
        if (mode !== null) await Deno.chmod(`${to}/${entry.name}`, mode & 0o777);
      }
    }
  }
  await copy(ROOT, dir);
  return dir;
}

/**
 * Whether `lines` appear in `text`: contiguous runs in order, where a `…`
 * line stands for any lines between two runs; runs of spaces count as one.
 */
function showsOutput(text: string, lines: readonly string[]): boolean {
  const norm = (line: string) => line.replaceAll(/\s+/g, " ").trim();
  const have = text.split("\n").map(norm);
  const runs: string[][] = [[]];
  for (const line of lines.map(norm)) {
    if (line === "…" || line === "...") runs.push([]);
    else runs.at(-1)!.push(line);
  }
  let from = 0;
  for (const run of runs.filter((r) => r.length > 0)) {
    let at = from;
    while (at + run.length <= have.length && !run.every((line, j) => have[at + j] === line)) at++;
    if (at + run.length > have.length) return false;
    from = at + run.length;
  }
  return true;
}

/** The output block that follows a shell block (the next block, plain, before any heading). */
async function outputBlockOf(block: CodeBlock, blocks: readonly CodeBlock[]): Promise<
  CodeBlock | undefined
> {
  const at = blocks.findIndex((b) => b.file === block.file && b.line === block.line);
  const next = blocks[at + 1];
  if (next === undefined || next.file !== block.file || next.lang !== "") return undefined;
  const between = (await readDoc(block.file)).split("\n")
    .slice(block.line + block.code.split("\n").length, next.line - 1);
  return between.some((line) => /^#{1,6}\s/.test(line)) ? undefined : next;
}

const BLOCKS: readonly CodeBlock[] = (await allCodeBlocks()).filter(isShellBlock);
const ALL_BLOCKS: readonly CodeBlock[] = await allCodeBlocks();
const EXAMPLES: readonly CodeBlock[] = ALL_BLOCKS.filter((block) =>
  block.lang === "ts" && block.file !== PLUGIN_WALKTHROUGH
);

Deno.test("the docs' shell blocks and examples are found", () => {
  ok(BLOCKS.length >= 10, `${BLOCKS.length} shell blocks`);
  ok(EXAMPLES.length >= 10, `${EXAMPLES.length} ts examples`);
});

for (const block of BLOCKS) {
  const { commands, trailer } = shellCommands(block);
  const steps = commands.map((command) => stepOf(block, command));
  const name = `${block.file}:${block.line}: the shell commands run as written`;
  Deno.test({ name, sanitizeResources: true, sanitizeOps: true }, async (t) => {
    const dir = await copyCheckout();
    const printed: string[] = [];
    let skipped: string | undefined;
    try {
      for (const [i, step] of steps.entries()) {
        const { command, plan } = step;
        const label = `line ${command.line}: ${command.flat}`;
        if (plan.how === "ci") {
          await t.step(`${label} (run by .ci/run)`, () => {
            const ci = CI_SCRIPT.replaceAll("$DENO", /^npx -y deno@\S+/.exec(command.flat)![0]);
            ok(ci.includes(command.flat), `.ci/run runs "${command.flat}"`);
          });
          continue;
        }
        if (plan.how === "walkthrough") {
          await t.step(`${label} (run by tests/readme_plugin_test.ts)`, async () => {
            const walkthrough = await Deno.readTextFile(
              new URL("tests/readme_plugin_test.ts", ROOT),
            );
            ok(walkthrough.includes(`"${PLUGIN_WALKTHROUGH}"`));
          });
          continue;
        }
        if (plan.how === "elsewhere") {
          await t.step(`${label} (run by ${plan.test})`, async () => {
            const test = await Deno.readTextFile(new URL(plan.test, ROOT));
            ok(test.includes(block.file), `${plan.test} reads ${block.file}`);
          });
          continue;
        }
        const missing = step.needs.map((target) => qemuUnavailable(target)).find((u) =>
          u !== undefined
        );
        if (missing !== undefined && "skip" in missing) {
          skipped = missing.skip;
          await t.step({ name: `${label} (skipped: ${missing.skip})`, ignore: true, fn() {} });
          continue;
        }
        const earlier = taskOf(command) === undefined ? undefined : ranTasks.get(command.flat);
        await t.step(
          earlier === undefined ? label : `${label} (as at ${earlier.where})`,
          async () => {
            if (missing !== undefined) throw missing.fail;
            const result = earlier?.printed ??
              (plan.how === "simulate"
                ? await runCommand(command.text.replace(/^apt-get /, "apt-get --simulate "), dir)
                : plan.how === "serve"
                ? await withMachineLock("serve", () => runUntilServing(command.text, dir))
                : await runCommand(command.text, dir));
            if (earlier === undefined && taskOf(command) !== undefined) {
              ranTasks.set(command.flat, {
                printed: result,
                where: `${block.file}:${command.line}`,
              });
            }
            const expected = plan.how === "serve" ? 130 : step.exit;
            strictEqual(
              result.code,
              expected,
              `exit ${result.code}, expected ${expected}\n${result.stdout}${result.stderr}`,
            );
            printed.push(result.stdout);
            if (i === steps.length - 1 && trailer.length > 0) {
              ok(
                showsOutput(result.stdout + result.stderr, trailer),
                `the block's last comment lines:\n${trailer.join("\n")}\nnot in:\n${result.stderr}`,
              );
            }
          },
        );
      }
      const output = await outputBlockOf(block, ALL_BLOCKS);
      if (output === undefined) return;
      // A block run elsewhere has its output compared there too (that test read the page).
      if (steps.some((step) => step.plan.how === "elsewhere")) return;
      const lines = output.code.replace(/\n$/, "").split("\n");
      if (skipped !== undefined || printed.length === 0) {
        await t.step({
          name: `${output.file}:${output.line}: the output shown (skipped: ${
            skipped ?? "not run"
          })`,
          ignore: true,
          fn() {},
        });
        return;
      }
      await t.step(`${output.file}:${output.line}: the output shown is what they printed`, () => {
        ok(
          showsOutput(printed.join(""), lines),
          `the docs show:\n${output.code}\nthe commands printed:\n${printed.join("")}`,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

for (const block of EXAMPLES) {
  const name = `${block.file}:${block.line}: the example runs with the command line it states`;
  const missing = isQemuExample(block) ? qemuUnavailable(DOCS_QEMU_7_2) : undefined;
  if (missing !== undefined && "skip" in missing) {
    Deno.test({ name: `${name} (skipped: ${missing.skip})`, ignore: true, fn() {} });
    continue;
  }
  Deno.test({ name, sanitizeResources: true, sanitizeOps: true }, async () => {
    if (missing !== undefined) throw missing.fail;
    const command = statedCommand(block);
    ok(
      command !== undefined && command.endsWith(" example.ts"),
      'its first line states how to run it: "// npx -y deno@… run <permissions> example.ts"',
    );
    const dir = await copyCheckout();
    try {
      await Deno.writeTextFile(`${dir}/example.ts`, block.code);
      const result = await runCommand(command, dir);
      strictEqual(
        result.code,
        0,
        `${command}: exit ${result.code}\n${result.stdout}${result.stderr}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

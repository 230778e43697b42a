/**
 * The Markdown documentation as the doc tests see it: which files are docs
 * (`README.md` and `docs/*.md`), and their fenced code blocks.
 */

/** The repository root. */
export const ROOT: URL = new URL("../../", import.meta.url);

/** One fenced code block. */
export interface CodeBlock {
  /** The file, relative to the repository root (`docs/qemu.md`). */
  readonly file: string;
  /** The 1-based line of the opening fence. */
  readonly line: number;
  /** The language: the info string's first word (`ts`), or `""`. */
  readonly lang: string;
  /** The info string's other words (`["ignore", "qemu"]`). */
  readonly attributes: readonly string[];
  /** The block's text, its fence's indentation removed, ending with a newline. */
  readonly code: string;
}

/** An opening or closing fence: indentation, the fence, the info string. */
const FENCE_REGEXP = /^(\s*)(`{3,}|~{3,})(.*)$/;

/** The documentation files, relative to the root: `README.md`, then `docs/*.md` sorted. */
export async function docFiles(): Promise<string[]> {
  const pages: string[] = [];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
  }
  return ["README.md", ...pages.sort()];
}

/** Reads a documentation file. */
export function readDoc(file: string): Promise<string> {
  return Deno.readTextFile(new URL(file, ROOT));
}

/**
 * The fenced code blocks of a Markdown text, list-item blocks included.
 *
 * @param file The file's name, for the blocks' positions.
 * @param text The Markdown.
 * @returns The blocks, in order.
 */
export function codeBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_REGEXP.exec(lines[i]!);
    if (open === null) continue;
    const [, indent = "", fence = "", info = ""] = open;
    if (fence.startsWith("`") && info.includes("`")) continue; // inline code, not a fence
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = FENCE_REGEXP.exec(lines[j]!);
      if (
        close !== null && close[2]![0] === fence[0] && close[2]!.length >= fence.length &&
        close[3]!.trim() === ""
      ) break;
      const line = lines[j]!;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    const [lang = "", ...attributes] = info.trim().split(/\s+/).filter((word) => word !== "");
    blocks.push({ file, line: i + 1, lang, attributes, code: body.join("\n") + "\n" });
    i = j;
  }
  return blocks;
}

/** Every code block of every documentation file. */
export async function allCodeBlocks(): Promise<CodeBlock[]> {
  const blocks: CodeBlock[] = [];
  for (const file of await docFiles()) blocks.push(...codeBlocks(file, await readDoc(file)));
  return blocks;
}

/** Whether `deno test --doc` skips a block: a `ts` block with the `ignore` attribute. */
export function skippedByDocTests(block: CodeBlock): boolean {
  return block.attributes.includes("ignore");
}

/** Whether a block is a QEMU example: `ts ignore qemu`, run by `shell_commands_test.ts`. */
export function isQemuExample(block: CodeBlock): boolean {
  return block.lang === "ts" && block.attributes.includes("qemu");
}

/** The info strings of shell blocks: commands a reader types. */
const SHELL_LANGS: ReadonlySet<string> = new Set(["sh", "bash", "shell", "console"]);

/** Whether a block holds shell commands (`sh`, `bash`, `shell`, `console`). */
export function isShellBlock(block: CodeBlock): boolean {
  return SHELL_LANGS.has(block.lang);
}

/** One command of a shell block, continuation lines included. */
export interface ShellCommand {
  /** The command as written (continuation lines joined with their `\`). */
  readonly text: string;
  /** The command on one line, its trailing comment removed. */
  readonly flat: string;
  /** Its 1-based line in the file. */
  readonly line: number;
  /** The comment lines just before it, and its trailing comment, without `#`. */
  readonly comments: readonly string[];
}

/**
 * The commands of a shell block, in order. Comment lines after the last
 * command are the block's `trailer` (what the last command prints).
 */
export function shellCommands(block: CodeBlock): { commands: ShellCommand[]; trailer: string[] } {
  const commands: ShellCommand[] = [];
  let comments: string[] = [];
  const lines = block.code.replace(/\n$/, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    if (line.trim().startsWith("#")) {
      comments.push(line.trim().replace(/^#\s?/, ""));
      continue;
    }
    const start = i;
    while (lines[i]!.endsWith("\\") && i + 1 < lines.length) i++;
    const text = lines.slice(start, i + 1).join("\n");
    const trailing = /(?:^|\s)#\s?(.*)$/.exec(lines[i]!)?.[1];
    const flat = text.replaceAll(/\\\n/g, " ").replace(/(^|\s)#.*$/, "").replaceAll(/\s+/g, " ")
      .trim();
    commands.push({
      text,
      flat,
      line: block.line + 1 + start,
      comments: trailing === undefined ? comments : [...comments, trailing],
    });
    comments = [];
  }
  return { commands, trailer: comments };
}

/**
 * The command line a `ts` block states in its first comment lines (`// npx -y
 * deno@… run <permissions> example.ts`, continued with a trailing `\`), on one
 * line; `undefined` when it states none.
 */
export function statedCommand(block: CodeBlock): string | undefined {
  const parts: string[] = [];
  for (const line of block.code.split("\n")) {
    const comment = /^\/\/\s?(.*)$/.exec(line)?.[1];
    if (comment === undefined) break;
    parts.push(comment.replace(/\\$/, "").trim());
    if (!comment.endsWith("\\")) break;
  }
  const command = parts.join(" ");
  return /^npx -y deno@\S+ run /.test(command) ? command : undefined;
}

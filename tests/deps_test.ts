/**
 * A first run downloads only what the runtime needs. Deno fetches every npm
 * package of the lock file when it starts, so the root `deno.json` imports
 * only what the published code imports (the root `deno.lock` follows), and
 * the browser test's packages live in `tests/e2e/deno.json` and its own
 * `deno.lock`. Checked three ways: the root imports against the code, the
 * e2e config against the root's settings, and `deno task demo` on an empty
 * `DENO_DIR` (skipped, saying why, when the npm registry cannot be reached).
 */

import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(new URL(path, ROOT)));
const root = await readJson("deno.json");
const e2e = await readJson("tests/e2e/deno.json");

/** The code `deno publish` ships: what the root's dependencies are for. */
async function publishedSources(dir: URL, out: string[] = []): Promise<string[]> {
  const skip = /^(tests|bench|examples|docs|scripts|\.ci|\.git)$/;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory && !skip.test(entry.name)) {
      await publishedSources(new URL(`${entry.name}/`, dir), out);
    } else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      out.push(await Deno.readTextFile(new URL(entry.name, dir)));
    }
  }
  return out;
}

/** The package name of a lock key (`hono@4.13.19`, `@scope/name@1.0.0`). */
const packageName = (key: string) => key.slice(0, key.indexOf("@", 1));

/** The root imports the published code imports: the runtime's dependencies. */
async function runtimeImports(): Promise<string[]> {
  const sources = (await publishedSources(ROOT)).join("\n");
  return Object.keys(root.imports).filter((name) =>
    new RegExp(`from "${name}(/[^"]*)?"`).test(sources)
  );
}

/** The npm packages the runtime's imports need, by the lock file's graph. */
function runtimePackages(
  lock: { npm: Record<string, { dependencies?: string[] }> },
  names: string[],
) {
  const keys = Object.keys(lock.npm);
  const resolve = (dep: string) =>
    dep.indexOf("@", 1) > 0 ? dep : keys.find((key) => packageName(key) === dep)!;
  const seen = new Set<string>();
  const visit = (key: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const dep of lock.npm[key]!.dependencies ?? []) visit(resolve(dep));
  };
  for (const name of names) visit(resolve((root.imports[name] as string).replace(/^npm:/, "")));
  return [...new Set([...seen].map(packageName))].sort();
}

Deno.test("the root imports only what the published code imports; the lock file follows", async () => {
  const runtime = await runtimeImports();
  deepStrictEqual(
    Object.keys(root.imports).filter((name) => !runtime.includes(name)),
    [],
    "imports no published module uses belong in a test's own config",
  );
  const lock = await readJson("deno.lock");
  deepStrictEqual(
    [...lock.workspace.dependencies].sort(),
    Object.values(root.imports).sort(),
    "the lock file's dependencies are the imports (run deno install after changing them)",
  );
  deepStrictEqual(
    [...new Set(Object.keys(lock.npm).map(packageName))].sort(),
    runtimePackages(lock, runtime),
    "the lock file holds the runtime's packages only",
  );
});

Deno.test("tests/e2e/deno.json pins the root's imports as the root does, with its settings", async () => {
  for (const [name, specifier] of Object.entries(root.imports)) {
    deepStrictEqual(e2e.imports[name], specifier, `"${name}" as in the root deno.json`);
  }
  for (const key of ["compilerOptions", "fmt", "lint"]) {
    deepStrictEqual(e2e[key], root[key], `"${key}" as in the root deno.json`);
  }
  ok(root.exclude.includes("tests/e2e/"), "the root leaves tests/e2e to its own config");
  const lock = await readJson("tests/e2e/deno.lock");
  deepStrictEqual([...lock.workspace.dependencies].sort(), Object.values(e2e.imports).sort());
});

/** Where Deno fetches npm packages from, as it does. */
const REGISTRY = (Deno.env.get("NPM_CONFIG_REGISTRY") ?? "https://registry.npmjs.org/")
  .replace(/\/?$/, "/");

async function registryAnswers(): Promise<string | undefined> {
  try {
    const response = await fetch(`${REGISTRY}yaml`, { method: "HEAD" });
    await response.body?.cancel();
    return response.ok ? undefined : `${REGISTRY} answers ${response.status}`;
  } catch (error) {
    return `${REGISTRY} cannot be reached (${(error as Error).message})`;
  }
}

const offline = await registryAnswers();
const NAME = "deno task demo on an empty DENO_DIR fetches only the runtime's npm packages";
if (offline !== undefined) console.log(`demo download check skipped: ${offline}`);

Deno.test({
  name: offline === undefined ? NAME : `${NAME} (skipped: ${offline})`,
  ignore: offline !== undefined,
  async fn() {
    const denoDir = await Deno.makeTempDir({ prefix: "rvhv-deno-dir-" });
    try {
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["task", "demo"],
        cwd: ROOT.pathname,
        env: { DENO_DIR: denoDir, NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      ok(code === 0, new TextDecoder().decode(stderr));
      const fetched: string[] = [];
      for await (const host of Deno.readDir(`${denoDir}/npm`)) {
        if (!host.isDirectory) continue;
        for await (const entry of Deno.readDir(`${denoDir}/npm/${host.name}`)) {
          if (!entry.isDirectory) continue;
          if (!entry.name.startsWith("@")) fetched.push(entry.name);
          else {
            for await (const scoped of Deno.readDir(`${denoDir}/npm/${host.name}/${entry.name}`)) {
              fetched.push(`${entry.name}/${scoped.name}`);
            }
          }
        }
      }
      const lock = await readJson("deno.lock");
      deepStrictEqual(fetched.sort(), runtimePackages(lock, await runtimeImports()));
    } finally {
      await Deno.remove(denoDir, { recursive: true });
    }
  },
});

/**
 * Where a recording may go: checked before a backend starts, so a run
 * never ends by failing to write its trace, and nothing of the user's is
 * overwritten unless they said so.
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";

/** Whether a path exists, and what it is. */
async function statOf(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The real path of a file that may not exist yet: its folder's real path and its name. */
async function realPathOf(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await Deno.realPath(absolute);
  } catch {
    try {
      return resolve(await Deno.realPath(dirname(absolute)), basename(absolute));
    } catch {
      return absolute;
    }
  }
}

/**
 * Says what is wrong with recording a trace to `path`, or `undefined` when
 * it may: the manifest itself is never a target; a directory or a special
 * file is refused; an existing file (or a `<path>.partial` left by an
 * interrupted recording) only with `force`; the folder must exist and be
 * writable (proved by creating and removing the `.partial` file, so nothing
 * is left behind).
 *
 * Requires `--allow-read` and `--allow-write` for the trace's folder.
 *
 * @param path The trace's path.
 * @param manifestFile The manifest's file (`<…>` for a manifest without one).
 * @param force Whether existing files may be replaced.
 * @returns The problem, as a clause to follow "cannot record to <path>: ".
 */
export async function checkTraceTarget(
  path: string,
  manifestFile: string,
  force: boolean,
): Promise<string | undefined> {
  if (!manifestFile.startsWith("<") && await realPathOf(path) === await realPathOf(manifestFile)) {
    return "it is the manifest itself";
  }
  const partial = `${path}.partial`;
  try {
    const target = await statOf(path);
    if (target?.isDirectory) return "it is a directory; give a file path";
    if (target !== undefined && !target.isFile) return "it is not a regular file";
    if (target !== undefined && !force) {
      return "the file exists; pass --force (or force: true to boot()) to replace it";
    }
    const folder = await statOf(dirname(resolve(path)));
    if (folder === undefined) return `its folder ${dirname(resolve(path))} does not exist`;
    if (!folder.isDirectory) return `${dirname(resolve(path))} is not a folder`;
    const stale = await statOf(partial);
    if (stale !== undefined) {
      if (!force || !stale.isFile) {
        return `${partial} exists (an interrupted recording?); remove it, or pass --force`;
      }
      await Deno.remove(partial);
    }
    // The only sure test of writability is a write.
    const probe = await Deno.open(partial, { write: true, createNew: true });
    probe.close();
    await Deno.remove(partial);
    return undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      return `this program may not write there: run with --allow-write=${
        dirname(resolve(path))
      } (and --allow-read for it)`;
    }
    return `the folder is not writable: ${(error as Error).message}`;
  }
}

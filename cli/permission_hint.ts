/**
 * What to grant when Deno refused an access: the CLI runs with the
 * permissions its `deno run` line gives (scoped, as the docs show them), and
 * a refusal should say which flag to add, not only that a flag exists.
 *
 * @module
 */

/**
 * Deno's text for a refused access: `Requires read access to "/x", run again
 * with …`, or `<TMP>` for the temporary folder.
 */
const REFUSED_REGEXP =
  /Requires (read|write|net|env|run|sys|ffi|import) access to (?:"([^"]*)"|<(TMP)>)/;

/**
 * A path in a private folder a backend made for this run (`Deno.makeTempDir`
 * with an `rvhv-` prefix, as the QEMU backend's sockets): its name is new on
 * each run, so the grant is the folder that holds such folders.
 */
const FRESH_FOLDER_REGEXP = /^(.*)\/rvhv-[^/]+\/[^/]+$/;

/** Variables read together: asking for one means the next run asks for the other. */
const ENV_GROUPS: readonly (readonly string[])[] = [
  ["LOG_TOKENS", "LOG_STREAM"], // npm:yaml reads both when it parses
];

/** The flag that grants a refused access, and why it is no narrower when it could seem so. */
export interface PermissionHint {
  /** The flag, e.g. `--allow-read=/x/m.yaml`. */
  readonly flag: string;
  /** Why the flag is what it is, when that is not plain. */
  readonly why?: string;
}

/** An error and the errors behind it (`cause`), outermost first. */
function chain(error: unknown): unknown[] {
  const errors: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && errors.length < 8;) {
    errors.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return errors;
}

/**
 * The flag to add for an access Deno refused somewhere behind an error (a
 * `NotCapable`, or its message carried in a manifest or backend error):
 * `--allow-read=/x/m.yaml`, `--allow-env=LOG_TOKENS,LOG_STREAM`, or
 * `--allow-net` for a unix socket (Deno 2.9 scopes `unix:` grants to exact
 * paths, and a backend's socket gets a fresh name on each run).
 *
 * @example Usage
 * ```ts
 * import { permissionHint } from "./permission_hint.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const refused = new Deno.errors.NotCapable(
 *   'Requires env access to "LOG_TOKENS", run again with the --allow-env flag',
 * );
 * deepStrictEqual(permissionHint(refused), { flag: "--allow-env=LOG_TOKENS,LOG_STREAM" });
 * strictEqual(permissionHint(new Error("no such file")), undefined);
 * ```
 *
 * @param error What was thrown.
 * @returns The flag, or `undefined` when no access was refused.
 */
export function permissionHint(error: unknown): PermissionHint | undefined {
  for (const e of chain(error)) {
    const message = e instanceof Error ? e.message : typeof e === "string" ? e : "";
    const refused = REFUSED_REGEXP.exec(message);
    if (refused === null) continue;
    const [, kind, what = "", placeholder] = refused;
    if (placeholder === "TMP") {
      return { flag: `--allow-${kind}=/tmp`, why: "the temporary folder; $TMPDIR where it is set" };
    }
    if (kind === "net" && what.startsWith("unix:")) {
      return {
        flag: "--allow-net",
        why:
          "a unix socket: Deno scopes unix: grants to exact paths, and its name is new on each run",
      };
    }
    if (kind === "env") {
      const group = ENV_GROUPS.find((names) => names.includes(what)) ?? [what];
      return { flag: `--allow-env=${group.join(",")}` };
    }
    const fresh = FRESH_FOLDER_REGEXP.exec(what)?.[1];
    if (fresh !== undefined && (kind === "read" || kind === "write")) {
      return {
        flag: `--allow-${kind}=${fresh || "/"}`,
        why: `${what} is in a folder made for this run, with a new name each time`,
      };
    }
    return { flag: what === "" ? `--allow-${kind}` : `--allow-${kind}=${what}` };
  }
  return undefined;
}

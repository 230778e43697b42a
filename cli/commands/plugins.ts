/**
 * `plugins`: the built-in backend plugins, what each is and the permissions
 * it needs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BUILTIN_PLUGINS } from "../../manifest/registry.ts";
import { CLI_PERMISSIONS, describePlugin } from "../plugin_help.ts";
import { type CliIo, type Command, EXIT, UsageError } from "../io.ts";

const HELP = `Usage: rvhv plugins [--json]

Lists the built-in backend plugins a manifest's "backend.plugin" can name,
what each is, and the Deno permissions it needs on top of the CLI's own
(${CLI_PERMISSIONS.join(" ")}). A manifest may also name a module
specifier (./my_backend.ts, npm:, jsr:, https:) whose default export is a
HalPlugin; "<command> <manifest> --help" shows the permissions of the
plugin a manifest chose.

Options:
  --json        print JSON
  -h, --help    show this help
`;

/** The `plugins` command. */
export const pluginsCommand: Command = {
  name: "plugins",
  summary: "list the built-in backend plugins and the permissions each needs",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      options: {
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.out(HELP);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError("plugins takes no arguments");
    const plugins = await Promise.all([...BUILTIN_PLUGINS.values()].map((load) => load()));
    if (values.json) {
      io.out(
        JSON.stringify(
          {
            cli: CLI_PERMISSIONS,
            plugins: plugins.map(({ name, describe, permissions }) => ({
              name,
              describe,
              permissions,
            })),
          },
          null,
          2,
        ) + "\n",
      );
    } else {
      io.out(plugins.map((plugin) => describePlugin(plugin)).join(""));
    }
    return EXIT.ok;
  },
};

/**
 * `deno task bench`: every benchmark, one JSON line per figure on stdout
 * (name, value, unit, and the floor/target where there is one; `on` names
 * the QEMU a figure ran on), and a readable table on stderr. Everything but
 * the QEMU figures needs only Deno (the HTTP bench brings its own load
 * generator). The QEMU figures need `qemu-system-riscv64` (and
 * `gdb-multiarch` for the comparison); without them they are skipped with
 * the reason printed. The native-access figures run on QEMU 7.2 and, when
 * installed, QEMU 10.0.
 */

import { benchHttp } from "./http_bench.ts";
import { benchNative } from "./native_bench.ts";
import { benchQemu } from "./qemu_bench.ts";
import { benchReplay } from "./replay_bench.ts";
import { benchSetup } from "./setup_bench.ts";
import { benchUp } from "./up_bench.ts";
import type { Figure } from "./figure.ts";

const figures: Figure[] = [
  ...await benchSetup(),
  ...await benchUp(),
  ...await benchReplay(),
  ...await benchQemu(),
  ...await benchNative(),
  ...await benchHttp(),
];
for (const figure of figures) {
  console.log(JSON.stringify({ ...figure, value: Number(figure.value.toFixed(3)) }));
}
const width = Math.max(...figures.map((f) => f.name.length));
for (const f of figures) {
  const verdict = f.ok === undefined
    ? ""
    : f.ok
    ? `  ok (target ${f.target})`
    : `  MISSED (target ${f.target})`;
  const on = f.on === undefined ? "" : `  [${f.on}]`;
  console.error(
    `${f.name.padEnd(width)}  ${f.value.toFixed(3).padStart(10)} ${f.unit}${verdict}${on}`,
  );
}

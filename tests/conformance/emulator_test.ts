import { runHalConformance } from "../../testing/mod.ts";
import type { AxVCpuHal } from "../../hal/types.ts";
import { createEmulatorHal, type EmulatorOptions } from "../../plugins/emulator/mod.ts";
import { PROFILE_NAMES } from "../../plugins/emulator/options.ts";
import { recordHal } from "../../trace/recorder.ts";

// Every emulator profile, so the one runtime is checked under each model.
for (const profile of PROFILE_NAMES) {
  runHalConformance({
    name: `emulator (${profile})`,
    create: () => createEmulatorHal({ harts: 4, profile }),
    createWithoutH: () =>
      createEmulatorHal({ harts: 2, profile, isa: ["rv64imafdc", "rv64imafdch"] }),
  });
}

/** A recording of a fresh emulator whose trace folder goes away when it is closed. */
async function recorded(options: EmulatorOptions): Promise<AxVCpuHal> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv_conformance_" });
  const hal = await recordHal(await createEmulatorHal(options), { path: `${dir}/case.jsonl` });
  const close = hal.close.bind(hal);
  let closing: Promise<void> | undefined;
  hal.close = () => (closing ??= close().finally(() => Deno.remove(dir, { recursive: true })));
  return hal;
}

// The recorder is a backend of its own (a BackendHal forwarding to another).
runHalConformance({
  name: "recordHal over the emulator",
  create: () => recorded({ harts: 4 }),
  createWithoutH: () => recorded({ harts: 2, isa: ["rv64imafdc", "rv64imafdch"] }),
});

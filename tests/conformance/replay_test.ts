/**
 * The conformance suite on the replay backend: each case is first recorded
 * on the emulator (qemu-7.2 profile, 4 harts), then replayed strictly, so a
 * case passes only when replay answers every access as the emulator did and
 * the run consumes the whole recording.
 */

import { runHalConformance } from "../../testing/mod.ts";
import type { ConformanceContext } from "../../testing/mod.ts";
import type { AxVCpuHal } from "../../hal/types.ts";
import { createEmulatorHal, type EmulatorOptions } from "../../plugins/emulator/mod.ts";
import { createReplayHal, recordHal } from "../../plugins/replay/mod.ts";

/** Records the case on an emulator, then returns a strict replay of it that removes its folder on close. */
async function recordedThenReplayed(
  context: ConformanceContext,
  options: EmulatorOptions,
): Promise<AxVCpuHal> {
  const dir = await Deno.makeTempDir({ prefix: "rvhv_conformance_" });
  try {
    const path = `${dir}/case.jsonl`;
    const recording = await recordHal(await createEmulatorHal(options), {
      path,
    });
    await context.runCase(recording);
    const replay = await createReplayHal({ path, strict: true });
    const close = replay.close.bind(replay);
    let closing: Promise<void> | undefined;
    replay.close = () => (closing ??= close().finally(() => Deno.remove(dir, { recursive: true })));
    return replay;
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

runHalConformance({
  name: "replay (recorded from emulator qemu-7.2)",
  create: (context) => recordedThenReplayed(context, { harts: 4, profile: "qemu-7.2" }),
  createWithoutH: (context) =>
    recordedThenReplayed(context, {
      harts: 2,
      profile: "qemu-7.2",
      isa: ["rv64imafdc", "rv64imafdch"],
    }),
});

import { runHalConformance } from "../../testing/mod.ts";
import { createEmulatorHal } from "../../plugins/emulator/mod.ts";

for (const profile of ["spec", "qemu-7.2"] as const) {
  runHalConformance({
    name: `emulator (${profile})`,
    create: () => createEmulatorHal({ harts: 4, profile }),
    createWithoutH: () =>
      createEmulatorHal({ harts: 2, profile, isa: ["rv64imafdc", "rv64imafdch"] }),
  });
}

import { deepStrictEqual, match, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { machineOf } from "./emulator_hal.ts";
import { CSR } from "../../hal/csr_numbers.ts";
import { AxError } from "../../hal/errors.ts";
import emulatorPlugin, { createEmulatorHal } from "./mod.ts";
import { BYTES_PER_HART } from "./machine.ts";
import { parseEmulatorOptions } from "./options.ts";

const optionError = (path: string[]) => (e: unknown) =>
  e instanceof TypeError &&
  JSON.stringify((e as TypeError & { path: string[] }).path) === JSON.stringify(path);

Deno.test("createEmulatorHal() defaults: 1 hart, rv64imafdch, spec, opensbi", async () => {
  const hal = await createEmulatorHal();
  deepStrictEqual(hal.harts, [0]);
  const info = hal.info();
  strictEqual(info.backend, "emulator");
  strictEqual(info.isa, "rv64imafdch");
  strictEqual(info.profile, "spec");
  strictEqual(info.firmware, "opensbi-1.1");
  deepStrictEqual(info.params, {
    geilen: 0,
    vmidlen: 14,
    hgatpModes: ["bare", "sv39x4", "sv48x4"],
    hcounterenBits: 32,
  });
  strictEqual(await hal.csr.read(0, CSR.mideleg), 0x666n);
  strictEqual(await hal.csr.read(0, CSR.medeleg), 0xf0b509n);
  strictEqual((await hal.csr.read(0, CSR.mip)) & 0x80n, 0n, "OpenSBI moved mtimecmp: no MTIP");
  await hal.close();
});

Deno.test("the emulator keeps MTIP pending without firmware", async () => {
  const hal = await createEmulatorHal({ firmware: "none" });
  strictEqual(await hal.csr.read(0, CSR.mip), 0x80n);
  strictEqual(await hal.csr.read(0, CSR.medeleg), 0n);
  await hal.close();
});

Deno.test("a mixed system reports each hart's ISA and misa", async () => {
  const hal = await createEmulatorHal({
    harts: 2,
    isa: ["rv64imafdch", "rv64imac"],
    profile: "qemu-7.2",
  });
  deepStrictEqual(hal.info().isas, ["rv64imafdch", "rv64imac"]);
  strictEqual(await hal.csr.read(0, CSR.misa), 0x80000000001411adn);
  strictEqual(await hal.csr.read(1, CSR.misa), 0x8000000000141105n);
  // OpenSBI delegates the H-only exceptions only on the hart with H.
  strictEqual(await hal.csr.read(0, CSR.medeleg), 0xf0b509n);
  strictEqual(await hal.csr.read(1, CSR.medeleg), 0xb109n);
  await hal.close();
});

Deno.test("EmulatorHal.reset() returns every hart to the firmware state", async () => {
  const hal = await createEmulatorHal({ harts: 2 });
  await hal.csr.write(1, CSR.hedeleg, 0xffn);
  await hal.reset();
  strictEqual(await hal.csr.read(1, CSR.hedeleg), 0n);
  strictEqual(await hal.csr.read(1, CSR.medeleg), 0xf0b509n);
  await hal.close();
  await rejects(hal.reset(), (e) => e instanceof AxError && e.kind === "BadState");
});

Deno.test("CSRs the emulator does not model reject Unsupported, not a fake trap", async () => {
  const hal = await createEmulatorHal({ profile: "qemu-7.2" });
  const error = await hal.csr.read(0, CSR.pmpcfg0).then(() => undefined, (e) => e);
  ok(error instanceof AxError);
  strictEqual(error.kind, "Unsupported");
  match(error.message, /pmpcfg0.*qemu-7\.2 profile does not model it/);
  await rejects(hal.csr.read(0, CSR.marchid), /depend on the QEMU build/);
  // A CSR the hart really lacks traps.
  await rejects(
    hal.csr.read(0, CSR.hvien),
    (e) => e instanceof AxError && e.kind === "Unsupported" && "trapCause" in e,
  );
  await hal.close();
});

Deno.test("the emulator's frames and address translation", async () => {
  const hal = await createEmulatorHal({ ram: { base: "0x80000000", size: 8192 } });
  const a = hal.allocFrame()!;
  strictEqual(a, 0x8000_0000n);
  strictEqual(hal.physToVirt(a), 0xffff_ffc0_8000_0000n);
  strictEqual(hal.virtToPhys(0xffff_ffc0_8000_1234n), 0x8000_1234n);
  throws(() => hal.physToVirt(0x1000n), (e) => e instanceof AxError && e.kind === "InvalidInput");
  hal.allocFrame();
  strictEqual(hal.allocFrame(), undefined);
  strictEqual(hal.irqFetch(), 0);
  await hal.close();
});

Deno.test("parseEmulatorOptions() names the offending option", () => {
  throws(() => parseEmulatorOptions({ harts: 0 }), optionError(["harts"]));
  throws(() => parseEmulatorOptions({ harts: 2.5 }), optionError(["harts"]));
  throws(() => parseEmulatorOptions({ hart: 2 }), optionError(["hart"]));
  throws(() => parseEmulatorOptions({ harts: 2, isa: ["rv64imafdch"] }), optionError(["isa"]));
  throws(
    () => parseEmulatorOptions({ harts: 2, isa: ["rv64imafdch", "rv32i"] }),
    optionError(["isa", "1"]),
  );
  throws(() => parseEmulatorOptions({ isa: "rv64imafdch_zzz" }), optionError(["isa"]));
  throws(() => parseEmulatorOptions({ profile: "qemu-9.2" }), optionError(["profile"]));
  throws(() => parseEmulatorOptions({ firmware: "uboot" }), optionError(["firmware"]));
  throws(() => parseEmulatorOptions({ ram: { size: 100 } }), optionError(["ram", "size"]));
  throws(() => parseEmulatorOptions({ spec: { geilen: 64 } }), optionError(["spec", "geilen"]));
  throws(
    () => parseEmulatorOptions({ spec: { hgatpModes: ["sv32x4"] } }),
    optionError(["spec", "hgatpModes", "0"]),
  );
  throws(() => parseEmulatorOptions("four"), optionError([]));
});

Deno.test("the emulator plugin describes itself and needs no permissions", async () => {
  strictEqual(emulatorPlugin.name, "emulator");
  deepStrictEqual(emulatorPlugin.permissions, []);
  const hal = await emulatorPlugin.create(emulatorPlugin.parseOptions({ harts: 3 }));
  strictEqual(hal.harts.length, 3);
  await hal.close();
});

Deno.test("a hart costs 384 bytes of CSR state", async () => {
  strictEqual(BYTES_PER_HART, 384);
  const hal = await createEmulatorHal({ harts: 4096 });
  strictEqual(machineOf(hal).slots.byteLength, 4096 * BYTES_PER_HART);
  await hal.close();
});

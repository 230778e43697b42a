/**
 * The CSR probes the QEMU notes tabulate (read, write ~0, read, write 0,
 * read; each row in a fresh machine), run against an emulator profile so a
 * profile test is its table of observed values.
 */

import { deepStrictEqual } from "node:assert/strict";
import { CSR, type CsrName } from "../../hal/csr_numbers.ts";
import type { EmulatorHal } from "../../plugins/emulator/emulator_hal.ts";

/** All 64 bits set. */
export const ONES = (1n << 64n) - 1n;

/** The hart the probes run on (hart 1 of a 2-hart machine, as in the notes). */
const PROBED_HART = 1;

/** [CSR, reset read, read after writing ~0, read after writing 0]. */
export type ReadBackRow = readonly [CsrName, bigint, bigint, bigint];

/**
 * [setup label, delegation CSRs written with ~0 first, CSR, reset read,
 * read after writing ~0, read after writing 0].
 */
export type DependentRow = readonly [string, readonly CsrName[], CsrName, bigint, bigint, bigint];

/**
 * Reads a CSR, writes all ones, reads, writes zero, reads.
 *
 * @param hal The machine.
 * @param hart The hart.
 * @param csr The CSR.
 * @returns The three reads.
 */
async function onesThenZero(
  hal: EmulatorHal,
  hart: number,
  csr: number,
): Promise<bigint[]> {
  const seen = [await hal.csr.read(hart, csr)];
  await hal.csr.write(hart, csr, ONES);
  seen.push(await hal.csr.read(hart, csr));
  await hal.csr.write(hart, csr, 0n);
  seen.push(await hal.csr.read(hart, csr));
  return seen;
}

/**
 * One step per row: the CSR's three reads in a fresh machine.
 *
 * @param t The test context.
 * @param rows The observed values.
 * @param fresh Creates the machine a row runs in.
 */
export async function checkReadBacks(
  t: Deno.TestContext,
  rows: readonly ReadBackRow[],
  fresh: () => Promise<EmulatorHal>,
): Promise<void> {
  for (const [name, reset, ones, zero] of rows) {
    await t.step(name, async () => {
      const hal = await fresh();
      deepStrictEqual(await onesThenZero(hal, PROBED_HART, CSR[name]), [reset, ones, zero]);
      await hal.close();
    });
  }
}

/**
 * One step per row: the delegation CSRs written with ~0, then the CSR's
 * three reads, in a fresh machine.
 *
 * @param t The test context.
 * @param rows The observed values.
 * @param fresh Creates the machine a row runs in.
 */
export async function checkDependents(
  t: Deno.TestContext,
  rows: readonly DependentRow[],
  fresh: () => Promise<EmulatorHal>,
): Promise<void> {
  for (const [setup, delegation, name, before, ones, zero] of rows) {
    await t.step(`${setup}: ${name}`, async () => {
      const hal = await fresh();
      for (const deleg of delegation) await hal.csr.write(PROBED_HART, CSR[deleg], ONES);
      deepStrictEqual(await onesThenZero(hal, PROBED_HART, CSR[name]), [before, ones, zero]);
      await hal.close();
    });
  }
}

/**
 * Test backends that forward to a real one except where a test replaces a
 * piece: a drifting read, a failing batch, a slow hart, a different `info()`.
 */

import type { AxVCpuHal, CsrPort } from "../../hal/types.ts";

/**
 * A CSR port that forwards every access to `inner` except those `overrides` replaces.
 *
 * @param inner The port to forward to.
 * @param overrides The accesses to replace.
 * @returns The port.
 */
export function forwardingPort(inner: CsrPort, overrides: Partial<CsrPort>): CsrPort {
  return {
    read: (hart, csr) => inner.read(hart, csr),
    write: (hart, csr, value) => inner.write(hart, csr, value),
    set: (hart, csr, mask) => inner.set(hart, csr, mask),
    clear: (hart, csr, mask) => inner.clear(hart, csr, mask),
    batch: (hart, ops) => inner.batch(hart, ops),
    ...overrides,
  };
}

/**
 * A backend that forwards everything to `inner` except what `overrides` replaces.
 *
 * @param inner The backend to forward to.
 * @param overrides The services to replace.
 * @returns The backend.
 */
export function forwardingHal(
  inner: AxVCpuHal,
  overrides: Partial<Pick<AxVCpuHal, "csr" | "info" | "close">>,
): AxVCpuHal {
  return {
    harts: inner.harts,
    csr: overrides.csr ?? inner.csr,
    info: overrides.info ?? (() => inner.info()),
    allocFrame: () => inner.allocFrame(),
    deallocFrame: (pa) => inner.deallocFrame(pa),
    physToVirt: (pa) => inner.physToVirt(pa),
    virtToPhys: (va) => inner.virtToPhys(va),
    irqFetch: () => inner.irqFetch(),
    close: overrides.close ?? (() => inner.close()),
  };
}

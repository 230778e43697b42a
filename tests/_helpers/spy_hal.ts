/**
 * A HAL wrapper for tests: records every CSR operation sent to the inner
 * backend, and can make chosen operations trap.
 */

import type { AxVCpuHal, CsrNum, CsrOp, CsrPort, CsrResult, HartId } from "../../hal/types.ts";
import { forwardingHal } from "./forwarding_hal.ts";
import { CsrTrap } from "../../hal/errors.ts";

/** One recorded operation. */
export interface SpyOp {
  hart: HartId;
  op: CsrOp["op"];
  csr: CsrNum;
  value?: bigint;
}

/** Decides whether an operation traps (returns the cause) instead of reaching the inner backend. */
export type TrapRule = (hart: HartId, op: CsrOp) => number | undefined;

/** A backend that records what reaches `inner` (everything but `csr` and `close` is forwarded). */
export class SpyHal implements AxVCpuHal {
  readonly ops: SpyOp[] = [];
  readonly csr: CsrPort;
  closed = 0;
  readonly harts: readonly HartId[];
  readonly info: AxVCpuHal["info"];
  readonly allocFrame: AxVCpuHal["allocFrame"];
  readonly deallocFrame: AxVCpuHal["deallocFrame"];
  readonly physToVirt: AxVCpuHal["physToVirt"];
  readonly virtToPhys: AxVCpuHal["virtToPhys"];
  readonly irqFetch: AxVCpuHal["irqFetch"];
  readonly close: AxVCpuHal["close"];

  constructor(inner: AxVCpuHal, trap: TrapRule = () => undefined) {
    const record = (hart: HartId, op: CsrOp) => {
      this.ops.push({
        hart,
        op: op.op,
        csr: op.csr,
        ...("value" in op ? { value: op.value } : {}),
      });
    };
    const single = (hart: HartId, op: CsrOp, run: () => Promise<bigint>): Promise<bigint> => {
      record(hart, op);
      const cause = trap(hart, op);
      if (cause !== undefined) {
        return Promise.reject(new CsrTrap({ hart, csr: op.csr, trapCause: cause, op: op.op }));
      }
      return run();
    };
    this.csr = {
      read: (hart, csr) => single(hart, { op: "read", csr }, () => inner.csr.read(hart, csr)),
      write: (hart, csr, value) =>
        single(hart, { op: "write", csr, value }, () => inner.csr.write(hart, csr, value)),
      set: (hart, csr, value) =>
        single(hart, { op: "set", csr, value }, () => inner.csr.set(hart, csr, value)),
      clear: (hart, csr, value) =>
        single(hart, { op: "clear", csr, value }, () => inner.csr.clear(hart, csr, value)),
      batch: async (hart, ops): Promise<CsrResult[]> => {
        const results: CsrResult[] = [];
        for (const op of ops) {
          record(hart, op);
          const cause = trap(hart, op);
          if (cause !== undefined) {
            results.push({ ok: false, trapCause: cause });
            continue;
          }
          const [result] = await inner.csr.batch(hart, [op]);
          results.push(result!);
        }
        return results;
      },
    };
    const forwarded = forwardingHal(inner, {
      close: () => {
        this.closed++;
        return inner.close();
      },
    });
    ({
      harts: this.harts,
      info: this.info,
      allocFrame: this.allocFrame,
      deallocFrame: this.deallocFrame,
      physToVirt: this.physToVirt,
      virtToPhys: this.virtToPhys,
      irqFetch: this.irqFetch,
      close: this.close,
    } = forwarded);
  }

  /** The operations that change state (everything but reads). */
  writes(hart?: HartId): SpyOp[] {
    return this.ops.filter((o) => o.op !== "read" && (hart === undefined || o.hart === hart));
  }
}

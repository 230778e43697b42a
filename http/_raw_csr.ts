/**
 * The backend routes: the backend's `info()` and harts, and raw CSR batches
 * on any hart (what the `remote` example plugin drives). Raw CSR access
 * writes any CSR, so it is served only when the app has a token.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";
import { hex, parseHex } from "../hal/hex.ts";
import type { AxVCpuHal, CsrOp, CsrResult, HalInfo, HartId } from "../hal/types.ts";
import { parseHartId } from "./_live.ts";

/** The body of `GET /api/backend`. */
export interface BackendDescription {
  /** The backend's `info()`. */
  info: HalInfo;
  /** Every hart the backend has (not only the harts set up). */
  harts: readonly HartId[];
}

/** One operation of `POST /api/backend/harts/:id/csr`, values as `0x…` strings. */
export interface WireCsrOp {
  /** `read`, `write`, `set` or `clear`. */
  op: CsrOp["op"];
  /** The CSR address (a number). */
  csr: number;
  /** The value or mask for `write`, `set` and `clear`. */
  value?: string;
}

/** One result of a raw CSR batch, values as `0x…` strings. */
export type WireCsrResult = { ok: true; value: string } | { ok: false; trapCause: number };

/** The most operations one raw batch may carry. */
export const MAX_WIRE_OPS = 256;

/**
 * Converts a batch result to its wire form.
 *
 * @param result A CSR result.
 * @returns The same with the value as a hex string.
 */
export function toWireResult(result: CsrResult): WireCsrResult {
  return result.ok ? { ok: true, value: hex(result.value) } : result;
}

/**
 * Reads and checks a raw batch body: `{ ops: WireCsrOp[] }`.
 *
 * @param body The parsed JSON body.
 * @param hart The hart, for messages.
 * @returns The operations.
 * @throws {AxError} Kind `"InvalidInput"` for a malformed body.
 */
export function fromWireOps(body: unknown, hart: HartId): CsrOp[] {
  const where = `Cannot run a CSR batch on hart ${hart}`;
  const ops = (body as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(ops)) {
    throw new AxError("InvalidInput", `${where}: the body must be { "ops": [...] }`);
  }
  if (ops.length > MAX_WIRE_OPS) {
    throw new AxError("InvalidInput", `${where}: at most ${MAX_WIRE_OPS} operations per batch`);
  }
  return ops.map((raw: unknown, i): CsrOp => {
    const op = raw as Partial<WireCsrOp> | null;
    const csr = op?.csr;
    if (typeof csr !== "number") {
      throw new AxError("InvalidInput", `${where}: operation ${i} has no numeric "csr"`);
    }
    if (op?.op === "read") return { op: "read", csr };
    if (op?.op === "write" || op?.op === "set" || op?.op === "clear") {
      if (typeof op.value !== "string") {
        throw new AxError("InvalidInput", `${where}: operation ${i} needs a "value" such as "0x1"`);
      }
      let value: bigint;
      try {
        value = parseHex(op.value);
      } catch (error) {
        throw new AxError("InvalidInput", `${where}: operation ${i}: ${(error as Error).message}`);
      }
      return { op: op.op, csr, value };
    }
    throw new AxError(
      "InvalidInput",
      `${where}: operation ${i} has op ${
        JSON.stringify(op?.op)
      }; expected read, write, set or clear`,
    );
  });
}

/**
 * `GET /api/backend`.
 *
 * @param hal The backend.
 * @returns The backend's info and harts.
 */
export function describeBackend(hal: AxVCpuHal): BackendDescription {
  return { info: hal.info(), harts: hal.harts };
}

/**
 * `POST /api/backend/harts/:id/csr`: runs a raw batch on the backend.
 *
 * @param hal The backend.
 * @param request The route's `:id` and the body as text.
 * @param hasToken Whether the app requires a token (raw access needs one).
 * @returns `{ results }`.
 */
export async function runRawBatch(
  hal: AxVCpuHal,
  request: { id: string; body: string },
  hasToken: boolean,
): Promise<{ results: WireCsrResult[] }> {
  if (!hasToken) {
    throw new AxError(
      "Unsupported",
      "Cannot run raw CSR operations: the server has no token; start it with --token " +
        "(raw access can write any CSR of any hart)",
    );
  }
  const hart = parseHartId(request.id);
  let body: unknown;
  try {
    body = JSON.parse(request.body);
  } catch (error) {
    throw new AxError(
      "InvalidInput",
      `Cannot run a CSR batch on hart ${hart}: the body is not JSON`,
      {
        cause: error,
      },
    );
  }
  const results = await hal.csr.batch(hart, fromWireOps(body, hart));
  return { results: results.map(toWireResult) };
}

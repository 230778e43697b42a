/**
 * The JSON bodies of the mutating routes (module-internal): enable, disable
 * and unbind take an empty body or `{}`; bind takes `{ "vm": n }`.
 *
 * @module
 */

import { AxError } from "../hal/errors.ts";

/**
 * Reads a body that must be empty or a JSON object with only the given
 * fields (an empty body reads as `{}`).
 *
 * @param text The body as text.
 * @param action What the route does, for messages (`bind a vCPU on hart 2`).
 * @param fields The fields the route takes.
 * @param shape How the body should look, for messages (`{}`, `{ "vm": n }`).
 * @returns The object.
 * @throws {AxError} Kind `"InvalidInput"` for a body that is not such an object.
 */
export function readObjectBody(
  text: string,
  action: string,
  fields: readonly string[],
  shape: string,
): Record<string, unknown> {
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new AxError(
      "InvalidInput",
      `Cannot ${action}: the body is not JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new AxError(
      "InvalidInput",
      `Cannot ${action}: the body must be a JSON object (${shape})`,
    );
  }
  const unknown = Object.keys(body).find((key) => !fields.includes(key));
  if (unknown !== undefined) {
    throw new AxError(
      "InvalidInput",
      `Cannot ${action}: unknown field "${unknown}" in the body (expected ${shape})`,
    );
  }
  return body as Record<string, unknown>;
}

/**
 * Reads the body of bind: `{ "vm": n }` with `n` a non-negative integer.
 *
 * @param text The body as text.
 * @param action What the route does, for messages.
 * @returns The VM id.
 * @throws {AxError} Kind `"InvalidInput"` for any other body.
 */
export function readVmBody(text: string, action: string): number {
  const shape = '{ "vm": n }';
  const { vm } = readObjectBody(text, action, ["vm"], shape);
  if (vm === undefined) {
    throw new AxError("InvalidInput", `Cannot ${action}: the body needs "vm" (${shape})`);
  }
  if (typeof vm !== "number" || !Number.isSafeInteger(vm) || vm < 0) {
    throw new AxError(
      "InvalidInput",
      `Cannot ${action}: "vm" must be a non-negative integer, got ${JSON.stringify(vm)}`,
    );
  }
  return vm;
}

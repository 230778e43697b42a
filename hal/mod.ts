/**
 * The hardware abstraction's public part: the contracts, the CSR facts a
 * caller names, the error tree, and the plugin API (`BackendHal`).
 *
 * @module
 */

export type {
  AxArchPerCpu,
  AxVCpuHal,
  CsrNum,
  CsrOp,
  CsrPort,
  CsrResult,
  HalInfo,
  HalPlugin,
  HartId,
  PerCpuState,
  TraceRecording,
} from "./types.ts";
export { BackendHal, type HalBackend } from "./backend_hal.ts";
export { stopAllChildProcesses, trackChildProcess } from "./child_processes.ts";
export { CSR, csrName, csrNumber, isReadOnlyCsr } from "./csr_numbers.ts";
export { Exception, exceptionMask, Interrupt, interruptMask } from "./trap_bits.ts";
export { ALL_ONES, VS_INTERRUPTS } from "./csr_fields.ts";
export {
  AxError,
  type AxErrorKind,
  CsrTrap,
  GdbProtocolError,
  invalidOption,
  ManifestError,
  QmpError,
  TraceDivergence,
  TraceFormatError,
} from "./errors.ts";
export { type AxResult, axResult } from "./result.ts";
export { hex, parseHex, toJsonValue } from "./hex.ts";
export type { IsaSpec } from "./isa.ts";

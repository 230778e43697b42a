/**
 * The hardware abstraction: contracts, CSR numbers, trap bits, the error
 * tree, CSR building blocks, firmware presets and the frame allocator.
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
export {
  assertCsrNumber,
  CSR,
  type CsrName,
  csrName,
  csrNumber,
  isHypervisorCsr,
  isReadOnlyCsr,
} from "./csr_numbers.ts";
export {
  bitNames,
  causeMask,
  causeNumber,
  Exception,
  exceptionMask,
  type ExceptionName,
  exceptionName,
  Interrupt,
  interruptMask,
  type InterruptName,
  interruptName,
} from "./trap_bits.ts";
export {
  AxError,
  type AxErrorKind,
  type AxErrorOptions,
  CsrTrap,
  type CsrTrapInit,
  GdbProtocolError,
  invalidOption,
  ManifestError,
  type ManifestErrorInit,
  QmpError,
  type QmpErrorInit,
  TraceDivergence,
  type TraceDivergenceInit,
  TraceFormatError,
  type TraceFormatErrorInit,
} from "./errors.ts";
export { type AxResult, axResult } from "./result.ts";
export { hex, parseHex } from "./hex.ts";
export { type IsaSpec, misaOf, parseIsa } from "./isa.ts";
export {
  ConstCsr,
  Csr,
  type CsrEntry,
  CsrFile,
  type CsrPredicate,
  type DynamicMask,
  featuresOf,
  FunctionCsr,
  type FunctionCsrHooks,
  HartContext,
  type HartFeatures,
  MaskedCsr,
  ViewCsr,
  type ViewOptions,
} from "./csr_blocks.ts";
export { BackendHal, type CheckedCsrOp, type HalBackend } from "./backend_hal.ts";
export {
  ALL_ONES,
  HEDELEG_READ_ONLY_ZERO,
  HIDELEG_READ_ONLY_ZERO,
  MEDELEG_READ_ONLY_ZERO,
  VS_INTERRUPTS,
} from "./csr_fields.ts";
export { FRAME_SIZE, FrameAllocator, type RamRegion } from "./frame_allocator.ts";
export { DEFAULT_PHYS_VIRT_OFFSET, HostMemory } from "./host_memory.ts";
export {
  FIRMWARE_NAMES,
  FIRMWARE_PRESETS,
  type FirmwareName,
  type FirmwarePreset,
  type FirmwarePresetName,
  type FirmwareWrite,
  resolveFirmware,
} from "./firmware.ts";

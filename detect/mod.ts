/**
 * H-extension detection: the reference's trap probe of `hgatp`, a report
 * that cross-checks `misa`, and a per-backend cache.
 *
 * @module
 */

export {
  detectHExtension,
  type DetectReport,
  detectReport,
  hasHardwareSupport,
} from "./h_extension.ts";

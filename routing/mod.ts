/**
 * Trap routing: where each exception and interrupt of a hart ends up (M, HS
 * or VS), computed from medeleg, mideleg, hedeleg and hideleg as the
 * privileged spec defines delegation, with the OpenSBI firmware's redirect as
 * a second, effective destination.
 *
 * Needs no permissions; {@linkcode readDelegation} needs those of the backend.
 *
 * @module
 */

export {
  type DelegationCsrs,
  routeTrap,
  type TrapLevel,
  type TrapOrigin,
  type TrapRoute,
} from "./route_trap.ts";
export { readDelegation } from "./route_table.ts";

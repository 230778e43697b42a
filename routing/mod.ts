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
  type EffectiveRoute,
  type FirmwareModel,
  routeTrap,
  type RouteTrapOptions,
  TRAP_ORIGINS,
  type TrapInput,
  type TrapLevel,
  type TrapOrigin,
  type TrapRoute,
} from "./route_trap.ts";
export {
  describeRoutes,
  firmwareModel,
  GRID_EXCEPTIONS,
  GRID_INTERRUPTS,
  readDelegation,
  type RouteRow,
  type RoutesDescription,
  routeTable,
  type RouteTableOptions,
} from "./route_table.ts";

import type { Address, FdbEntry, Link, LinkSpec, Neighbour, Route } from "../api.js";

/**
 * The kernel state a writer wants in one namespace, as plain data. It is diffed against the
 * kernel and only the difference is applied (never a flush), so restarts and outages leave
 * running traffic alone.
 */
export interface DesiredState {
  /** Devices the writer owns (created if absent, replaced if another identity; settings corrected). */
  readonly devices: readonly LinkSpec[];
  /** Addresses on owned devices: [device, cidr]. */
  readonly addresses: readonly (readonly [string, string])[];
  /** Routes it owns (tagged with strataRouteProto when installed). */
  readonly routes: readonly Route[];
  readonly neighbours: readonly Neighbour[];
  readonly fdb: readonly FdbEntry[];
}

/** What the kernel has now, as far as a desired state is concerned (read by observe()). */
export interface ObservedState {
  readonly links: readonly Link[];
  readonly addresses: readonly Address[];
  readonly routes: readonly Route[];
  readonly neighbours: readonly Neighbour[];
  readonly fdb: readonly FdbEntry[];
}

export const noDesiredState: DesiredState = {
  devices: [],
  addresses: [],
  routes: [],
  neighbours: [],
  fdb: [],
};

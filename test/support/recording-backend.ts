import type { Backend, BackendContext } from "../../src/backends/api.js";
import type { NodeLease } from "../../src/cluster/node-lease.js";
import type { Route } from "../../src/kernel/api.js";
import { noDesiredState } from "../../src/kernel/desired/state.js";

/**
 * A backend for agent tests that plans nothing and records when it is told of peers; `signal()`
 * tells the agent the backend has route changes (what a BGP UPDATE does), with none to hand on.
 */
export function recordingBackend(): {
  readonly backend: Backend;
  readonly told: { at: number; peers: string[] }[];
  /** The peers the agent said came alive (peersAlive), in order. */
  readonly cameAlive: string[];
  signal(): void;
} {
  const told: { at: number; peers: string[] }[] = [];
  const cameAlive: string[] = [];
  let ctx: BackendContext | undefined;
  const backend: Backend = {
    name: "recording",
    podMtu: (mtu) => mtu,
    localBackendData: () => ({}),
    desired: () => ({ ...noDesiredState, unreachable: [] }),
    start: async (c) => {
      ctx = c;
    },
    takeRouteChanges: () => new Map<string, Route | undefined>(),
    peersChanged: (_local, peers) => {
      told.push({ at: Date.now(), peers: peers.map((p: NodeLease) => p.node) });
    },
    peersAlive: (peers) => {
      cameAlive.push(...peers.map((p) => p.node));
    },
  };
  return { backend, told, cameAlive, signal: () => ctx?.onChange() };
}

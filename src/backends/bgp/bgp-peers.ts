import type { PeerConfig } from "../../bgp/speaker/speaker.js";
import type { NodeLease } from "../../cluster/node-lease.js";
import { compareAddresses } from "../../common/cidr.js";

export interface BgpTopology {
  readonly asn: number;
  /** Node-to-node sessions: every pair (full mesh), or only through the reflectors. */
  readonly mesh: boolean;
  /** Names of the nodes that reflect (RFC 4456); empty: full mesh. */
  readonly routeReflectors: readonly string[];
  /** Peers outside the cluster (a top-of-rack router), as configured. */
  readonly external: readonly PeerConfig[];
  /** Port other nodes' speakers listen on (179 when absent). */
  readonly port?: number;
  /** The mesh's TCP-MD5 key (RFC 2385), on every node-to-node session. */
  readonly meshMd5Key?: Uint8Array;
}

/**
 * Pure: the BGP sessions `self` keeps, from every node's lease. Full mesh: each other node, dialled
 * only by the node with the lower address so a pair makes one connection (the other listens;
 * IPv6 addresses on an IPv6-only cluster, compared numerically as IPv4 ones are).
 * Route-reflector mode: reflectors peer with every node (clients) and with each other
 * (non-clients); the other nodes peer only with the reflectors — about 2n sessions, not n²/2.
 */
export function clusterPeers(self: NodeLease, nodes: readonly NodeLease[], t: BgpTopology): PeerConfig[] {
  const out: PeerConfig[] = [...t.external];
  if (!t.mesh) return out;
  const reflectors = new Set(t.routeReflectors);
  const iAmReflector = reflectors.has(self.node);
  for (const n of nodes) {
    if (n.node === self.node) continue;
    const theyReflect = reflectors.has(n.node);
    if (reflectors.size > 0 && !iAmReflector && !theyReflect) continue;
    out.push(meshPeer(self, n, t, iAmReflector && !theyReflect));
  }
  return out;
}

/**
 * The last session configuration `self` made for each lease, with the terms it was made on: a lease
 * change hands every lease to clusterPeers again, and the speaker keeps a session whose
 * configuration is the same object without comparing it (samePeerConfig). By `self` first: the
 * agents of one agent host share lease objects (lease-validation.ts), each with its own sessions.
 */
const madeBy = new WeakMap<
  NodeLease,
  WeakMap<NodeLease, { readonly terms: string; readonly key?: Uint8Array; readonly config: PeerConfig }>
>();

function meshPeer(self: NodeLease, n: NodeLease, t: BgpTopology, rrClient: boolean): PeerConfig {
  const terms = `${t.asn} ${t.port} ${rrClient}`;
  const made = madeBy.get(self) ?? new WeakMap();
  madeBy.set(self, made);
  const last = made.get(n);
  if (last && last.terms === terms && last.key === t.meshMd5Key) return last.config;
  const config: PeerConfig = {
    address: n.publicIp,
    asn: t.asn,
    port: t.port,
    rrClient,
    passive: compareAddresses(self.publicIp, n.publicIp) > 0,
    ...(t.meshMd5Key ? { md5Key: t.meshMd5Key } : {}),
  };
  made.set(n, { terms, ...(t.meshMd5Key ? { key: t.meshMd5Key } : {}), config });
  return config;
}

/**
 * Pure: the session addresses of the nodes whose agents are not known alive (no heartbeat seen
 * yet): their speakers may not listen yet. Nothing when liveness is not known (not read yet, or
 * the datastore unreachable): then every peer is dialled as before.
 */
export function addressesNotAlive(
  peers: readonly NodeLease[],
  alive: ReadonlySet<string> | undefined,
): Set<string> | undefined {
  if (!alive) return undefined;
  const out = new Set<string>();
  for (const p of peers) {
    if (alive.has(p.node)) continue;
    out.add(p.publicIp);
    if (p.publicIp6) out.add(p.publicIp6);
  }
  return out;
}

import type { PathAttributes } from "../codec/types.js";
import type { Path, PeerInfo } from "./path.js";

export interface LocalSpeaker {
  readonly asn: number;
  readonly routerId: string;
  /** Set when this speaker is a route reflector (RFC 4456). */
  readonly clusterId?: string;
}

/**
 * RFC 4456 §8 loop checks on receipt: a route carrying our own router id as ORIGINATOR_ID, or our
 * cluster id in its CLUSTER_LIST, has come back to us and is ignored.
 */
export function isReflectionLoop(local: LocalSpeaker, attrs: PathAttributes): boolean {
  if (attrs.originatorId === local.routerId) return true;
  const cluster = local.clusterId ?? local.routerId;
  return (attrs.clusterList ?? []).includes(cluster);
}

/** Whether the best path for a prefix goes to `to` (RFC 4271 §9.2 plus RFC 4456 §6). */
export function shouldAdvertise(local: LocalSpeaker, path: Path, to: PeerInfo): boolean {
  const from = path.from;
  if (from && from.id === to.id) return false; // never back to the peer it came from
  if (!to.ibgp) return true; // eBGP peers get every best path
  if (!from?.ibgp) return true; // local or eBGP-learned routes go to every iBGP peer
  // iBGP-learned: only a route reflector passes it on.
  if (local.clusterId === undefined) return false;
  // From a client: to clients and non-clients. From a non-client: to clients only.
  return from.rrClient || to.rrClient;
}

/** Attributes as sent to `to`: reflection stamps ORIGINATOR_ID and prepends our CLUSTER_ID (§8). */
export function exportAttributes(local: LocalSpeaker, path: Path, to: PeerInfo): PathAttributes {
  const a = path.attributes;
  if (!to.ibgp) {
    // eBGP: our AS goes first; LOCAL_PREF and reflection attributes stay inside the AS. A MED
    // learned from a neighbouring AS is not passed to another one (RFC 4271 §5.1.4); only ours
    // (a locally originated route's) goes out.
    const { localPref: _lp, originatorId: _o, clusterList: _c, med, ...rest } = a;
    const first = a.asPath?.[0];
    const asPath =
      first?.type === "sequence"
        ? [{ type: "sequence" as const, asns: [local.asn, ...first.asns] }, ...(a.asPath ?? []).slice(1)]
        : [{ type: "sequence" as const, asns: [local.asn] }, ...(a.asPath ?? [])];
    return { ...rest, ...(med !== undefined && !path.from ? { med } : {}), asPath };
  }
  const reflected = path.from?.ibgp && local.clusterId !== undefined;
  if (!reflected) return { localPref: 100, ...a };
  return {
    ...a,
    originatorId: a.originatorId ?? path.from?.routerId,
    clusterList: [local.clusterId as string, ...(a.clusterList ?? [])],
  };
}

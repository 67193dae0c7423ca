import type { Datastore } from "../datastore/api.js";

/**
 * Liveness, kept apart from ownership: each agent keeps one key `/strata/heartbeats/<node>` on a
 * short datastore lease. The key vanishes a heartbeat TTL after the agent stops renewing it; the
 * node's subnet lease (ownership, hours) and therefore its routes on every other node stay. A
 * missing heartbeat is reported (status, metrics), never by itself a reason to remove a route.
 */
export const heartbeatPrefix = "/strata/heartbeats/";
export const heartbeatKey = (node: string): string => `${heartbeatPrefix}${node}`;

// Kubernetes node names (RFC 1123 subdomains), as lease-validation checks them: a key under the
// prefix that is not one is ignored (nobody but root writes here, but a store is data, not trust).
const nodeName = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/** This node's heartbeat: `beat()` on a timer (every TTL/3); `stop()` on a clean shutdown. */
export class NodeHeartbeat {
  #lease: string | undefined;

  constructor(
    private readonly store: Datastore,
    private readonly node: string,
    private readonly ttlSeconds: number,
  ) {}

  /** Renew the heartbeat's lease; when it expired (agent paused, store outage), write the key anew. */
  async beat(): Promise<void> {
    if (this.#lease && (await this.store.keepAlive(this.#lease))) return;
    const lease = await this.store.grantLease(this.ttlSeconds);
    await this.store.put(heartbeatKey(this.node), JSON.stringify({ node: this.node, since: Date.now() }), {
      lease,
    });
    this.#lease = lease;
  }

  async stop(): Promise<void> {
    if (this.#lease) await this.store.revokeLease(this.#lease);
    this.#lease = undefined;
  }
}

/** Names of the nodes whose heartbeat key exists now. */
export async function aliveNodes(store: Datastore): Promise<Set<string>> {
  const { items } = await store.list(heartbeatPrefix);
  return new Set(
    items.map((kv) => kv.key.slice(heartbeatPrefix.length)).filter((name) => nodeName.test(name)),
  );
}

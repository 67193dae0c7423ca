import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { TestNamespaces } from "../../test/support/netns.js";
import { createHostGwBackend } from "../backends/host-gw/host-gw.js";
import { subnetPrefix } from "../cluster/lease-validation.js";
import { eventually } from "../common/eventually.js";
import type { Datastore } from "../datastore/api.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { ClusterAgent } from "./cluster-agent.js";

/**
 * A restarted agent knows its own lease before it knows its peers': until the lease list has
 * been read, a pass (a repair tick, a BGP End-of-RIB, a route signal) would plan a node with no
 * peers and take every peer's route away. calico#7144's restarts, where routes vanished for a
 * while after an agent came back, are what this guards against.
 */
const kernel = createIproute2Kernel();
const ip = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
const routeTo = (ns: string, dst: string) =>
  execFileSync("ip", ["-n", ns, "route", "show", "exact", dst], { encoding: "utf8" }).trim();

/** The store, with lease-list reads held while `held` (the datastore slow to answer them). */
function withHeldLeaseLists(store: Datastore): { store: Datastore; hold(): void; release(): void } {
  let gate: { promise: Promise<void>; open(): void } | undefined;
  const list: Datastore["list"] = async (prefix) => {
    if (prefix === subnetPrefix) await gate?.promise;
    return store.list(prefix);
  };
  const proxied = new Proxy(store, {
    get(target, key) {
      if (key === "list") return list;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return {
    store: proxied,
    hold() {
      let open = () => {};
      const promise = new Promise<void>((r) => {
        open = r;
      });
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
  };
}

describe("an agent plans nothing before its first lease view (in-process agents, real namespaces)", () => {
  const nss = new TestNamespaces("view");
  const acs: AbortController[] = [];
  after(() => {
    for (const ac of acs) ac.abort();
    nss.cleanup();
  });

  test("restarted while the lease list does not answer: a pass keeps every peer's route; the view, when it comes, is planned", async () => {
    const store = new EmbeddedStore();
    const sw = nss.create("sw");
    ip(sw, "link", "add", "br0", "type", "bridge");
    ip(sw, "link", "set", "br0", "up");
    const node = (i: number) => {
      const ns = nss.create(`n${i}`);
      ip(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", sw);
      ip(sw, "link", "set", `p${i}`, "master", "br0", "up");
      ip(ns, "addr", "add", `192.168.79.${10 + i}/24`, "dev", "eth0");
      ip(ns, "link", "set", "eth0", "up");
      return ns;
    };
    const agentOn = (ns: string, name: string, s: Datastore) => {
      const ac = new AbortController();
      acs.push(ac);
      const agent = new ClusterAgent({
        kernel,
        store: s,
        hostNs: namedNetns(ns),
        node: name,
        clusterCidr: "10.244.0.0/16",
        subnetLen: 24,
        underlayDev: "eth0",
        backend: createHostGwBackend(),
        leaseTtlSeconds: 86_400,
        resyncMs: 60_000,
        logger: pino({ level: "silent" }),
        signal: ac.signal,
        masquerade: false,
      });
      return { agent, ac };
    };
    const ns1 = node(1);
    const ns2 = node(2);
    let held: ReturnType<typeof withHeldLeaseLists> | undefined;
    try {
      const first = agentOn(ns1, "n1", store);
      const second = agentOn(ns2, "n2", store);
      await first.agent.start();
      const lease2 = await second.agent.start();
      const running = [first.agent.run(), second.agent.run()];
      await eventually(() => routeTo(ns1, lease2.subnet).includes("proto 147"), "n1's route to n2");
      // n1's agent stops (its routes stay) and starts again; its lease list then does not answer.
      first.ac.abort();
      await running[0];
      await first.agent.stop({ releaseLease: false });
      held = withHeldLeaseLists(store);
      const again = agentOn(ns1, "n1", held.store);
      await again.agent.start();
      held.hold();
      const rerun = again.agent.run();
      await again.agent.reconcile();
      assert.match(routeTo(ns1, lease2.subnet), /via 192\.168\.79\.12 .*proto 147/, "kept before the view");
      assert.equal(again.agent.status.reconciles, 0, "no pass counted before the view");
      held.release();
      await eventually(() => again.agent.status.reconciles > 0, "a pass once the view came");
      assert.equal(again.agent.status.peers, 1);
      assert.match(routeTo(ns1, lease2.subnet), /via 192\.168\.79\.12 .*proto 147/);
      for (const a of [again, second]) a.ac.abort();
      await Promise.all([rerun, running[1]]);
      await again.agent.stop({ releaseLease: true });
      await second.agent.stop({ releaseLease: true });
    } finally {
      held?.release();
      await store.close();
    }
  });
});

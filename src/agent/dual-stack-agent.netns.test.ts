import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { TestNamespaces } from "../../test/support/netns.js";
import { createHostGwBackend } from "../backends/host-gw/host-gw.js";
import { eventually } from "../common/eventually.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { namedNetns } from "../kernel/api.js";
import { strataRouteProto } from "../kernel/desired/route-proto.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { ClusterAgent, UnderlayError } from "./cluster-agent.js";

const kernel = createIproute2Kernel();
const logger = pino({ level: "silent" });
const ip = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);

describe("a dual-stack cluster agent (--cluster-cidr IPv4,IPv6)", () => {
  const nss = new TestNamespaces("dualag");
  const aborts: AbortController[] = [];
  after(() => {
    for (const ac of aborts) ac.abort();
    nss.cleanup();
  });

  /** A node on the switch `sw` at 192.168.33.<10+i>, and fd00:33::<10+i> when `v6`. */
  const node = (sw: string, i: number, v6: boolean, store: EmbeddedStore) => {
    const ns = nss.create(`n${i}`);
    ip(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", sw);
    ip(sw, "link", "set", `p${i}`, "master", "br0", "up");
    ip(ns, "addr", "add", `192.168.33.${10 + i}/24`, "dev", "eth0");
    if (v6) ip(ns, "addr", "add", `fd00:33::${10 + i}/64`, "dev", "eth0", "nodad");
    ip(ns, "link", "set", "eth0", "up");
    const ac = new AbortController();
    aborts.push(ac);
    const agent = new ClusterAgent({
      kernel,
      store,
      hostNs: namedNetns(ns),
      node: `n${i}`,
      clusterCidr: "10.244.0.0/16",
      subnetLen: 24,
      clusterCidr6: "fd00:10:244::/56",
      subnetLen6: 64,
      underlayDev: "eth0",
      backend: createHostGwBackend(),
      leaseTtlSeconds: 30,
      resyncMs: 2000,
      logger,
      signal: ac.signal,
      masquerade: false,
    });
    return { ns, agent, ac };
  };
  const switchNs = () => {
    const sw = nss.create("sw");
    ip(sw, "link", "add", "br0", "type", "bridge");
    ip(sw, "link", "set", "br0", "up");
    return sw;
  };

  test("an underlay without a global IPv6 address: the agent refuses to start and leases nothing", async () => {
    const store = new EmbeddedStore();
    try {
      const { agent } = node(switchNs(), 1, false, store);
      await assert.rejects(agent.start(), (e: unknown) => {
        assert.ok(e instanceof UnderlayError);
        assert.match(e.message, /underlay device eth0 has no global IPv6 address/);
        return true;
      });
      assert.deepEqual((await store.list("/strata/")).items, []);
    } finally {
      await store.close();
    }
  });

  test("host-gw: each node routes the other's IPv6 subnet via its IPv6 address; a node that leaves loses it everywhere", async () => {
    const store = new EmbeddedStore();
    try {
      const sw = switchNs();
      const a = node(sw, 2, true, store);
      const b = node(sw, 3, true, store);
      const la = await a.agent.start();
      const lb = await b.agent.start();
      void a.agent.run();
      void b.agent.run();
      assert.equal(la.publicIp6, "fd00:33::12");
      const route6 = async (ns: string, dst: string | undefined) =>
        (await kernel.routes(namedNetns(ns), { family: 6 })).find((r) => r.dst === dst);
      await eventually(
        async () => (await route6(a.ns, lb.subnet6))?.via === "fd00:33::13",
        "n2 → n3's subnet6",
      );
      assert.equal((await route6(a.ns, lb.subnet6))?.proto, strataRouteProto);
      assert.equal((await route6(b.ns, la.subnet6))?.via, "fd00:33::12");
      b.ac.abort();
      await b.agent.stop({ releaseLease: true });
      await eventually(
        async () => (await route6(a.ns, lb.subnet6)) === undefined,
        "n3's IPv6 route removed on n2",
      );
    } finally {
      await store.close();
    }
  });
});

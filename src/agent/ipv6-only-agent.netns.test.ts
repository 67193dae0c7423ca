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

describe("an IPv6-only cluster agent (--cluster-cidr fd00:10:244::/56 alone)", () => {
  const nss = new TestNamespaces("v6oag");
  const aborts: AbortController[] = [];
  after(() => {
    for (const ac of aborts) ac.abort();
    nss.cleanup();
  });

  /** A node on the switch `sw` at fd00:34::<10+i> (and no IPv6 address at all when `v6` is false). */
  const node = (sw: string, i: number, v6: boolean, store: EmbeddedStore) => {
    const ns = nss.create(`n${i}`);
    ip(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", sw);
    ip(sw, "link", "set", `p${i}`, "master", "br0", "up");
    if (v6) ip(ns, "addr", "add", `fd00:34::${10 + i}/64`, "dev", "eth0", "nodad");
    else ip(ns, "addr", "add", `192.168.34.${10 + i}/24`, "dev", "eth0");
    ip(ns, "link", "set", "eth0", "up");
    const ac = new AbortController();
    aborts.push(ac);
    const agent = new ClusterAgent({
      kernel,
      store,
      hostNs: namedNetns(ns),
      node: `n${i}`,
      clusterCidr: "fd00:10:244::/56",
      subnetLen: 64,
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

  test("an underlay with only an IPv4 address: the agent refuses to start and leases nothing", async () => {
    const store = new EmbeddedStore();
    try {
      const { agent } = node(switchNs(), 1, false, store);
      await assert.rejects(agent.start(), (e: unknown) => {
        assert.ok(e instanceof UnderlayError);
        assert.match(e.message, /IPv6-only .* has no global IPv6 address/);
        return true;
      });
      assert.deepEqual((await store.list("/strata/")).items, []);
    } finally {
      await store.close();
    }
  });

  test("host-gw: each node routes the other's IPv6 subnet via its IPv6 address, no IPv4 route; a node that leaves loses it", async () => {
    const store = new EmbeddedStore();
    try {
      const sw = switchNs();
      const a = node(sw, 2, true, store);
      const b = node(sw, 3, true, store);
      const la = await a.agent.start();
      const lb = await b.agent.start();
      void a.agent.run();
      void b.agent.run();
      assert.deepEqual(
        [la.subnet, la.publicIp, la.subnet6],
        ["fd00:10:244:1::/64", "fd00:34::12", undefined],
      );
      const route6 = async (ns: string, dst: string) =>
        (await kernel.routes(namedNetns(ns), { family: 6 })).find((r) => r.dst === dst);
      await eventually(
        async () => (await route6(a.ns, lb.subnet))?.via === "fd00:34::13",
        "n2 → n3's subnet",
      );
      assert.equal((await route6(a.ns, lb.subnet))?.proto, strataRouteProto);
      assert.equal((await route6(b.ns, la.subnet))?.via, "fd00:34::12");
      const v4 = (await kernel.routes(namedNetns(a.ns), { family: 4 })).filter(
        (r) => r.proto === strataRouteProto,
      );
      assert.deepEqual(v4, [], "no IPv4 route");
      b.ac.abort();
      await b.agent.stop({ releaseLease: true });
      await eventually(async () => (await route6(a.ns, lb.subnet)) === undefined, "n3's route removed on n2");
    } finally {
      await store.close();
    }
  });
});

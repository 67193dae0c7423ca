/**
 * Agent memory with 1,000 remote nodes: one ClusterAgent (host-gw, so it really installs a route
 * per peer) in a throwaway namespace, its datastore holding 1,000 simulated leases.
 * Prints RSS before the agent starts and after it has reconciled every peer.
 */
import { execFileSync } from "node:child_process";
import { pino } from "pino";
import { ClusterAgent } from "../src/agent/cluster-agent.js";
import { createHostGwBackend } from "../src/backends/host-gw/host-gw.js";
import { subnetPrefix } from "../src/cluster/subnet-leases.js";
import { EmbeddedStore } from "../src/datastore/embedded/embedded-store.js";
import { namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";

const ns = "strata-b-rss";
const peers = 1000;
try {
  execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
} catch {
  // not there
}
execFileSync("ip", ["netns", "add", ns]);
try {
  execFileSync("ip", ["-n", ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth1"]);
  execFileSync("ip", ["-n", ns, "addr", "add", "10.0.0.1/16", "dev", "eth0"]);
  execFileSync("ip", ["-n", ns, "link", "set", "eth0", "up"]);
  execFileSync("ip", ["-n", ns, "link", "set", "eth1", "up"]);
  const store = new EmbeddedStore();
  for (let i = 0; i < peers; i++) {
    const subnet = `10.${100 + Math.floor(i / 250)}.${i % 250}.0/24`;
    await store.put(
      `${subnetPrefix}${subnet.replace("/", "-")}`,
      JSON.stringify({
        node: `sim${i}`,
        subnet,
        publicIp: `10.0.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
        publicPrefix: 16,
        backend: "host-gw",
        backendData: {},
      }),
    );
  }
  global.gc?.();
  const before = process.memoryUsage().rss;
  const ac = new AbortController();
  const agent = new ClusterAgent({
    kernel: createIproute2Kernel(),
    store,
    hostNs: namedNetns(ns),
    node: "self",
    clusterCidr: "10.96.0.0/12",
    subnetLen: 24,
    underlayDev: "eth0",
    backend: createHostGwBackend(),
    leaseTtlSeconds: 30,
    resyncMs: 60_000,
    logger: pino({ level: "silent" }),
    signal: ac.signal,
    masquerade: false,
  });
  await agent.start();
  const started = performance.now();
  const running = agent.run();
  while (agent.status.peers < peers) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - started;
  const routes = execFileSync("ip", ["-n", ns, "route", "show", "proto", "147"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean).length;
  const after = process.memoryUsage().rss;
  console.log(
    `agent with ${peers} simulated remote nodes: ${routes} routes installed in ${ms.toFixed(0)} ms; RSS ${(before / 2 ** 20).toFixed(0)} MiB before, ${(after / 2 ** 20).toFixed(0)} MiB after`,
  );
  ac.abort();
  await running;
  await store.close();
} finally {
  execFileSync("ip", ["netns", "del", ns]);
}

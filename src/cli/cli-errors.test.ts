import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../../test/support/cni.js";
import type { BackendFlagValues } from "../backends/definition.js";
import { backendRegistry } from "../backends/registry.js";
import { type AgentCliOptions, checkAgentFlags, createBackend, openDatastore } from "./agent-wiring.js";
import { splitHostPort } from "./bgp-speaker.js";
import { checkNodeName } from "./lab-commands.js";
import { UsageError } from "./options.js";

const cli = join(repoRoot, "bin/strata.js");

/**
 * Bad flags, each refused before the command does anything: one line on stderr naming the flag,
 * exit code 2, no stack trace. None of these touches the lab or the machine (every check runs
 * before anything starts; `--health-port` and `--datastore` would otherwise bind and connect).
 */
const refused: [string[], RegExp][] = [
  [
    ["agent", "--node", "n1", "--datastore", "embedded:/nonexistent", "--vni", "abc"],
    /^strata: --vni: "abc"/,
  ],
  [
    ["agent", "--health-port", "99999"],
    /^strata: --health-port: "99999" is not a whole number from 0 to 65535$/,
  ],
  [
    ["agent", "--node", "n1", "--backend", "ipvlan"],
    /^strata: --backend: "ipvlan" is not one of host-gw, vxlan/,
  ],
  [["agent", "--node", "n1"], /^strata: --datastore: missing/],
  [["agent", "--node", "n1", "--datastore", "mysql:x"], /^strata: --datastore: "mysql:x" is not embedded:/],
  [["agent", "--cluster-cidr", "10.244.0.0/33"], /^strata: --cluster-cidr: /],
  [["agent", "--subnet-len", "12"], /^strata: --subnet-len: "12" is not a whole number from 16 to 30$/],
  [["agent", "--lease-ttl", "ten"], /^strata: --lease-ttl: /],
  [["agent", "--cni-max-requests", "0"], /^strata: --cni-max-requests: /],
  [
    ["agent", "--node", "n1", "--datastore", "etcd:https://127.0.0.1:2379"],
    /^strata: etcd endpoints are https:\/\/ but no --etcd-ca/,
  ],
  [["agent", "--node", "n1", "--backend", "bgp", "--bgp-asn", "0"], /^strata: --bgp-asn: /],
  [["agent", "--node", "n1", "--backend", "bgp", "--bgp-peer", "10.0.0.1"], /^strata: bad --peer "10.0.0.1"/],
  [["bgp-speaker", "--asn", "x", "--router-id", "1.1.1.1"], /^strata: --asn: "x"/],
  [
    ["bgp-speaker", "--asn", "1", "--router-id", "1.1.1"],
    /^strata: --router-id: "1.1.1" is not an IPv4 address/,
  ],
  [
    ["bgp-speaker", "--asn", "1", "--router-id", "1.1.1.1", "--hold", "2"],
    /^strata: --hold: "2" must be 0 or 3/,
  ],
  [["bgp-speaker", "--asn", "1", "--router-id", "1.1.1.1", "--listen", "99999"], /^strata: --listen: /],
  [
    ["bgp-speaker", "--asn", "1", "--router-id", "1.1.1.1", "--announce", "10.0.0.0/40"],
    /^strata: --announce: /,
  ],
  [["demo", "--pods", "many"], /^strata: --pods: "many"/],
  [["install-cni", "--dir", "/etc/hostname/x"], /^strata: --dir: \/etc\/hostname\/x: ENOTDIR on mkdir/],
  [["lab", "bench", "--seconds", "-1"], /^strata: --seconds: /],
  [["lab", "up", "--nodes", "abc"], /^strata: --nodes: "abc"/],
  // Commander's own errors: its message, then help (not a stack trace), exit 2 all the same.
  [["lab", "up", "--bogus"], /^error: unknown option '--bogus'/],
  [["lab", "agent", "stop"], /^error: missing required argument 'node'/],
];

for (const [argv, message] of refused) {
  test(`strata ${argv.join(" ")}: one line, exit 2, no stack trace`, () => {
    const r = spawnSync(process.execPath, [cli, ...argv], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    const first = r.stderr.split("\n")[0] ?? "";
    assert.match(first, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    if (first.startsWith("strata: ")) assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  });
}

test("a system error on a path the user gave is one line naming path and errno (exit 1), no stack trace", () => {
  const r = spawnSync(
    process.execPath,
    [cli, "datastore", "--socket", "/tmp/x.sock", "--dir", "/etc/hostname/d"],
    {
      encoding: "utf8",
      timeout: 30_000,
    },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trim(), "strata: /etc/hostname/d: ENOTDIR on mkdir");
});

const agentDefaults: AgentCliOptions & BackendFlagValues = {
  logLevel: "info",
  clusterCidr: "10.244.0.0/16",
  subnetLen: "24",
  backend: "vxlan",
  vxlanPort: "8472",
  vni: "1",
  underlayDev: "eth0",
  leaseTtl: "86400",
  heartbeatTtl: "20",
  datastoreTimeout: "60",
  resyncInterval: "10",
  masquerade: true,
  podAttachment: "auto",
  healthPort: "9947",
  cniBinDir: "/opt/cni/bin",
  cniSocketDir: "/run/strata-cni",
  cniMaxRequests: "64",
  cniReadTimeout: "10000",
  bgpAsn: "64512",
  bgpPeer: [],
  bgpMesh: true,
  bgpClusterId: "244.0.0.1",
  bgpHold: "9",
};

test("the agent's defaults pass the checks, as numbers", () => {
  assert.deepEqual(checkAgentFlags(agentDefaults), {
    healthPort: 9947,
    clusterCidr: "10.244.0.0/16",
    subnetLen: 24,
    leaseTtlSeconds: 86400,
    heartbeatTtlSeconds: 20,
    datastoreTimeoutSeconds: 60,
    resyncSeconds: 10,
    fullResyncSeconds: 60,
    routeChangeWindowMs: 250,
    cniMaxRequests: 64,
    cniReadTimeoutMs: 10000,
    spawnHelpers: 8,
    kernelDriver: "rtnetlink",
  });
  assert.equal(checkAgentFlags({ ...agentDefaults, spawnHelpers: "2" }).spawnHelpers, 2);
  assert.equal(checkAgentFlags({ ...agentDefaults, kernelDriver: "iproute2" }).kernelDriver, "iproute2");
  assert.throws(
    () => checkAgentFlags({ ...agentDefaults, kernelDriver: "netlink" }),
    /--kernel-driver: "netlink" is not one of rtnetlink, iproute2/,
  );
  assert.equal(checkAgentFlags({ ...agentDefaults, fullResyncInterval: "300" }).fullResyncSeconds, 300);
  assert.throws(
    () => checkAgentFlags({ ...agentDefaults, fullResyncInterval: "0" }),
    /--full-resync-interval/,
  );
  assert.throws(
    () => checkAgentFlags({ ...agentDefaults, spawnHelpers: "0" }),
    /--spawn-helpers: "0" is not a whole number from 1 to 64/,
  );
  // --health-port 0 turns the health server off.
  assert.equal(checkAgentFlags({ ...agentDefaults, healthPort: "0" }).healthPort, 0);
  // --pod-attachment auto leaves the choice to the backend; bridge/routed override it.
  assert.equal(checkAgentFlags({ ...agentDefaults, podAttachment: "routed" }).podAttachment, "routed");
  assert.throws(
    () => checkAgentFlags({ ...agentDefaults, podAttachment: "macvlan" }),
    /--pod-attachment: "macvlan" is not one of auto, bridge, routed/,
  );
});

test("dual stack: --cluster-cidr IPv4,IPv6 and --subnet-len6 (default 64); refused for a backend that routes no IPv6", () => {
  const dual = checkAgentFlags({ ...agentDefaults, clusterCidr: "10.244.0.0/16,fd00:10:244::/56" });
  assert.deepEqual(
    [dual.clusterCidr, dual.clusterCidr6, dual.subnetLen6],
    ["10.244.0.0/16", "fd00:10:244::/56", 64],
  );
  assert.equal(
    checkAgentFlags({ ...agentDefaults, clusterCidr: "10.244.0.0/16,fd00:10:244::/48", subnetLen6: "60" })
      .subnetLen6,
    60,
  );
  assert.throws(
    () =>
      checkAgentFlags({ ...agentDefaults, clusterCidr: "10.244.0.0/16,fd00:10:244::/56", subnetLen6: "48" }),
    (e: unknown) =>
      e instanceof UsageError && /--subnet-len6 48 must be a whole number from 56/.test(e.message),
  );
  assert.throws(
    () => createBackend(agentDefaults, "n1", backendRegistry, {}, true),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message ===
        "--cluster-cidr: the vxlan backend routes no IPv6 pod subnets: dual stack and IPv6-only clusters work with host-gw, bgp; give an IPv4 CIDR alone",
  );
  assert.equal(
    createBackend({ ...agentDefaults, backend: "host-gw" }, "n1", backendRegistry, {}, true).name,
    "host-gw",
  );
});

test("IPv6-only: --cluster-cidr IPv6 alone is the primary CIDR, each node a --subnet-len6 of it (--subnet-len unused)", () => {
  const only6 = checkAgentFlags({ ...agentDefaults, clusterCidr: "fd00:10:244::/56" });
  assert.deepEqual(
    [only6.clusterCidr, only6.subnetLen, only6.clusterCidr6, only6.subnetLen6],
    ["fd00:10:244::/56", 64, undefined, undefined],
  );
  assert.equal(
    checkAgentFlags({ ...agentDefaults, clusterCidr: "fd00:10:244::/48", subnetLen6: "60" }).subnetLen,
    60,
  );
  assert.throws(
    () => checkAgentFlags({ ...agentDefaults, clusterCidr: "fd00:10:244::/56", subnetLen6: "127" }),
    (e: unknown) => e instanceof UsageError && /--subnet-len6 127/.test(e.message),
  );
});

test("backend flags: VNI 24 bits, a UDP port, a known backend name", () => {
  const bad: BackendFlagValues[] = [
    { vni: "16777216" },
    { vni: "0" },
    { vxlanPort: "0" },
    { vxlanPort: "65536" },
    { backend: "" },
    { backend: "bgp", bgpHold: "1" },
    { backend: "bgp", bgpClusterId: "x" },
  ];
  for (const b of bad)
    assert.throws(() => createBackend({ ...agentDefaults, ...b }, "n1"), UsageError, JSON.stringify(b));
  assert.ok(createBackend({ ...agentDefaults, vni: "16777215", vxlanPort: "4789" }, "n1"));
});

test("a datastore URL that is not embedded: or etcd: is a UsageError naming --datastore", () => {
  for (const url of [undefined, "", "embedded:", "http://x", "mysql://x"])
    assert.throws(
      () => openDatastore(url),
      (e) => e instanceof UsageError && e.message.startsWith("--datastore: "),
    );
});

test("bgp-speaker --listen takes [HOST:]PORT", () => {
  assert.deepEqual(splitHostPort("179"), [undefined, 179]);
  assert.deepEqual(splitHostPort("10.0.0.1:1179"), ["10.0.0.1", 1179]);
  assert.deepEqual(splitHostPort("0"), [undefined, 0]);
  for (const bad of ["x", "70000", "nohost:179", ":"])
    assert.throws(() => splitHostPort(bad), UsageError, bad);
});

test("lab agent NODE must be one of the lab's nodes", () => {
  const state = {
    nodes: [{ name: "n1" }, { name: "n2" }],
  } as unknown as Parameters<typeof checkNodeName>[0];
  assert.equal(checkNodeName(state, "n2"), "n2");
  assert.throws(
    () => checkNodeName(state, "n3"),
    (e) => e instanceof UsageError && e.message === 'NODE: "n3" is not a node of the lab (n1, n2)',
  );
});

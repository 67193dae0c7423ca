import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { CniSandbox, ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { addNetworkList, type ConfList, checkNetworkList, delNetworkList } from "../../cni/runtime-client.js";

/**
 * strata chained with the reference meta plugins (Debian containernetworking-plugins 1.1, which
 * speak CNI up to 1.0.0): portmap, bandwidth, tuning, firewall — ADD, CHECK and DEL in order.
 */
const chain = (sandbox: CniSandbox): ConfList => ({
  cniVersion: "1.0.0",
  name: "t-chain",
  plugins: [
    {
      type: "strata",
      mode: "bridge",
      ipam: { type: "strata-ipam", ranges: [[{ subnet: "10.64.0.0/24" }]], dataDir: sandbox.data },
    },
    { type: "portmap", capabilities: { portMappings: true }, snat: true },
    { type: "bandwidth", capabilities: { bandwidth: true } },
    { type: "tuning", sysctl: { "net.core.somaxconn": "512" } },
    { type: "firewall", backend: "iptables" },
  ],
});

function iptablesSave(ns: string): string {
  return execFileSync("ip", ["netns", "exec", ns, "iptables-save"], { encoding: "utf8" });
}

describe("chaining with the reference meta plugins", () => {
  const nss = new TestNamespaces("chain");
  const sandbox = new CniSandbox();
  let host = "";
  let client = "";
  before(async () => {
    await sandbox.install();
    host = nss.create("host");
    client = nss.create("client");
    const sh = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
    sh(host, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth0", "netns", client);
    sh(host, "addr", "add", "192.168.78.2/24", "dev", "eth0");
    sh(host, "link", "set", "eth0", "up");
    sh(client, "addr", "add", "192.168.78.1/24", "dev", "eth0");
    sh(client, "link", "set", "eth0", "up");
  });
  after(() => {
    nss.cleanup();
    sandbox.cleanup();
  });

  test("ADD, CHECK, DEL through strata → portmap → bandwidth → tuning → firewall", async () => {
    const pod = nss.create("pod");
    const att = {
      containerId: "c-chain",
      netns: nss.path(pod),
      ifName: "eth0",
      args: {
        IgnoreUnknown: "1",
        K8S_POD_NAMESPACE: "default",
        K8S_POD_NAME: "web",
        K8S_POD_INFRA_CONTAINER_ID: "c-chain",
      },
      capabilityArgs: {
        portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: "tcp" }],
        bandwidth: {
          ingressRate: 100_000_000,
          ingressBurst: 1_000_000,
          egressRate: 100_000_000,
          egressBurst: 1_000_000,
        },
      },
    };
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    const res = (await addNetworkList(chain(sandbox), att, rt)) as {
      cniVersion: string;
      interfaces: { name: string }[];
      ips: { address: string }[];
    };
    assert.equal(res.cniVersion, "1.0.0");
    assert.ok(
      res.interfaces.some((i) => i.name === "eth0"),
      "strata's interfaces survive the chain",
    );
    const podIp = res.ips[0]?.address.split("/")[0] ?? "";
    // tuning
    const somaxconn = execFileSync("ip", ["netns", "exec", pod, "cat", "/proc/sys/net/core/somaxconn"], {
      encoding: "utf8",
    });
    assert.equal(somaxconn.trim(), "512");
    // portmap and firewall rules in the node
    const rules = iptablesSave(host);
    assert.match(rules, /CNI-HOSTPORT-DNAT/);
    assert.match(rules, /--dport 18080/);
    assert.match(rules, /CNI-FORWARD/);
    // bandwidth: a token bucket on the host veth
    const qdiscs = ipJson<{ kind: string }[]>(host, ["link"]);
    assert.ok(qdiscs.length > 0);
    const tc = execFileSync("ip", ["netns", "exec", host, "tc", "qdisc", "show"], { encoding: "utf8" });
    assert.match(tc, /tbf/);
    // the port mapping really forwards: client → node:18080 → pod:8080
    const server = spawn(
      "ip",
      ["netns", "exec", pod, "python3", "-m", "http.server", "8080", "--bind", podIp],
      { stdio: "ignore" },
    );
    try {
      let body = "";
      for (let i = 0; i < 40 && !body; i++) {
        await new Promise((r) => setTimeout(r, 100));
        try {
          body = execFileSync(
            "ip",
            [
              "netns",
              "exec",
              client,
              "python3",
              "-c",
              "import urllib.request as u;print(u.urlopen('http://192.168.78.2:18080/',timeout=2).status)",
            ],
            { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
          );
        } catch {
          // server not up yet
        }
      }
      assert.equal(body.trim(), "200");
    } finally {
      server.kill();
    }
    // CHECK through every plugin but portmap: Debian's portmap 1.1 fails CHECK on IPv4-only pods
    // (it looks for ip6tables chains ADD never made; containernetworking/plugins#819).
    const list = chain(sandbox);
    await checkNetworkList(
      { ...list, plugins: list.plugins.filter((p) => p.type !== "portmap") },
      att,
      rt,
      res,
    );
    await delNetworkList(chain(sandbox), att, rt, res);
    assert.doesNotMatch(iptablesSave(host), /--dport 18080/, "portmap rules removed");
    assert.equal(sandbox.reservations("t-chain").length, 0);
  });
});

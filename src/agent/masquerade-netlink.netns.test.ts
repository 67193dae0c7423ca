import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { inNetns, withNamespaces } from "../../test/support/netns.js";
import { namedNetns } from "../kernel/api.js";
import { loadNfApply, NfNetlink } from "../kernel/nftables/apply.js";
import { clusterMasquerade, masqueradeTable } from "./masquerade.js";
import { clusterMasqueradeMessages } from "./masquerade-netlink.js";

/**
 * The masquerade tables written over nf_tables netlink (the agent's path) against the ones
 * `nft -f` writes from the text (the path without the addon), in real namespaces: `nft list` and
 * the kernel's own expressions (`--debug=netlink`) must be the same, for byte-aligned prefixes
 * (nft loads only their bytes) and others (the whole address, masked).
 */

const addon = loadNfApply();
const netlink = (ns: string) => {
  assert.ok(addon, "the rtnetlink addon is built with nfApply (npm run build)");
  return new NfNetlink(addon, namedNetns(ns));
};

function listing(ns: string, family: "ip" | "ip6"): string {
  const text = inNetns(ns, ["nft", "list", "table", family, masqueradeTable]);
  const expressions = inNetns(ns, ["nft", "--debug=netlink", "list", "table", family, masqueradeTable])
    // Rule handles and the table's per-namespace use counts differ; nothing else may.
    .replace(/^(\w+ strata-nat \w+)( \d+)+$/gm, "$1");
  return `${text}\n${expressions}`;
}

const cidrSets: readonly (readonly string[])[] = [
  ["10.244.0.0/16", "fd00:10:244::/56"],
  ["10.240.0.0/12", "fd00:10:244::/60"],
  ["172.16.0.0/20", "fd00::/8"],
  ["100.64.0.0/10"],
];

for (const cidrs of cidrSets) {
  test(`the masquerade of ${cidrs.join(" and ")} over netlink lists exactly as nft's from the text`, async () => {
    await withNamespaces("nfm", async (nss) => {
      const [viaNetlink, viaNft] = [nss.create("nl"), nss.create("nft")];
      netlink(viaNetlink).apply(clusterMasqueradeMessages(cidrs));
      execFileSync("ip", ["netns", "exec", viaNft, "nft", "-f", "-"], { input: clusterMasquerade(cidrs) });
      for (const family of cidrs.map((c): "ip" | "ip6" => (c.includes(":") ? "ip6" : "ip"))) {
        const [a, b] = [listing(viaNetlink, family), listing(viaNft, family)];
        assert.match(a, /masquerade fully-random/);
        assert.equal(a, b, family);
      }
    });
  });
}

test("writing the masquerade again replaces the table whole: one rule, and nothing else that was put in it", async () => {
  await withNamespaces("nfm", async (nss) => {
    const ns = nss.create("again");
    const nf = netlink(ns);
    nf.apply(clusterMasqueradeMessages(["10.244.0.0/16"]));
    inNetns(ns, ["nft", "add", "rule", "ip", masqueradeTable, "postrouting", "counter"]);
    inNetns(ns, ["nft", "add", "chain", "ip", masqueradeTable, "stray"]);
    nf.apply(clusterMasqueradeMessages(["10.244.0.0/16"]));
    const text = inNetns(ns, ["nft", "list", "table", "ip", masqueradeTable]);
    assert.equal(text.match(/masquerade fully-random/g)?.length, 1, text);
    assert.doesNotMatch(text, /counter|stray/, text);
  });
});

test("a pod's packets leaving the cluster go out from the node's address once the netlink masquerade is in", async () => {
  await withNamespaces("nfm", async (nss) => {
    const [pod, node, outside] = [nss.create("pod"), nss.create("node"), nss.create("out")];
    const sh = (ns: string, script: string) => execFileSync("ip", ["netns", "exec", ns, "sh", "-ec", script]);
    execFileSync("ip", [
      "link",
      "add",
      "p0",
      "netns",
      pod,
      "type",
      "veth",
      "peer",
      "name",
      "n0",
      "netns",
      node,
    ]);
    execFileSync("ip", [
      "link",
      "add",
      "n1",
      "netns",
      node,
      "type",
      "veth",
      "peer",
      "name",
      "o0",
      "netns",
      outside,
    ]);
    sh(pod, "ip addr add 10.244.1.2/24 dev p0; ip link set p0 up; ip route add default via 10.244.1.1");
    sh(
      node,
      "ip addr add 10.244.1.1/24 dev n0; ip addr add 192.168.77.1/24 dev n1; ip link set n0 up; ip link set n1 up",
    );
    sh(node, "sysctl -qw net.ipv4.ip_forward=1");
    // The outside knows no route back to the pod subnet: only a masqueraded packet gets an answer.
    sh(outside, "ip addr add 192.168.77.2/24 dev o0; ip link set o0 up");
    const ping = () => {
      try {
        sh(pod, "ping -c1 -W1 192.168.77.2 >/dev/null");
        return true;
      } catch {
        return false;
      }
    };
    assert.equal(ping(), false, "no answer without the masquerade");
    netlink(node).apply(clusterMasqueradeMessages(["10.244.0.0/16"]));
    assert.equal(ping(), true, "answered once the pod's source is the node's");
  });
});

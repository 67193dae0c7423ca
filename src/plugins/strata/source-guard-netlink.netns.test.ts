import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { test } from "node:test";
import { inNetns, withNamespaces } from "../../../test/support/netns.js";
import { CniError, CniErrorCode } from "../../cni/errors.js";
import { namedNetns } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { loadNfApply, NfNetlink } from "../../kernel/nftables/apply.js";
import { SourceGuard } from "./source-guard.js";
import { type GuardFamily, type PortSources, parseGuardTable } from "./source-guard-plan.js";
import { netlinkGuardWriter } from "./source-guard-writer.js";

/**
 * The source guard written over nf_tables netlink (the agent's path) against the one `nft -f`
 * writes from the text scripts (the standalone plugin's path), in real namespaces.
 */

const kernel = createIproute2Kernel();
const addon = loadNfApply();
const families: readonly GuardFamily[] = ["bridge", "inet"];

const netlinkGuard = (ns: string) => {
  assert.ok(addon, "the rtnetlink addon is built with nfApply (npm run build)");
  return new SourceGuard(kernel, namedNetns(ns), netlinkGuardWriter(new NfNetlink(addon, namedNetns(ns))));
};
/** The guard as the standalone plugin writes it: the text scripts through a spawned `nft -f`. */
const nftGuard = (ns: string) => new SourceGuard(kernel, namedNetns(ns));

/**
 * `nft list table`, and the kernel's own expressions of every rule (`--debug=netlink`), with what
 * differs between two namespaces holding the same thing left out: rule handles, and the order of
 * a set's elements (its hash's, seeded per namespace).
 */
function listing(ns: string, family: GuardFamily): string {
  const text = inNetns(ns, ["nft", "list", "table", family, "strata-antispoof"]).replace(
    /elements = \{([^}]*)\}/g,
    (_, items: string) =>
      `elements = { ${items
        .split(/,\s*/)
        .map((i) => i.trim())
        .sort()
        .join(", ")} }`,
  );
  const expressions = inNetns(ns, ["nft", "--debug=netlink", "list", "table", family, "strata-antispoof"])
    .replace(/^(\w+ strata-antispoof \w+)( \d+)+$/gm, "$1")
    .replace(/(?:^\telement [^\n]*\n)+/gm, (run) => `${run.trimEnd().split("\n").sort().join("\n")}\n`);
  return `${text}\n${expressions}`;
}

const podA: PortSources = { port: "vetha", v4: ["10.70.0.5"], v6: ["fd70::5", "fd70::15"] };
const podB: PortSources = { port: "vethb", v4: ["10.70.0.6", "10.70.0.7"], v6: ["fd70::6"] };

for (const family of families) {
  test(`${family}: the guard written over netlink lists exactly as nft's from the text scripts — the table, two pods allowed, one forgotten, the table again`, async () => {
    await withNamespaces("nfg", async (nss) => {
      const [viaNetlink, viaNft] = [nss.create("nl"), nss.create("nft")];
      const [g1, g2] = [netlinkGuard(viaNetlink), nftGuard(viaNft)];
      const same = (when: string) => {
        const [a, b] = [listing(viaNetlink, family), listing(viaNft, family)];
        assert.ok(a.includes("strata-antispoof"), a);
        assert.equal(a, b, when);
      };
      await g1.allow(family, podA);
      await g2.allow(family, podA);
      same("after the table and pod a");
      await g1.allow(family, podB);
      await g2.allow(family, podB);
      same("after pod b");
      await g1.revoke(family, podA);
      await g2.revoke(family, podA);
      same("after forgetting pod a");
      // Another process writes the table again (flush + re-add rules), and forgets an absent pod.
      await netlinkGuard(viaNetlink).allow(family, podB);
      await nftGuard(viaNft).allow(family, podB);
      await netlinkGuard(viaNetlink).revoke(family, podA);
      same("after the table again and a forget of an absent pod");
      const state = parseGuardTable(
        inNetns(viaNetlink, ["nft", "-j", "list", "table", family, "strata-antispoof"]),
      );
      assert.deepEqual([...state.ports], ["vethb"]);
      assert.deepEqual(state.sources.get("vethb"), podB);
    });
  });
}

test("netlink: forget of a port never allowed succeeds; GC removes several ports in one transaction", async () => {
  await withNamespaces("nfgc", async (nss) => {
    const ns = nss.create("n");
    const g = netlinkGuard(ns);
    await g.forget("inet", "vethz", { port: "vethz", v4: ["10.70.0.9"], v6: [] });
    await g.allow("inet", podA);
    await g.allow("inet", podB);
    await g.allow("inet", { port: "vethc", v4: ["10.70.0.8"], v6: [] });
    // No link of these names exists in the namespace: everything but what `keep` names is stale.
    const stale = await netlinkGuard(ns).collectGarbage("inet", new Set(["vethc"]));
    assert.deepEqual(stale.sort(), ["vetha", "vethb"]);
    const state = await g.read("inet");
    assert.deepEqual([...(state?.ports ?? [])], ["vethc"]);
    assert.deepEqual([...(state?.sources.keys() ?? [])], ["vethc"]);
  });
});

test("netlink: a table removed under a resident guard is written again with the next pod", async () => {
  await withNamespaces("nfre", async (nss) => {
    const ns = nss.create("n");
    const g = netlinkGuard(ns);
    await g.allow("bridge", podA);
    inNetns(ns, ["nft", "delete", "table", "bridge", "strata-antispoof"]);
    await g.allow("bridge", podB);
    assert.deepEqual([...((await g.read("bridge"))?.ports ?? [])], ["vethb"]);
  });
});

test("netlink: a failure is a KernelFailure naming the request and the kernel's error; nothing of the batch stays", async () => {
  await withNamespaces("nferr", async (nss) => {
    const ns = nss.create("n");
    const g = netlinkGuard(ns);
    await g.allow("inet", podA);
    // An element of a set that is not there: the batch (with its valid first part) fails whole.
    const nf = new NfNetlink(addon as NonNullable<typeof addon>, namedNetns(ns));
    const { setElements } = await import("../../kernel/nftables/objects.js");
    const { ifnameKey } = await import("../../kernel/nftables/keys.js");
    assert.throws(
      () =>
        nf.apply([
          setElements("add", "inet", "strata-antispoof", "ports", [ifnameKey("vethq")]),
          setElements("add", "inet", "strata-antispoof", "nope", [ifnameKey("vethq")]),
        ]),
      (err: Error & { kind?: string }) =>
        err.kind === "not-found" &&
        /^add element inet strata-antispoof nope: No such file or directory/.test(err.message),
    );
    assert.deepEqual([...((await g.read("inet"))?.ports ?? [])], ["vetha"], "vethq was not added");
    // Through the guard: an address that cannot be a key, and a namespace that is gone.
    await assert.rejects(
      g.allow("inet", { port: "vethb", v4: ["10.70.0.300"], v6: [] }),
      (err: unknown) =>
        err instanceof CniError &&
        err.cniCode === CniErrorCode.KernelFailure &&
        /allowing the pod's source addresses failed/.test(err.message) &&
        /10.70.0.300/.test(err.details),
    );
    const gone = netlinkGuard(`${ns}-gone`);
    await assert.rejects(
      gone.allow("inet", podA),
      (err: unknown) =>
        err instanceof CniError && err.cniCode === CniErrorCode.KernelFailure && /gone/.test(err.details),
    );
  });
});

/**
 * A pod's veth into a node namespace, the node at .1/::1: bridge mode puts the host end on a
 * bridge holding the node's addresses, routed mode addresses the host end itself.
 */
function podLink(node: string, pod: string, family: GuardFamily): void {
  const ip = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
  ip(node, "link", "add", "vethp", "type", "veth", "peer", "name", "eth0", "netns", pod);
  let gw = "vethp";
  if (family === "bridge") {
    ip(node, "link", "add", "br0", "type", "bridge");
    ip(node, "link", "set", "vethp", "master", "br0");
    ip(node, "link", "set", "br0", "up");
    gw = "br0";
  }
  ip(node, "addr", "add", "10.71.0.1/24", "dev", gw);
  ip(node, "addr", "add", "fd71::1/64", "dev", gw, "nodad");
  ip(node, "link", "set", "vethp", "up");
  for (const a of ["10.71.0.2/24", "10.71.0.3/24"]) ip(pod, "addr", "add", a, "dev", "eth0");
  for (const a of ["fd71::2/64", "fd71::3/64"]) ip(pod, "addr", "add", a, "dev", "eth0", "nodad");
  ip(pod, "link", "set", "eth0", "up");
}

const ping = (ns: string, src: string, dst: string) =>
  spawnSync("ip", ["netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", src, dst]).status ===
  0;

for (const family of families) {
  test(`${family}: behind a netlink-written guard a pod's own sources pass, spoofed ones are dropped and counted; re-writing the table keeps the counts`, async () => {
    await withNamespaces("nfpkt", async (nss) => {
      const [node, pod] = [nss.create("node"), nss.create("pod")];
      podLink(node, pod, family);
      const guard = netlinkGuard(node);
      await guard.allow(family, { port: "vethp", v4: ["10.71.0.2"], v6: ["fd71::2"] });
      assert.ok(ping(pod, "10.71.0.2", "10.71.0.1"), "own IPv4 source passes");
      assert.ok(ping(pod, "fd71::2", "fd71::1"), "own IPv6 source passes");
      const before = (await guard.read(family))?.counts;
      assert.ok(!ping(pod, "10.71.0.3", "10.71.0.1"), "spoofed IPv4 source dropped");
      assert.ok(!ping(pod, "fd71::3", "fd71::1"), "spoofed IPv6 source dropped");
      const after = (await guard.read(family))?.counts;
      assert.ok(before && after);
      assert.ok(after.ipv4 - before.ipv4 >= 2, `IPv4 drops counted (${before.ipv4} -> ${after.ipv4})`);
      assert.ok(after.ipv6 - before.ipv6 >= 2, `IPv6 drops counted (${before.ipv6} -> ${after.ipv6})`);
      // A new process (an agent restart) writes the table again: rules flushed and re-added, the
      // named counters kept, the pod still guarded and still allowed.
      await netlinkGuard(node).allow(family, { port: "vethq", v4: ["10.71.0.9"], v6: [] });
      assert.deepEqual((await guard.read(family))?.counts, after, "counts kept");
      assert.ok(ping(pod, "10.71.0.2", "10.71.0.1"), "own source still passes");
      assert.ok(!ping(pod, "10.71.0.3", "10.71.0.1"), "spoofed source still dropped");
    });
  });
}

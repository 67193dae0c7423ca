import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { CniSandbox, canPing, ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import {
  addNetworkList,
  type ConfList,
  checkNetworkList,
  delNetworkList,
  gcNetworkList,
  pluginStdin,
  runPlugin,
  statusNetworkList,
} from "../../cni/runtime-client.js";

/** A node namespace with a default route (proxy ARP answers only for destinations it can route). */
function makeNode(nss: TestNamespaces): string {
  const host = nss.create("host");
  const up = nss.create("uplink");
  const sh = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
  sh(host, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "up0", "netns", up);
  sh(host, "addr", "add", "192.168.77.2/24", "dev", "eth0");
  sh(host, "link", "set", "eth0", "up");
  sh(host, "route", "add", "default", "via", "192.168.77.1");
  sh(up, "addr", "add", "192.168.77.1/24", "dev", "up0");
  sh(up, "link", "set", "up0", "up");
  return host;
}

const list = (
  sandbox: CniSandbox,
  mode: "bridge" | "routed",
  extra: Record<string, unknown> = {},
  ipamExtra: Record<string, unknown> = {},
): ConfList => ({
  cniVersion: "1.1.0",
  name: `t-${mode}`,
  plugins: [
    {
      type: "strata",
      mode,
      mtu: 1400,
      ...extra,
      ipam: {
        type: "strata-ipam",
        ranges: [[{ subnet: mode === "bridge" ? "10.61.0.0/24" : "10.62.0.0/24" }]],
        dataDir: sandbox.data,
        ...ipamExtra,
      },
    },
  ],
});

interface AddResult {
  interfaces: { name: string; mac?: string; sandbox?: string; mtu?: number }[];
  ips: { address: string; gateway?: string; interface?: number }[];
  routes: { dst: string; gw?: string }[];
}

const addrOf = (r: AddResult) => r.ips[0]?.address.split("/")[0] ?? "";

describe("strata plugin in real namespaces", () => {
  const nss = new TestNamespaces("plug");
  const sandbox = new CniSandbox();
  let host = "";
  before(async () => {
    await sandbox.install();
    host = makeNode(nss);
  });
  after(() => {
    nss.cleanup();
    sandbox.cleanup();
  });

  for (const mode of ["bridge", "routed"] as const) {
    test(`${mode} mode: pods get addresses, talk to each other and the node; CHECK passes; DEL removes everything`, async () => {
      const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
      const l = list(sandbox, mode);
      const pods = [nss.create(`${mode[0]}p1`), nss.create(`${mode[0]}p2`)];
      const results: AddResult[] = [];
      for (const [i, pod] of pods.entries()) {
        const att = { containerId: `c-${mode}-${i}`, netns: nss.path(pod), ifName: "eth0" };
        results.push((await addNetworkList(l, att, rt)) as AddResult);
      }
      const [r1, r2] = results as [AddResult, AddResult];
      assert.notEqual(addrOf(r1), addrOf(r2));
      const podIf = r1.interfaces[r1.ips[0]?.interface ?? -1];
      assert.equal(podIf?.name, "eth0");
      assert.equal(podIf?.sandbox, nss.path(pods[0] as string));
      if (mode === "routed") {
        assert.match(r1.ips[0]?.address ?? "", /\/32$/);
        assert.equal(r1.ips[0]?.gateway, "169.254.1.1");
      } else {
        assert.equal(r1.ips[0]?.gateway, "10.61.0.1");
      }
      const links = ipJson<{ ifname: string; mtu: number }[]>(pods[0] as string, ["link", "show", "eth0"]);
      assert.equal(links[0]?.mtu, 1400);
      assert.ok(canPing(pods[0] as string, addrOf(r2)), "pod to pod");
      assert.ok(canPing(pods[1] as string, "192.168.77.2"), "pod to node");
      assert.ok(canPing(host, addrOf(r1)), "node to pod");
      for (const [i, pod] of pods.entries()) {
        await checkNetworkList(
          l,
          { containerId: `c-${mode}-${i}`, netns: nss.path(pod), ifName: "eth0" },
          rt,
          results[i],
        );
      }
      assert.equal(sandbox.reservations(`t-${mode}`).length, 2);
      for (const [i, pod] of pods.entries()) {
        await delNetworkList(
          l,
          { containerId: `c-${mode}-${i}`, netns: nss.path(pod), ifName: "eth0" },
          rt,
          results[i],
        );
      }
      assert.equal(sandbox.reservations(`t-${mode}`).length, 0, "addresses released");
      const hostVeths = ipJson<{ ifname: string }[]>(host, ["link"]).filter((x) =>
        x.ifname.startsWith("veth"),
      );
      assert.deepEqual(hostVeths, [], "host veths removed");
      assert.deepEqual(ipJson(pods[0] as string, ["link", "show", "type", "veth"]), []);
    });
  }

  test("CHECK fails with a clear error when the pod's address was removed", async () => {
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    const l = list(sandbox, "bridge");
    const pod = nss.create("chk");
    const att = { containerId: "c-check", netns: nss.path(pod), ifName: "eth0" };
    const res = (await addNetworkList(l, att, rt)) as AddResult;
    execFileSync("ip", ["-n", pod, "addr", "flush", "dev", "eth0"]);
    await assert.rejects(checkNetworkList(l, att, rt, res), /address .* is missing/);
    await delNetworkList(l, att, rt, res);
  });

  test("DEL succeeds when called twice, without prevResult, and when the netns is gone", async () => {
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    const l = list(sandbox, "bridge");
    const pod = nss.create("del");
    const att = { containerId: "c-del", netns: nss.path(pod), ifName: "eth0" };
    await addNetworkList(l, att, rt);
    execFileSync("ip", ["netns", "del", pod]);
    await delNetworkList(l, att, rt); // netns gone, no prevResult
    await delNetworkList(l, att, rt); // twice
    await delNetworkList(l, { ...att, netns: "" }, rt); // no CNI_NETNS at all
    assert.equal(sandbox.reservations("t-bridge").length, 0);
  });

  test("a failed ADD leaves nothing behind (no veth, no address reserved)", async () => {
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    // The route's gateway is outside every pod subnet: the pod-side step fails after the veth exists.
    const l = list(sandbox, "bridge", {}, { routes: [{ dst: "192.168.0.0/16", gw: "10.99.99.99" }] });
    const pod = nss.create("fail");
    const att = { containerId: "c-fail", netns: nss.path(pod), ifName: "eth0" };
    await assert.rejects(addNetworkList(l, att, rt), (err: Error & { cniCode?: number }) => {
      assert.equal(err.cniCode, 102);
      return true;
    });
    assert.equal(sandbox.reservations("t-bridge").length, 0, "reservation undone");
    assert.deepEqual(ipJson(pod, ["link", "show", "type", "veth"]), [], "pod side gone");
    assert.deepEqual(
      ipJson<{ ifname: string }[]>(host, ["link"]).filter((x) => x.ifname.startsWith("veth")),
      [],
    );
  });

  test("a crash in the middle of ADD is cleaned up by DEL, and leaked addresses by GC", async () => {
    const l = list(sandbox, "bridge");
    const pod = nss.create("crash");
    const att = { containerId: "c-crash", netns: nss.path(pod), ifName: "eth0" };
    const crashing = sandbox.runtime(host, { STRATA_NO_AGENT: "1", STRATA_FAULT_CRASH_AFTER: "veth" });
    const plugin = l.plugins[0] as Record<string, unknown>;
    const out = await runPlugin("strata", "ADD", pluginStdin(l, plugin, att), att, crashing);
    assert.equal(out.exitCode, 137, "the plugin died mid-ADD");
    assert.equal(sandbox.reservations("t-bridge").length, 1, "the crash leaked a reservation");
    assert.equal(ipJson<unknown[]>(pod, ["link", "show", "type", "veth"]).length, 1, "and a veth");
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    await delNetworkList(l, att, rt);
    assert.equal(sandbox.reservations("t-bridge").length, 0);
    assert.deepEqual(ipJson(pod, ["link", "show", "type", "veth"]), []);

    // Crash right after IPAM, then the runtime forgets the container: GC reclaims the address.
    const crashIpam = sandbox.runtime(host, { STRATA_NO_AGENT: "1", STRATA_FAULT_CRASH_AFTER: "ipam" });
    const out2 = await runPlugin("strata", "ADD", pluginStdin(l, plugin, att), att, crashIpam);
    assert.equal(out2.exitCode, 137);
    assert.equal(sandbox.reservations("t-bridge").length, 1);
    await gcNetworkList(l, [], rt);
    assert.equal(sandbox.reservations("t-bridge").length, 0, "GC released the leaked address");
  });

  for (const mode of ["bridge", "routed"] as const) {
    test(`${mode} mode: ADD onto an existing interface returns code 4 naming CNI_IFNAME and touches nothing`, async () => {
      const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
      const l = list(sandbox, mode);
      const network = `t-${mode}`;
      const pod = nss.create(`twice${mode[0]}`);
      const att = { containerId: `c-twice-${mode}`, netns: nss.path(pod), ifName: "eth0" };
      const res = (await addNetworkList(l, att, rt)) as AddResult;
      // A chained plugin's changes (stand-ins: an extra address, a sysctl) must survive.
      execFileSync("ip", ["-n", pod, "addr", "add", "192.0.2.77/32", "dev", "eth0"]);
      execFileSync("ip", ["netns", "exec", pod, "sysctl", "-qw", "net.ipv4.conf.eth0.arp_notify=1"]);
      type LinkJson = { ifindex: number; address: string };
      const podLink = () => ipJson<LinkJson[]>(pod, ["link", "show", "eth0"])[0];
      const hostVeth = res.interfaces.find((i) => !i.sandbox && i.name.startsWith("veth"))?.name ?? "";
      const state = () => ({
        pod: podLink(),
        host: ipJson<LinkJson[]>(host, ["link", "show", hostVeth])[0],
        podAddrs: ipJson<{ addr_info: { local: string }[] }[]>(pod, [
          "addr",
          "show",
          "eth0",
        ])[0]?.addr_info.map((a) => a.local),
        reservations: sandbox.reservations(network).sort(),
        guard: execFileSync(
          "ip",
          [
            "netns",
            "exec",
            host,
            "nft",
            "list",
            "table",
            mode === "bridge" ? "bridge" : "inet",
            "strata-antispoof",
          ],
          { encoding: "utf8" },
        ),
        arpNotify: execFileSync(
          "ip",
          ["netns", "exec", pod, "sysctl", "-n", "net.ipv4.conf.eth0.arp_notify"],
          {
            encoding: "utf8",
          },
        ).trim(),
      });
      const before = state();
      assert.ok(before.guard.includes(addrOf(res)), "the pod's address is guarded");
      const codeOf = (p: Promise<unknown>) =>
        p.then(
          () => assert.fail("ADD must fail"),
          (err: Error & { cniCode?: number }) => {
            assert.match(err.message, /CNI_IFNAME eth0 already exists/);
            return err.cniCode;
          },
        );
      // The same attachment again (a runtime retrying ADD)...
      assert.equal(await codeOf(addNetworkList(l, att, rt)), 4);
      assert.deepEqual(state(), before, "no delete/recreate: same ifindex and MAC, addresses, IPAM, guard");
      // ...and another container's ADD that names an interface this pod already has.
      assert.equal(await codeOf(addNetworkList(l, { ...att, containerId: "c-twice-other" }, rt)), 4);
      assert.deepEqual(state(), before, "the intruding ADD undid only its own reservation");
      assert.ok(canPing(pod, mode === "bridge" ? "10.61.0.1" : "192.168.77.2"), "the pod still works");
      await delNetworkList(l, att, rt, res);
      assert.equal(sandbox.reservations(network).length, 0);
    });
  }

  test("VERSION, STATUS (ok, and code 50 when the IPAM store is unusable), and a 0.4.0 result", async () => {
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    const version = await runPlugin("strata", "VERSION", '{"cniVersion":"1.1.0"}', {}, rt);
    assert.deepEqual(JSON.parse(version.stdout).supportedVersions, [
      "0.3.0",
      "0.3.1",
      "0.4.0",
      "1.0.0",
      "1.1.0",
    ]);
    await statusNetworkList(list(sandbox, "bridge"), rt);
    // A data directory below a regular file can never be created: STATUS must say "not available".
    const broken = list(sandbox, "bridge", {}, { dataDir: "/proc/version/ipam" });
    await assert.rejects(
      statusNetworkList(broken, rt),
      (err: Error & { cniCode?: number }) => err.cniCode === 50,
    );
    const old: ConfList = { ...list(sandbox, "bridge"), cniVersion: "0.4.0" };
    const pod = nss.create("v040");
    const att = { containerId: "c-v040", netns: nss.path(pod), ifName: "eth0" };
    const res = (await addNetworkList(old, att, rt)) as { cniVersion: string; ips: { version?: string }[] };
    assert.equal(res.cniVersion, "0.4.0");
    assert.equal(res.ips[0]?.version, "4");
    await delNetworkList(old, att, rt, res);
  });

  test("ADD fails with code 3 when the pod namespace does not exist", async () => {
    const rt = sandbox.runtime(host, { STRATA_NO_AGENT: "1" });
    const att = { containerId: "c-nons", netns: "/run/netns/strata-t-does-not-exist", ifName: "eth0" };
    await assert.rejects(
      addNetworkList(list(sandbox, "bridge"), att, rt),
      (err: Error & { cniCode?: number }) => err.cniCode === 3,
    );
    assert.equal(sandbox.reservations("t-bridge").length, 0);
  });
});

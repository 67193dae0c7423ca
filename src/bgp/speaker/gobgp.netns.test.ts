import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { linkedPair, startBgpPeer } from "../../../test/support/bgp.js";
import { hasCommands } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

/** Strata's speaker against a real GoBGP (Debian gobgpd), each in its own namespace. */
describe("BGP session with GoBGP", { skip: !hasCommands("gobgpd") && "gobgpd not installed" }, () => {
  const nss = new TestNamespaces("gobgp");
  const dir = mkdtempSync(join(tmpdir(), "strata-gobgp-"));
  const procs: ChildProcess[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("eBGP session reaches Established and routes flow both ways", async () => {
    const [a, b] = linkedPair(nss, ["gobgp", "strata"], ["192.168.61.1", "192.168.61.2"]);
    writeFileSync(
      join(dir, "gobgpd.toml"),
      `[global.config]
  as = 65001
  router-id = "192.168.61.1"
  local-address-list = ["192.168.61.1"]
[global.apply-policy.config]
  default-import-policy = "accept-route"
  default-export-policy = "accept-route"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.61.2"
    peer-as = 65002
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
    );
    procs.push(
      spawn(
        "ip",
        ["netns", "exec", a, "gobgpd", "-f", join(dir, "gobgpd.toml"), "--api-hosts", "127.0.0.1:50051"],
        { stdio: "ignore" },
      ),
    );
    const cli = (...args: string[]) =>
      execFileSync("ip", ["netns", "exec", a, "gobgp", "-u", "127.0.0.1", "-p", "50051", ...args], {
        encoding: "utf8",
      });
    await eventually(() => {
      cli("global", "rib", "add", "10.244.5.0/24", "nexthop", "192.168.61.1");
      return true;
    }, "gobgpd API up");
    const { proc, events } = startBgpPeer(b, [
      "--local-as",
      "65002",
      "--router-id",
      "192.168.61.2",
      "--peer",
      "192.168.61.1",
      "--peer-as",
      "65001",
      "--hold",
      "9",
      "--announce",
      "10.244.8.0/24",
      "--next-hop",
      "192.168.61.2",
    ]);
    procs.push(proc);
    await eventually(() => events.some((e) => e.state === "Established"), "session Established");
    await eventually(() => events.some((e) => e.nlri?.includes("10.244.5.0/24")), "GoBGP's route received");
    assert.deepEqual(events.find((e) => e.nlri?.includes("10.244.5.0/24"))?.attributes?.asPath, [
      { type: "sequence", asns: [65001] },
    ]);
    await eventually(
      () => /10\.244\.8\.0\/24\s+192\.168\.61\.2\s+65002/.test(cli("global", "rib")),
      "GoBGP has our route",
    );
    assert.match(cli("neighbor"), /Establ/);
  });
});

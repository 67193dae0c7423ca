import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { linkedPair, startBgpPeer } from "../../../test/support/bgp.js";
import { hasCommands } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { eventually } from "../../common/eventually.js";

/** Strata's speaker against a real BIRD 2 (Debian bird2), each in its own namespace. */
describe("BGP session with BIRD 2", { skip: !hasCommands("bird") && "bird2 not installed" }, () => {
  const nss = new TestNamespaces("bgp");
  const dir = mkdtempSync(join(tmpdir(), "strata-bird-"));
  const procs: ChildProcess[] = [];
  const birdPid = () => Number(readFileSync(join(dir, "bird.pid"), "utf8"));
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    try {
      process.kill(birdPid(), "SIGKILL");
    } catch {
      // not running
    }
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("eBGP session reaches Established, routes flow both ways with the right attributes, peer loss is seen", async () => {
    const [a, b] = linkedPair(nss, ["bird", "strata"], ["192.168.60.1", "192.168.60.2"]);
    writeFileSync(
      join(dir, "bird.conf"),
      `router id 192.168.60.1;
protocol device {}
protocol static { ipv4; route 10.244.1.0/24 blackhole; }
protocol bgp strata {
  local 192.168.60.1 as 65001;
  neighbor 192.168.60.2 as 65002;
  hold time 9;
  ipv4 { import all; export all; next hop self; };
}
`,
    );
    const ctl = join(dir, "bird.ctl");
    execFileSync("ip", [
      "netns",
      "exec",
      a,
      "bird",
      "-c",
      join(dir, "bird.conf"),
      "-s",
      ctl,
      "-P",
      join(dir, "bird.pid"),
    ]);
    const { proc, events } = startBgpPeer(b, [
      "--local-as",
      "65002",
      "--router-id",
      "192.168.60.2",
      "--peer",
      "192.168.60.1",
      "--peer-as",
      "65001",
      "--hold",
      "9",
      "--announce",
      "10.244.9.0/24",
      "--next-hop",
      "192.168.60.2",
    ]);
    procs.push(proc);
    await eventually(() => events.some((e) => e.state === "Established"), "session Established");
    await eventually(() => events.some((e) => e.nlri?.includes("10.244.1.0/24")), "BIRD's route received");
    const got = events.find((e) => e.nlri?.includes("10.244.1.0/24"));
    assert.deepEqual(got?.attributes?.asPath, [{ type: "sequence", asns: [65001] }]);
    assert.equal(got?.attributes?.nextHop, "192.168.60.1");
    const birdc = (...args: string[]) => execFileSync("birdc", ["-s", ctl, ...args], { encoding: "utf8" });
    await eventually(
      () => birdc("show", "route", "10.244.9.0/24").includes("AS65002i"),
      "BIRD has our route with AS_PATH 65002",
    );
    assert.match(birdc("show", "protocols", "strata"), /Established/);
    // BIRD goes away: the session must leave Established.
    process.kill(birdPid(), "SIGKILL");
    await eventually(
      () => events.at(-1)?.state !== "Established" && events.at(-1)?.event === "state",
      "session down after peer loss",
    );
  });
});

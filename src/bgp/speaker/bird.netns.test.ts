import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { hasCommands, repoRoot } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";

/** Strata's speaker against a real BIRD 2 (Debian bird2), each in its own namespace. */
describe("BGP session with BIRD 2", { skip: !hasCommands("bird") && "bird2 not installed" }, () => {
  const nss = new TestNamespaces("bgp");
  const dir = mkdtempSync(join(tmpdir(), "strata-bird-"));
  const procs: ChildProcess[] = [];
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    try {
      process.kill(Number(readFileSync(join(dir, "bird.pid"), "utf8")), "SIGKILL");
    } catch {
      // not running
    }
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("eBGP session reaches Established, routes flow both ways with the right attributes, peer loss is seen", async () => {
    const a = nss.create("bird");
    const b = nss.create("strata");
    const sh = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args]);
    sh(a, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b);
    sh(a, "addr", "add", "192.168.60.1/24", "dev", "eth0");
    sh(b, "addr", "add", "192.168.60.2/24", "dev", "eth0");
    sh(a, "link", "set", "eth0", "up");
    sh(b, "link", "set", "eth0", "up");
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
    const peer = spawn(
      "ip",
      [
        "netns",
        "exec",
        b,
        process.execPath,
        join(repoRoot, "bin/strata.js"),
        "bgp-peer",
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
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    procs.push(peer);
    const events: { event: string; state?: string; nlri?: string[]; attributes?: Record<string, unknown> }[] =
      [];
    peer.stdout?.setEncoding("utf8").on("data", (d: string) => {
      for (const line of d.split("\n").filter(Boolean)) events.push(JSON.parse(line));
    });
    const until = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(cond(), what);
    };
    await until(() => events.some((e) => e.state === "Established"), "session Established");
    await until(() => events.some((e) => e.nlri?.includes("10.244.1.0/24")), "BIRD's route received");
    const got = events.find((e) => e.nlri?.includes("10.244.1.0/24"));
    assert.deepEqual(got?.attributes?.asPath, [{ type: "sequence", asns: [65001] }]);
    assert.equal(got?.attributes?.nextHop, "192.168.60.1");
    await until(
      () =>
        execFileSync("birdc", ["-s", ctl, "show", "route", "10.244.9.0/24"], { encoding: "utf8" }).includes(
          "AS65002i",
        ),
      "BIRD has our route with AS_PATH 65002",
    );
    assert.match(
      execFileSync("birdc", ["-s", ctl, "show", "protocols", "strata"], { encoding: "utf8" }),
      /Established/,
    );
    // BIRD goes away: the session must leave Established.
    process.kill(Number(readFileSync(join(dir, "bird.pid"), "utf8")), "SIGKILL");
    await until(
      () =>
        events.at(-1)?.state === "Idle" ||
        events.at(-1)?.state === "Active" ||
        events.at(-1)?.state === "Connect",
      "session down after peer loss",
    );
  });
});

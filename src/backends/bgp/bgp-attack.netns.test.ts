import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { jsonInNetns } from "../../../test/support/agent-http.js";
import { kernelRoute, lan, type SpeakerLine, startStrataSpeaker } from "../../../test/support/bgp.js";
import { repoRoot } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { tcpSecurityAvailable } from "../../bgp/speaker/tcp-security.js";
import { eventually } from "../../common/eventually.js";

/**
 * The issue's BGP attack, replayed: three nodes run real `strata agent --backend bgp` processes
 * (peers from the leases in an embedded datastore); n2's agent goes down; a pod on n2 — its traffic
 * masqueraded by n2's own egress rule to n2's address, a configured peer of n1 — opens a BGP session
 * to n1 and announces 0.0.0.0/1, a /25 of n3's pod subnet, 203.0.113.0/24 and n2's subnet with
 * itself as next hop. Without a mesh password the session comes up but n1 installs none of them
 * and counts them; with --bgp-password-file the session never starts. The real nodes' subnets are
 * learned and installed either way.
 */
interface SessionRow {
  peer: string;
  state: string;
  prefixes: number;
  rejected: number;
  rejectedTotal: number;
  rejectedExamples?: { prefix: string; reason: string }[];
}
interface Health {
  subnet?: string;
  backend?: { bgpSessions: SessionRow[]; bgpRejectedRoutes: number };
}

describe("BGP: a pod behind a node cannot steer another node's routes", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-bgp-attack-"));
  const procs: ChildProcess[] = [];
  const nss = new TestNamespaces("bgpatk");
  after(() => {
    for (const p of procs) p.kill("SIGKILL");
    nss.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = join(repoRoot, "bin/strata.js");
  const run = (args: string[]) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: "ignore" });
    procs.push(p);
    return p;
  };
  const health = (ns: string): Health => jsonInNetns<Health>(ns, "/healthz");

  /** Three nodes on one switch, a datastore, an agent per node; resolves when n1 has routes to n2 and n3. */
  async function cluster(tag: string, passwordFile?: string) {
    const store = join(dir, `${tag}.sock`);
    run(["datastore", "--socket", store, "--dir", join(dir, `${tag}-store`)]);
    await eventually(() => existsSync(store), "datastore up");
    const nodes = lan(nss, [`${tag}1`, `${tag}2`, `${tag}3`], tag === "a" ? "192.168.72" : "192.168.73");
    const agents = nodes.map((m, i) => {
      const stateDir = join(dir, `${tag}-n${i + 1}`);
      const args = [
        ...["agent", "--node", `n${i + 1}`, "--backend", "bgp", "--datastore", `embedded:${store}`],
        ...["--underlay-dev", "eth0", "--lease-ttl", "60", "--bgp-hold", "9", "--state-dir", stateDir],
        ...(passwordFile ? ["--bgp-password-file", passwordFile] : []),
      ];
      const p = spawn("ip", ["netns", "exec", m.ns, process.execPath, cli, ...args], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      procs.push(p);
      return { ...m, proc: p, stateDir };
    });
    const subnets = await Promise.all(
      agents.map(async (a) => {
        const f = join(a.stateDir, "subnet.json");
        await eventually(() => existsSync(f), "subnet leased");
        return (JSON.parse(readFileSync(f, "utf8")) as { subnet: string }).subnet;
      }),
    );
    const [n1, n2, n3] = agents as [(typeof agents)[0], (typeof agents)[0], (typeof agents)[0]];
    const [, s2 = "", s3 = ""] = subnets;
    await eventually(
      () =>
        kernelRoute(n1.ns, s2).includes(`via ${n2.ip}`) &&
        kernelRoute(n1.ns, s3).includes(`via ${n3.ip}`) &&
        kernelRoute(n3.ns, s2).includes(`via ${n2.ip}`),
      "the legitimate path: nodes learn and install each other's subnets",
      { timeoutMs: 30_000 },
    );
    return { n1, n2, n3, s2, s3 };
  }

  /** n2's agent dies (its lease and egress masquerade stay); a pod on n2 speaks BGP to n1. */
  function attackFromPod(n1: { ip: string }, n2: { ns: string; proc: ChildProcess }, s2: string, s3: string) {
    n2.proc.kill("SIGKILL");
    const pod = nss.create("pod");
    const gw = s2.replace(/0\/24$/, "1");
    const podIp = s2.replace(/0\/24$/, "10");
    const ip = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
    ip(n2.ns, "link", "add", "vpod", "type", "veth", "peer", "name", "eth0", "netns", pod);
    ip(n2.ns, "addr", "add", `${gw}/24`, "dev", "vpod");
    ip(n2.ns, "link", "set", "vpod", "up");
    ip(pod, "addr", "add", `${podIp}/24`, "dev", "eth0");
    ip(pod, "link", "set", "eth0", "up");
    ip(pod, "route", "add", "default", "via", gw);
    const forged = ["0.0.0.0/1", s3.replace(/0\/24$/, "0/25"), "203.0.113.0/24", s2];
    const attacker = startStrataSpeaker(pod, [
      ...["--asn", "64512", "--router-id", "10.99.99.99", "--hold", "9", "--connect-retry", "1"],
      ...["--peer", `${n1.ip},as=64512`, "--announce", forged.join(",")],
    ]);
    procs.push(attacker.proc);
    return { forged, events: attacker.events as SpeakerLine[] };
  }

  test("without a mesh password: the session comes up, every forged route is refused and counted", async () => {
    const { n1, n2, n3, s2, s3 } = await cluster("a");
    const { forged, events } = attackFromPod(n1, n2, s2, s3);
    await eventually(() => events.some((e) => e.event === "established"), "the pod's session to n1 is up", {
      timeoutMs: 20_000,
    });
    const row = () => health(n1.ns).backend?.bgpSessions.find((s) => s.peer === n2.ip);
    await eventually(() => row()?.rejected === forged.length, "n1 refused all four", { timeoutMs: 20_000 });
    const r = row() as SessionRow;
    assert.equal(r.state, "Established", "refusing routes is a filter, not a session reset");
    assert.equal(r.prefixes, 0, "nothing from the pod was accepted");
    assert.ok(
      (health(n1.ns).backend?.bgpRejectedRoutes ?? 0) >= forged.length,
      "the /healthz total counts them",
    );
    for (const p of ["0.0.0.0/1", "203.0.113.0/24", forged[1] as string])
      assert.equal(kernelRoute(n1.ns, p), "", `${p} is not in n1's kernel`);
    // n2's agent is dead but its lease stands: n1 keeps n2's route via n2 itself (retention,
    // issue 9), and the pod's announcement of the same subnet never replaces it.
    const r2 = kernelRoute(n1.ns, s2);
    assert.ok(!/via 10\.244\./.test(r2), `n2's subnet never points into the pod: ${r2}`);
    assert.ok(r2.includes(`via ${n2.ip}`), `n2's subnet stays via n2: ${r2}`);
    assert.ok(kernelRoute(n1.ns, s3).includes(`via ${n3.ip}`), "n3's subnet still via n3");
    const reasons = JSON.stringify(r.rejectedExamples);
    assert.match(
      reasons,
      /overlaps this node's own pod subnet|overlaps node n3's|not a node's pod subnet|next hop/,
    );
  });

  test("with --bgp-password-file: the pod's session never starts; the nodes' sessions do", {
    skip: !tcpSecurityAvailable() && "the TCP-MD5 addon is not built",
  }, async () => {
    const key = join(dir, "mesh.key");
    writeFileSync(key, "mesh-s3cret\n", { mode: 0o600 });
    const { n1, n2, n3, s2, s3 } = await cluster("b", key);
    assert.equal(
      health(n1.ns).backend?.bgpSessions.filter((s) => s.state === "Established").length,
      2,
      "n1's signed sessions to n2 and n3",
    );
    const { forged, events } = attackFromPod(n1, n2, s2, s3);
    await new Promise((r) => setTimeout(r, 8000)); // many connect retries of the pod
    assert.equal(
      events.some((e) => e.event === "established"),
      false,
      "no session from the pod",
    );
    assert.equal(
      events.some((e) => e.event === "state" && e.state === "OpenConfirm"),
      false,
      "not even an OPEN from n1",
    );
    const h = health(n1.ns);
    assert.notEqual(h.backend?.bgpSessions.find((s) => s.peer === n2.ip)?.state, "Established");
    assert.equal(h.backend?.bgpRejectedRoutes, 0, "nothing to refuse: no UPDATE got in");
    for (const p of forged.slice(0, 3)) assert.equal(kernelRoute(n1.ns, p), "", `${p} is not in n1's kernel`);
    assert.ok(kernelRoute(n1.ns, s3).includes(`via ${n3.ip}`), "n3's subnet still via n3");
  });
});

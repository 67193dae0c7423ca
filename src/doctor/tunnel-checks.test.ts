import assert from "node:assert/strict";
import { test } from "node:test";
import { healthyVxlan, lease } from "../../test/support/doctor-facts.js";
import { checkPodMtu } from "./checks/mtu.js";
import { checkRoutes } from "./checks/paths.js";
import { checkTunnel } from "./checks/tunnel.js";
import type { NodeFacts } from "./facts.js";
import { runChecks } from "./run-checks.js";
import type { Verdict } from "./verdict.js";

const problems = (vs: readonly Verdict[]) => vs.filter((v) => !v.ok);

/** n1 of a healthy 3-node lab on one subnet, as the ipip (or gre) model with the given datapath. */
function healthyTunnel(
  model: "ipip" | "gre" | "ipip-crosssubnet",
  datapath: "kernel" | "bpf",
  overhead = model === "gre" ? 24 : 20,
): NodeFacts {
  const f = healthyVxlan();
  const proto = model.startsWith("gre") ? "gre" : "ipip";
  const dev = `strata.${proto}`;
  const podMtu = 1500 - overhead;
  const leases = [1, 2, 3].map((i) => ({ ...lease(`n${i}`, i, model), backendData: { tunnel: proto } }));
  const tunnelled = model === "ipip-crosssubnet" ? [] : leases.slice(1);
  return {
    ...f,
    agent: {
      ...f.agent,
      health: {
        ...f.agent.health,
        model,
        podMtu,
        backend: {
          datapath,
          datapathReason:
            datapath === "bpf" ? `auto: this kernel has no ${proto} module; tc-BPF encapsulates` : "auto",
          tunnelDevice: dev,
          overhead,
          ...(datapath === "bpf"
            ? { peerMapSync: { peers: tunnelled.length, at: "2026-11-30T11:59:55Z" } }
            : {}),
        },
      },
    },
    kernel: {
      ...f.kernel,
      links: [
        ...f.kernel.links.filter((l) => l.kind !== "vxlan"),
        {
          index: 3,
          name: dev,
          kind: datapath === "bpf" ? "tun" : proto,
          mtu: podMtu,
          up: true,
          operState: "UNKNOWN",
        },
      ],
      addresses: [
        { dev: "eth0", family: 4, cidr: "192.168.10.11/24", scope: "global" },
        { dev, family: 4, cidr: "10.244.1.0/32", scope: "global" },
      ],
      routes: [
        { dst: "default", via: "192.168.10.1", dev: "eth0" },
        ...leases
          .slice(1)
          .map((l) =>
            model === "ipip-crosssubnet"
              ? { dst: l.subnet, via: l.publicIp, dev: "eth0", proto: "147" }
              : datapath === "kernel"
                ? { dst: l.subnet, via: l.publicIp, dev, onlink: true, proto: "147" }
                : { dst: l.subnet, dev, proto: "147" },
          ),
      ],
      neighbours: [],
      fdb: [],
      offload: {},
    },
    stateDir: f.stateDir && {
      ...f.stateDir,
      subnet: { subnet: "10.244.1.0/24", mtu: podMtu },
      conflistMtu: podMtu,
    },
    cluster: { leases, rejected: [] },
    probes: f.probes
      .filter((p) => p.kind === "underlay" || tunnelled.length > 0)
      .map((p) => (p.kind === "overlay" ? { ...p, size: podMtu } : p)),
  };
}

test("a healthy ipip or gre node, kernel device or tc-BPF, or crosssubnet on one subnet: every check ok", () => {
  for (const [model, datapath] of [
    ["ipip", "kernel"],
    ["ipip", "bpf"],
    ["gre", "kernel"],
    ["gre", "bpf"],
    ["ipip-crosssubnet", "bpf"],
  ] as const) {
    const vs = runChecks(healthyTunnel(model, datapath));
    assert.deepEqual(problems(vs), [], `${model} ${datapath}`);
    const tunnel = vs.find((v) => v.check === "tunnel");
    assert.match(tunnel?.text ?? "", new RegExp(`strata\\.${model.slice(0, 4).replace("-", "")}`));
  }
  const bpf = checkTunnel(healthyTunnel("ipip", "bpf"), []);
  assert.match(
    bpf[0]?.text ?? "",
    /strata\.ipip \(tc-BPF\) carries 2 peers; auto: this kernel has no ipip module/,
  );
});

test("pod MTU: − 20 for ipip, − 28 for GRE with a key (as the agent reports), and a pod MTU above it is named", () => {
  assert.match(checkPodMtu(healthyTunnel("ipip", "bpf")).text, /pod MTU 1480 = eth0 1500 − 20 \(ipip\)/);
  const keyed = healthyTunnel("gre", "kernel", 28);
  assert.match(checkPodMtu(keyed).text, /pod MTU 1472 = eth0 1500 − 28 \(gre\)/);
  const tooBig = { ...keyed, agent: { ...keyed.agent, health: { ...keyed.agent.health, podMtu: 1476 } } };
  assert.match(checkPodMtu(tooBig).text, /1476 > underlay MTU 1500 − 28/);
});

test("routes: a tunnelled peer's route must go through strata.<proto>", () => {
  const f = healthyTunnel("gre", "kernel");
  const routes = f.kernel.routes.map((r) => (r.dst === "10.244.2.0/24" ? { ...r, dev: "eth0" } : r));
  const [bad] = problems(checkRoutes({ ...f, kernel: { ...f.kernel, routes } }));
  assert.match(bad?.text ?? "", /the gre model sends them through strata\.gre/);
});

test("tunnel: missing device, wrong kind for the datapath, missing address, kernel route via the wrong node", () => {
  const f = healthyTunnel("ipip", "kernel");
  const noDev = checkTunnel(
    { ...f, kernel: { ...f.kernel, links: f.kernel.links.filter((l) => l.name !== "strata.ipip") } },
    [],
  );
  assert.equal(noDev[0]?.reason, "tunnel-device-missing");
  const tun = f.kernel.links.map((l) => (l.name === "strata.ipip" ? { ...l, kind: "tun" } : l));
  assert.match(
    checkTunnel({ ...f, kernel: { ...f.kernel, links: tun } }, [])[0]?.text ?? "",
    /is a tun device, the kernel datapath needs a device of kind ipip/,
  );
  const noAddr = checkTunnel(
    { ...f, kernel: { ...f.kernel, addresses: f.kernel.addresses.slice(0, 1) } },
    [],
  );
  assert.match(noAddr[0]?.text ?? "", /strata\.ipip lacks 10\.244\.1\.0\/32/);
  const routes = f.kernel.routes.map((r) => (r.dst === "10.244.3.0/24" ? { ...r, via: "192.168.10.12" } : r));
  const wrongVia = checkTunnel({ ...f, kernel: { ...f.kernel, routes } }, []);
  assert.equal(wrongVia[0]?.peer, "n3");
  assert.match(
    wrongVia[0]?.fix ?? "",
    /ip route replace 10\.244\.3\.0\/24 via 192\.168\.10\.13 dev strata\.ipip onlink proto 147/,
  );
});

test("tunnel: a BPF peer map short of the tunnelled peers, or never synced, is a problem", () => {
  const f = healthyTunnel("gre", "bpf");
  const backend = f.agent.health?.backend;
  const withSync = (peerMapSync?: { peers: number; at: string }) =>
    checkTunnel(
      { ...f, agent: { ...f.agent, health: { ...f.agent.health, backend: { ...backend, peerMapSync } } } },
      [],
    );
  assert.match(
    withSync({ peers: 1, at: "t" })[0]?.text ?? "",
    /synced with 1 peer \(t\), 2 are reached through strata\.gre/,
  );
  assert.equal(withSync(undefined)[0]?.reason, "tunnel-peer-map");
});

test("tunnel: an overlay probe unanswered while the underlay answers names the IP protocol to allow", () => {
  const f = healthyTunnel("gre", "kernel");
  const probes = f.probes.map((p) =>
    p.kind === "overlay" && p.peer === "n2" ? { ...p, ok: false, largest: 0 } : p,
  );
  const [blocked] = problems(checkTunnel({ ...f, probes }, []));
  assert.equal(blocked?.reason, "tunnel-proto-blocked");
  assert.match(blocked?.fix ?? "", /allow IP protocol 47 \(gre\)/);
  // With the underlay down as well, the DF probe check names that instead.
  const down = probes.map((p) => (p.peer === "n2" ? { ...p, ok: false, largest: 0 } : p));
  assert.deepEqual(problems(checkTunnel({ ...f, probes: down }, [])), []);
});

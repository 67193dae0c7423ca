import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { labSpec, quietProgress } from "../../test/support/lab-spec.js";
import { labPaths } from "../cli/paths.js";
import { networkAddress } from "../common/cidr.js";
import { eventually } from "../common/eventually.js";
import { namedNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { agentHealth } from "../lab/agent-health.js";
import { startRecordedProcess, stopRecordedProcess } from "../lab/control.js";
import { labDown, labUp } from "../lab/runner.js";
import { forgeRules, forgeTable } from "../lab/source-guard-check.js";
import {
  type LabState,
  labDir,
  labProcess,
  readLabStateSync,
  withProcess,
  writeLabState,
} from "../lab/state.js";
import { underlayNs } from "../lab/topology.js";
import { type LabDoctorReport, labDoctor } from "./lab-doctor.js";
import type { DoctorReason, Verdict } from "./verdict.js";

// Runs only under the lab lock: flock /tmp/strata-lab.lock node scripts/run-tests.mjs lab-doctor

const kernel = createIproute2Kernel();
const paths = labPaths();

const all = (r: LabDoctorReport): Verdict[] => [...r.nodes.flatMap((n) => n.verdicts), ...r.lab];
const bad = (r: LabDoctorReport) => all(r).filter((v) => !v.ok);
const show = (r: LabDoctorReport) => JSON.stringify(bad(r), null, 1);

/** The problem doctor names on `node` for `reason` (and peer), or a failed assertion showing what it said. */
function named(r: LabDoctorReport, node: string, reason: DoctorReason, peer?: string): Verdict {
  const v = bad(r).find(
    (x) => x.node === node && x.reason === reason && (peer === undefined || x.peer === peer),
  );
  assert.ok(v, `expected ${reason} on ${node}${peer ? ` about ${peer}` : ""}; doctor said ${show(r)}`);
  return v;
}

async function sh(ns: string, ...argv: string[]): Promise<void> {
  const r = await kernel.exec(namedNetns(ns), argv);
  assert.equal(r.code, 0, `${argv.join(" ")} in ${ns}: ${r.stderr}`);
}

const nodeOf = (state: LabState, name: string) => {
  const n = state.nodes.find((x) => x.name === name);
  assert.ok(n);
  return n;
};

/**
 * Restart one agent with a repair pass far away: a fault injected by hand stays until doctor has
 * looked (the default 10 s pass would race the injection).
 */
async function withoutRepair(node: string): Promise<void> {
  await stopRecordedProcess(readLabStateSync() as LabState, "agent", node);
  const state = readLabStateSync() as LabState;
  const proc = labProcess(state, "agent", node);
  assert.ok(proc);
  writeLabState(withProcess(state, { ...proc, argv: [...proc.argv, "--resync-interval", "3600"] }));
  await startRecordedProcess(readLabStateSync() as LabState, "agent", node, kernel);
}

/**
 * Wait until no agent's reconcile count moves for 2 s: a restarted agent writes its lease again,
 * and the other agents' passes on that event would undo a fault injected just before.
 */
async function settled(state: LabState): Promise<void> {
  const counts = async () =>
    JSON.stringify(
      await Promise.all(
        state.nodes.map(async (n) => {
          const body = (await agentHealth(kernel, n.ns)).body as {
            reconciles?: number;
            firstReconcileAt?: string;
          };
          return body?.firstReconcileAt ? body.reconciles : undefined;
        }),
      ),
    );
  let last = await counts();
  let since = Date.now();
  await eventually(
    async () => {
      const now = await counts();
      if (now !== last || now.includes("null")) {
        last = now;
        since = Date.now();
      }
      return Date.now() - since >= 2000;
    },
    "the agents to settle",
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

const doctor = (state: LabState) => labDoctor(kernel, state, paths);

describe("lab doctor (strata doctor on every node of a running lab)", { concurrency: 1 }, () => {
  after(() => labDown(kernel));

  test("vxlan on l2: healthy is all ok; each injected fault is named on the right node with the right reason", async () => {
    let state = await labUp(kernel, labSpec({}), paths, quietProgress);
    const healthy = await doctor(state);
    assert.deepEqual(bad(healthy), [], show(healthy));
    assert.ok(all(healthy).some((v) => v.check === "DF probes" && /overlay 1450 B/.test(v.text)));
    assert.ok(all(healthy).some((v) => v.check === "vxlan port" && /UDP 8472 answered/.test(v.text)));

    await withoutRepair("n1");
    await withoutRepair("n2");
    state = readLabStateSync() as LabState;
    await settled(state);
    const [n1, n2, n3] = ["n1", "n2", "n3"].map((n) => nodeOf(state, n));
    assert.ok(n1 && n2 && n3);

    // A route deleted on n1, and an IPAM reservation on n2 whose pod is gone.
    await sh(n1.ns, "ip", "route", "del", n2.subnet);
    const orphan = join(labDir, "n2", "ipam", "strata", n2.subnet.replace(/\.0\/24$/, ".250"));
    await writeFile(orphan, "ghost-container\r\neth0");
    let r = await doctor(state);
    assert.match(named(r, "n1", "pod-route-missing", "n2").text, new RegExp(`no route to n2 .*${n2.subnet}`));
    assert.match(named(r, "n2", "ipam-orphan").text, /reserved for container ghost-container \(eth0\)/);
    assert.equal(r.ok, false);
    await rm(orphan);
    const vtep2 = networkAddress(n2.subnet);
    await sh(
      n1.ns,
      "ip",
      "route",
      "add",
      n2.subnet,
      "via",
      vtep2,
      "dev",
      "strata.1",
      "onlink",
      "proto",
      "147",
    );

    // An FDB entry deleted on n2 (n3's VTEP).
    const fdb = await kernel.fdb(namedNetns(n2.ns), "strata.1");
    const toN3 = fdb.find((e) => e.dst === n3.ip);
    assert.ok(toN3);
    await sh(n2.ns, "bridge", "fdb", "del", toN3.mac, "dev", "strata.1", "dst", n3.ip, "self");
    r = await doctor(state);
    assert.match(named(r, "n2", "fdb-missing", "n3").text, new RegExp(`${toN3.mac} → n3`));
    assert.ok(!bad(r).some((v) => v.node === "n1"), show(r));
    await sh(
      n2.ns,
      "bridge",
      "fdb",
      "append",
      toN3.mac,
      "dev",
      "strata.1",
      "dst",
      n3.ip,
      "self",
      "permanent",
    );

    // The MTU of n3's underlay link lowered: the bridge drops larger frames without a word.
    await sh(underlayNs, "ip", "link", "set", "p-n3", "mtu", "1400");
    r = await doctor(state);
    const link = r.lab.find((v) => v.check === "underlay link" && !v.ok);
    assert.equal(link?.node, "n3", show(r));
    assert.match(link?.text ?? "", /p-n3 .* has MTU 1400/);
    // A bridge forwards frames up to MTU + 4 (room for a VLAN tag): the probes measure 1404 B.
    assert.match(named(r, "n1", "mtu-exceeded", "n3").text, /DF packets of 1500 B do not pass, 140\d B do/);
    assert.match(named(r, "n3", "mtu-exceeded", "n2").text, /the path carries at most 140\d B/);
    assert.ok(!bad(r).some((v) => v.peer === "n2" && v.node === "n1"), show(r));
    await sh(underlayNs, "ip", "link", "set", "p-n3", "mtu", "1500");

    // A pod on n1 forging its source (a neighbour pod's address) while doctor looks: n1's source
    // guard drops it, and doctor names n1 and no other node.
    const forger = state.pods.find((p) => p.node === "n1");
    const victim = state.pods.find((p) => p.node === "n1" && p !== forger);
    const target = state.pods.find((p) => p.node === "n2");
    assert.ok(forger && victim && target);
    await sh(forger.ns, "nft", forgeRules(victim.ip, target.ip));
    const pinger = spawn(
      "ip",
      ["netns", "exec", forger.ns, "ping", "-q", "-i", "0.2", "-c", "150", target.ip],
      {
        stdio: "ignore",
      },
    );
    try {
      r = await doctor(state);
      assert.match(
        named(r, "n1", "spoofed-source").text,
        /[1-9]\d* packets dropped in the last \d+ s \(ipv4/,
      );
      assert.ok(!bad(r).some((v) => v.reason === "spoofed-source" && v.node !== "n1"), show(r));
    } finally {
      pinger.kill();
      await sh(forger.ns, "nft", "delete", "table", "ip", forgeTable);
    }

    // rp_filter strict on n1 where the path is asymmetric: n1 sends to n2's pods directly, they
    // answer through VXLAN (n2 still encapsulates), and strict mode drops what arrives on strata.1.
    await sh(n1.ns, "ip", "route", "replace", n2.subnet, "via", n2.ip, "dev", "eth0");
    await sh(n1.ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1");
    r = await doctor(state);
    const rp = named(r, "n1", "rp-filter-drop", "n2");
    assert.match(rp.text, /strict\) on strata\.1 .* the route back to .* leaves by eth0/);
    assert.ok(!bad(r).some((v) => v.reason === "rp-filter-drop" && v.node !== "n1"), show(r));
    await labDown(kernel);
  });

  test("bgp on l2: healthy is all ok; a node whose address changed is named, and its peers' sessions say why", async () => {
    const state = await labUp(kernel, labSpec({ model: "bgp" }), paths, quietProgress);
    const healthy = await doctor(state);
    assert.deepEqual(bad(healthy), [], show(healthy));
    assert.ok(
      all(healthy).some((v) => v.check === "bgp sessions" && /2 BGP sessions Established/.test(v.text)),
    );

    const n2 = nodeOf(state, "n2");
    await sh(n2.ns, "ip", "addr", "del", `${n2.ip}/24`, "dev", "eth0");
    await sh(n2.ns, "ip", "addr", "add", "192.168.10.99/24", "dev", "eth0");
    // n1's session to n2 goes when its hold timer (9 s) expires.
    await eventually(
      async () => {
        const h = (await agentHealth(kernel, nodeOf(state, "n1").ns)).body as {
          backend?: { bgpSessions?: { peer: string; state: string }[] };
        };
        return h.backend?.bgpSessions?.some((s) => s.peer === n2.ip && s.state !== "Established") ?? false;
      },
      "n1's session to n2 to go down",
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const r = await doctor(state);
    assert.match(
      named(r, "n2", "bgp-local-address-missing").text,
      new RegExp(`${n2.ip.replace(/\./g, "\\.")} is not on this node`),
    );
    assert.match(
      named(r, "n1", "bgp-session-down", "n2").text,
      /session to n2 192\.168\.10\.12 is \w+, not Established/,
    );
    await labDown(kernel);
  });

  // Every other model and underlay (host-gw on l2 only): a healthy lab gives all ok.
  for (const s of [
    labSpec({ model: "host-gw" }),
    labSpec({ model: "vxlan-crosssubnet" }),
    labSpec({ model: "vxlan", underlay: "l3" }),
    labSpec({ model: "vxlan-crosssubnet", underlay: "l3" }),
    labSpec({ model: "bgp", underlay: "l3" }),
    labSpec({ model: "ipip" }),
    labSpec({ model: "gre", underlay: "l3" }),
    labSpec({ model: "ipip-crosssubnet", underlay: "l3" }),
  ])
    test(`${s.model} on ${s.underlay}: a healthy lab gives all ok`, async () => {
      const state = await labUp(kernel, s, paths, quietProgress);
      const r = await doctor(state);
      assert.deepEqual(bad(r), [], show(r));
      assert.equal(r.nodes.length, 3);
      assert.ok(all(r).filter((v) => v.check === "DF probes" && !v.skipped).length === 3);
      // The tunnel models: every node's tunnel check ran and says which datapath carries it.
      if (/^(ipip|gre)/.test(s.model))
        assert.equal(all(r).filter((v) => v.check === "tunnel" && v.ok && /carries/.test(v.text)).length, 3);
      await labDown(kernel);
    });
});

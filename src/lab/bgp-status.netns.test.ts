import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { labSpec } from "../../test/support/lab-spec.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { recordingIproute2Kernel } from "../../test/support/recording-kernel.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import { loadRtnetlinkAddon, withRtnetlink } from "../kernel/rtnetlink/driver.js";
import { countBgpSessions } from "./bgp-status.js";
import type { LabState } from "./state.js";

/** Node programs in three "node" namespaces: n1 and n2 peer over BGP's port (IPv4 and IPv6), n3 not. */
const program = (lines: string) => `
const net = require("node:net");
const held = [];
const keep = (s) => held.push(s.on("error", () => {}));
const listen = (port) => new Promise((r) => net.createServer(keep).listen({ port, host: "::" }, r));
const dial = (o) => new Promise((r) => keep(net.connect(o, r)));
(async () => { ${lines}; console.log("ready"); })();
setInterval(() => {}, 1 << 30);
`;

function startIn(ns: string, lines: string, children: ChildProcess[]): Promise<void> {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", program(lines)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.on("exit", (code) => reject(new Error(`node in ${ns} exited (${code}) before it was ready`)));
  });
}

const addon = loadRtnetlinkAddon();

describe("countBgpSessions in real namespaces", { skip: !addon && "addon not built" }, () => {
  const nss = new TestNamespaces("bgpst");
  const { kernel: ip, programs: spawned } = recordingIproute2Kernel();
  const nl: Kernel = withRtnetlink(ip, addon);
  const children: ChildProcess[] = [];
  let state: LabState;

  before(async () => {
    const names = ["n1", "n2", "n3"].map((n) => nss.create(n));
    const [n1, n2, n3] = names.map(namedNetns) as [
      ReturnType<typeof namedNetns>,
      ReturnType<typeof namedNetns>,
      ReturnType<typeof namedNetns>,
    ];
    await ip.apply(n1, [
      { op: "link.add", spec: { kind: "veth", name: "e0", peer: { name: "e0", netns: n2 } } },
      { op: "link.add", spec: { kind: "veth", name: "e1", peer: { name: "e0", netns: n3 } } },
      { op: "addr.add", dev: "e0", cidr: "10.78.0.1/24" },
      { op: "addr.add", dev: "e0", cidr: "fd78::1/64", noDad: true },
      { op: "addr.add", dev: "e1", cidr: "10.78.1.1/24" },
      { op: "link.set", name: "e0", up: true },
      { op: "link.set", name: "e1", up: true },
    ]);
    await ip.apply(n2, [
      { op: "addr.add", dev: "e0", cidr: "10.78.0.2/24" },
      { op: "addr.add", dev: "e0", cidr: "fd78::2/64", noDad: true },
      { op: "link.set", name: "e0", up: true },
    ]);
    await ip.apply(n3, [
      { op: "addr.add", dev: "e0", cidr: "10.78.1.2/24" },
      { op: "link.set", name: "e0", up: true },
    ]);
    await startIn(names[0] as string, "await listen(179); await listen(8080)", children);
    await startIn(
      names[1] as string,
      ["10.78.0.1", "fd78::1"].map((host) => `await dial({ host: "${host}", port: 179 })`).join(";"),
      children,
    );
    // n3: a connection on another port only.
    await startIn(names[2] as string, `await dial({ host: "10.78.1.1", port: 8080 })`, children);
    const node = (name: string, ns: string) => ({ name, ns, ip: "", subnet: "", podMtu: 1500, pid: 0 });
    state = {
      spec: labSpec({ model: "bgp", nodes: 3 }),
      complete: true,
      nodes: names.map((ns, i) => node(`n${i + 1}`, ns)),
      pods: [],
      processes: [],
      agentDatastoreArgs: [],
    };
  });
  after(() => {
    for (const c of children) c.kill();
    nss.cleanup();
  });

  test("per-namespace ends of established port-179 connections, IPv4 and IPv6; no process natively", async () => {
    const want = {
      ends: [
        ["n1", 2],
        ["n2", 2],
        ["n3", 0],
      ],
      total: 2,
      expected: 3,
    };
    let got = await countBgpSessions(nl, state);
    for (let i = 0; i < 30 && got.total !== 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      got = await countBgpSessions(nl, state);
    }
    assert.deepEqual(got, want);
    assert.deepEqual(await countBgpSessions(ip, state), want);
    spawned.length = 0;
    assert.deepEqual(await countBgpSessions(nl, state), want);
    assert.deepEqual(spawned, []);
  });
});

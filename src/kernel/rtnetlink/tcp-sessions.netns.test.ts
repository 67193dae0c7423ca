import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { TestNamespaces } from "../../../test/support/netns.js";
import { recordingIproute2Kernel } from "../../../test/support/recording-kernel.js";
import { type Kernel, type Netns, namedNetns, netnsAtPath, type TcpSession } from "../api.js";
import { isKernelError } from "../errors.js";
import { loadRtnetlinkAddon, withRtnetlink } from "./driver.js";

const addon = loadRtnetlinkAddon();

/**
 * Node programs holding real TCP connections between two namespaces (a veth pair, IPv4 and IPv6)
 * and on a's loopback: BGP's port 179 at one end or the other, another port, listeners.
 */
const serverA = `
const net = require("node:net");
const held = [];
const keep = (s) => held.push(s.on("error", () => {}));
const listen = (port, host, ipv6Only) =>
  new Promise((r) => net.createServer(keep).listen({ port, host, ipv6Only }, r));
(async () => {
  await listen(179, "::", false); // dual-stack: IPv4 peers as ::ffff: sockets
  await listen(8080, "0.0.0.0");
  const dial = (o) => new Promise((r) => keep(net.connect(o, r)));
  await dial({ host: "127.0.0.1", port: 179 });
  await dial({ host: "::1", port: 179 });
  await dial({ host: "127.0.0.1", port: 8080 });
  console.log("ready");
})();
setInterval(() => {}, 1 << 30);
`;
const clientB = `
const net = require("node:net");
const held = [];
const dial = (o) => new Promise((r) => held.push(net.connect(o, r).on("error", () => {})));
(async () => {
  await dial({ host: "10.77.0.1", port: 179 });
  await dial({ host: "fd77::1", port: 179 });
  await dial({ host: "10.77.0.1", port: 8080 });
  await dial({ host: "10.77.0.1", port: 8080, localPort: 179 });
  console.log("ready");
})();
setInterval(() => {}, 1 << 30);
`;

/** `node -e program` inside namespace `ns`, once it printed "ready". */
function startIn(ns: string, program: string, children: ChildProcess[]): Promise<void> {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", program], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.on("exit", (code) => reject(new Error(`node in ${ns} exited (${code}) before it was ready`)));
  });
}

/** A session as text, an ephemeral port (not 179 or 8080) as "*". */
const port = (p: number) => (p === 179 || p === 8080 ? String(p) : "*");
const text = (s: TcpSession) =>
  `${s.family} ${s.local.address}:${port(s.local.port)} ${s.remote.address}:${port(s.remote.port)}`;
const sorted = (list: readonly TcpSession[]) => list.map(text).sort();

describe("TCP sessions from inet_diag against ss, in real namespaces", {
  skip: !addon && "addon not built",
}, () => {
  const nss = new TestNamespaces("tcps");
  const { kernel: ip, programs: spawned } = recordingIproute2Kernel();
  const nl: Kernel = withRtnetlink(ip, addon);
  const children: ChildProcess[] = [];
  let a: Netns;
  let aByPath: Netns;
  let b: Netns;

  before(async () => {
    const aName = nss.create("a");
    const bName = nss.create("b");
    a = namedNetns(aName);
    aByPath = netnsAtPath(nss.path(aName));
    b = namedNetns(bName);
    await ip.apply(a, [
      { op: "link.add", spec: { kind: "veth", name: "a0", peer: { name: "b0", netns: b } } },
      { op: "addr.add", dev: "a0", cidr: "10.77.0.1/24" },
      { op: "addr.add", dev: "a0", cidr: "fd77::1/64", noDad: true },
      { op: "link.set", name: "a0", up: true },
    ]);
    await ip.apply(b, [
      { op: "addr.add", dev: "b0", cidr: "10.77.0.2/24" },
      { op: "addr.add", dev: "b0", cidr: "fd77::2/64", noDad: true },
      { op: "link.set", name: "b0", up: true },
    ]);
    await startIn(aName, serverA, children);
    await startIn(bName, clientB, children);
  });
  after(() => {
    for (const c of children) c.kill();
    nss.cleanup();
  });

  /** Both drivers' answers, once the server ends of the connections are established too. */
  async function agree(ns: Netns, port: number | undefined, count: number): Promise<TcpSession[]> {
    const q = port === undefined ? {} : { port };
    let pair = [await nl.tcpSessions(ns, q), await ip.tcpSessions(ns, q)];
    for (let i = 0; i < 30 && (pair[0]?.length !== count || pair[1]?.length !== count); i++) {
      await new Promise((r) => setTimeout(r, 100));
      pair = [await nl.tcpSessions(ns, q), await ip.tcpSessions(ns, q)];
    }
    assert.deepStrictEqual(pair[0], pair[1], `${JSON.stringify(ns)} port ${port}`);
    return pair[0] as TcpSession[];
  }

  test("established port-179 connections, IPv4 and IPv6, either end, as ss lists them", async () => {
    const inA = await agree(a, 179, 7);
    assert.deepEqual(await agree(aByPath, 179, 7), inA);
    assert.deepEqual(
      sorted(inA),
      [
        "4 10.77.0.1:8080 10.77.0.2:179", // b's end bound to 179, a's to 8080
        "4 127.0.0.1:* 127.0.0.1:179",
        "6 ::1:* ::1:179",
        "6 ::1:179 ::1:*",
        "6 ::ffff:10.77.0.1:179 ::ffff:10.77.0.2:*",
        "6 ::ffff:127.0.0.1:179 ::ffff:127.0.0.1:*",
        "6 fd77::1:179 fd77::2:*",
      ].sort(),
    );
    assert.deepEqual(sorted(await agree(b, 179, 3)), [
      "4 10.77.0.2:* 10.77.0.1:179",
      "4 10.77.0.2:179 10.77.0.1:8080",
      "6 fd77::2:* fd77::1:179",
    ]);
    // IPv4 sockets before IPv6 ones, as ss lists them.
    assert.deepEqual(
      inA.map((s) => s.family),
      [4, 4, 6, 6, 6, 6, 6],
    );
  });

  test("without a port: every established connection (8080 too), no listener", async () => {
    const inB = await agree(b, undefined, 4);
    assert.deepEqual(sorted(inB), [
      "4 10.77.0.2:* 10.77.0.1:179",
      "4 10.77.0.2:* 10.77.0.1:8080",
      "4 10.77.0.2:179 10.77.0.1:8080",
      "6 fd77::2:* fd77::1:179",
    ]);
    const inA = await agree(a, undefined, 10);
    assert.ok(!inA.some((s) => s.remote.port === 0), "no listening socket");
    assert.deepEqual(sorted(await agree(a, 8080, 4)), [
      "4 10.77.0.1:8080 10.77.0.2:*",
      "4 10.77.0.1:8080 10.77.0.2:179",
      "4 127.0.0.1:* 127.0.0.1:8080",
      "4 127.0.0.1:8080 127.0.0.1:*",
    ]);
    assert.equal((await agree(a, 4242, 0)).length, 0);
  });

  test("inet_diag starts no process; an addon without sockDiagDump falls back to ss", async () => {
    spawned.length = 0;
    await nl.tcpSessions(a, { port: 179 });
    await nl.tcpSessions(aByPath);
    await nl.tcpSessions(b, { port: 179 });
    assert.deepEqual(spawned, []);
    const older = withRtnetlink(ip, addon && { ...addon, sockDiagDump: undefined });
    assert.equal((await older.tcpSessions(b, { port: 179 })).length, 3);
    assert.equal(spawned.length, 1);
    assert.match(String(spawned[0]), /\bss -Htn state established \( sport = :179 or dport = :179 \)$/);
  });

  test("a kernel refusing the both-families request: one dump a family, the same answers", async () => {
    const real = addon?.sockDiagDump as (p: string | null, r: Buffer) => Buffer;
    const asked: number[] = [];
    const refusing = withRtnetlink(
      ip,
      addon && {
        ...addon,
        sockDiagDump: (p: string | null, r: Buffer) => {
          asked.push(r.readUInt16LE(4));
          if (r.readUInt16LE(4) !== 18) return real(p, r);
          throw Object.assign(new Error("netlink dump: Invalid argument"), { errno: 22, answer: true });
        },
      },
    );
    for (const ns of [a, b]) {
      assert.deepEqual(
        await refusing.tcpSessions(ns, { port: 179 }),
        await nl.tcpSessions(ns, { port: 179 }),
      );
      assert.deepEqual(await refusing.tcpSessions(ns), await nl.tcpSessions(ns));
    }
    // Refused once, then asked a family at a time (SOCK_DIAG_BY_FAMILY) for good.
    assert.deepEqual(asked, [18, ...Array(8).fill(20)]);
  });

  test("a namespace that is not there is a not-found error naming it; a bad port a RangeError", async () => {
    const absent = namedNetns("strata-t-tcps-absent");
    for (const k of [nl, ip]) {
      const err = await k.tcpSessions(absent, { port: 179 }).then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(isKernelError(err), String(err));
      assert.equal(err.kind, "not-found");
      assert.match(err.message, /strata-t-tcps-absent/);
      for (const port of [-1, 65536, 1.5])
        await assert.rejects(k.tcpSessions(a, { port }), RangeError, String(port));
    }
  });
});

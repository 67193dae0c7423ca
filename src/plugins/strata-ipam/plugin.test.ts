import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { dispatch } from "../../cni/skeleton.js";
import { ipamPlugin } from "./plugin.js";

const root = mkdtempSync(join(tmpdir(), "strata-ipam-plugin-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

interface Net {
  conf: Record<string, unknown>;
  dir: string;
}
/** A network with its own data directory. */
function network(ipam: Record<string, unknown>, cniVersion = "1.1.0"): Net {
  const dataDir = join(root, `d${n++}`);
  const name = "testnet";
  return {
    conf: { cniVersion, name, type: "bridge", ipam: { type: "strata-ipam", dataDir, ...ipam } },
    dir: join(dataDir, name),
  };
}

function run(
  command: string,
  conf: Record<string, unknown>,
  containerId = "c1",
  ifName = "eth0",
  extraEnv: Record<string, string> = {},
) {
  return dispatch(ipamPlugin, {
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: "/run/netns/whatever",
      CNI_IFNAME: ifName,
      CNI_PATH: "/opt/cni/bin",
      ...extraEnv,
    },
    stdin: JSON.stringify(conf),
  });
}

async function add(conf: Record<string, unknown>, containerId = "c1", ifName = "eth0", env = {}) {
  const out = await run("ADD", conf, containerId, ifName, env);
  assert.equal(out.exitCode, 0, out.stdout);
  return JSON.parse(out.stdout) as Record<string, unknown> & { ips: { address: string }[] };
}

const errorCode = (out: { exitCode: number; stdout: string }) => {
  assert.equal(out.exitCode, 1);
  return (JSON.parse(out.stdout) as { code: number }).code;
};
const reservations = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9a-f.:]+$/.test(f) && /[.:]/.test(f)) : [];

const v4 = { ranges: [[{ subnet: "10.30.0.0/24" }]] };

describe("strata-ipam through the skeleton (in process)", () => {
  test("ADD returns the address with its gateway, the routes and dns, and no interface index", async () => {
    const net = network({
      ...v4,
      routes: [{ dst: "0.0.0.0/0" }],
      dns: { nameservers: ["10.30.0.53"] },
    });
    const res = await add(net.conf);
    assert.deepEqual(res, {
      cniVersion: "1.1.0",
      ips: [{ address: "10.30.0.2/24", gateway: "10.30.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: { nameservers: ["10.30.0.53"] },
    });
  });

  test("ADD answers in the configuration's version (0.4.0 carries the IP version)", async () => {
    const net = network({ ranges: [[{ subnet: "10.31.0.0/24" }], [{ subnet: "fd00:31::/64" }]] }, "0.4.0");
    const res = await add(net.conf);
    assert.equal(res.cniVersion, "0.4.0");
    assert.deepEqual(res.ips, [
      { version: "4", address: "10.31.0.2/24", gateway: "10.31.0.1" },
      { version: "6", address: "fd00:31::2/64", gateway: "fd00:31::1" },
    ]);
  });

  test("ADD is idempotent for one container+ifname; another ifname gets its own address", async () => {
    const net = network(v4);
    const a = await add(net.conf);
    const b = await add(net.conf);
    const c = await add(net.conf, "c1", "net1");
    assert.deepEqual(a.ips, b.ips);
    assert.notDeepEqual(a.ips, c.ips);
    assert.equal(reservations(net.dir).length, 2);
  });

  test("static IPs from the runtimeConfig ips capability and from CNI_ARGS IP=", async () => {
    const net = network(v4);
    const viaCap = await add({ ...net.conf, runtimeConfig: { ips: ["10.30.0.77/24"] } }, "cap");
    assert.equal(viaCap.ips[0]?.address, "10.30.0.77/24");
    const viaArgs = await add(net.conf, "args", "eth0", { CNI_ARGS: "IgnoreUnknown=1;IP=10.30.0.88" });
    assert.equal(viaArgs.ips[0]?.address, "10.30.0.88/24");
    const taken = await run("ADD", net.conf, "again", "eth0", { CNI_ARGS: "IP=10.30.0.88" });
    assert.equal(errorCode(taken), 100);
    const outside = await run("ADD", net.conf, "out", "eth0", { CNI_ARGS: "IP=10.99.0.1" });
    assert.equal(errorCode(outside), 7);
    const malformed = await run("ADD", { ...net.conf, runtimeConfig: { ips: [7] } }, "bad");
    assert.equal(errorCode(malformed), 7);
  });

  test("pool exhaustion is code 100 with a message naming the range and what to do", async () => {
    const net = network({ ranges: [[{ subnet: "10.32.0.0/29" }]] });
    for (let i = 0; i < 5; i++) await add(net.conf, `c${i}`);
    const out = await run("ADD", net.conf, "c5");
    const err = JSON.parse(out.stdout) as { code: number; msg: string; details: string };
    assert.equal(err.code, 100);
    assert.match(err.msg, /no free address .*10\.32\.0\.0\/29/);
    assert.match(err.details, /widen the range/);
  });

  test("DEL releases; it succeeds twice, for an unknown container and when the data dir is missing", async () => {
    const net = network(v4);
    await add(net.conf, "a");
    await add(net.conf, "b");
    for (let i = 0; i < 2; i++) assert.equal((await run("DEL", net.conf, "a")).exitCode, 0);
    assert.equal((await run("DEL", net.conf, "nobody")).exitCode, 0);
    assert.deepEqual(reservations(net.dir), ["10.30.0.3"]);
    const missing = network(v4);
    assert.equal((await run("DEL", missing.conf, "a")).exitCode, 0);
    assert.ok(!existsSync(missing.dir), "DEL creates nothing");
  });

  test("CHECK passes while the container holds its address, fails (103) when it does not", async () => {
    const net = network(v4);
    const res = await add(net.conf);
    assert.equal((await run("CHECK", { ...net.conf, prevResult: res })).exitCode, 0);
    const wrong = { ...res, ips: [{ address: "10.30.0.200/24" }] };
    assert.equal(errorCode(await run("CHECK", { ...net.conf, prevResult: wrong })), 103);
    await run("DEL", net.conf);
    assert.equal(errorCode(await run("CHECK", { ...net.conf, prevResult: res })), 103);
  });

  test("GC keeps valid attachments and removes the rest, crash leftovers included", async () => {
    const net = network(v4);
    await add(net.conf, "keep");
    await add(net.conf, "gone");
    // A writer that created its file and died before writing it, an hour ago.
    writeFileSync(join(net.dir, "10.30.0.99"), "");
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(join(net.dir, "10.30.0.99"), old, old);
    const gc = {
      ...net.conf,
      "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }],
    };
    assert.equal((await run("GC", gc)).exitCode, 0);
    assert.deepEqual(reservations(net.dir), ["10.30.0.2"]);
  });

  test("GC with the legacy cni.dev/attachments key keeps the live pods' addresses", async () => {
    const net = network(v4);
    await add(net.conf, "keep");
    await add(net.conf, "gone");
    const gc = { ...net.conf, "cni.dev/attachments": [{ containerID: "keep", ifname: "eth0" }] };
    assert.equal((await run("GC", gc)).exitCode, 0);
    assert.deepEqual(reservations(net.dir), ["10.30.0.2"]);
    // The kept address is not handed out again.
    const next = await add(net.conf, "new");
    assert.notEqual(next.ips[0]?.address, "10.30.0.2/24");
  });

  test("GC with no attachment list is refused with code 7 and frees nothing", async () => {
    const net = network(v4);
    await add(net.conf, "a");
    await add(net.conf, "b");
    assert.equal(errorCode(await run("GC", net.conf)), 7);
    assert.deepEqual(reservations(net.dir).sort(), ["10.30.0.2", "10.30.0.3"]);
  });

  test("STATUS succeeds when the data dir is writable and is code 50 when it is not", async () => {
    const net = network(v4);
    assert.equal((await run("STATUS", net.conf)).exitCode, 0);
    const file = join(root, `file${n++}`);
    writeFileSync(file, "");
    const broken = { ...net.conf, ipam: { ...(net.conf.ipam as object), dataDir: file } };
    assert.equal(errorCode(await run("STATUS", broken)), 50);
  });

  const malformed: [string, string, number][] = [
    ["stdin is not JSON", "{", 6],
    ["cniVersion is not a version", JSON.stringify({ cniVersion: "one", name: "n", type: "t" }), 6],
    [
      "cniVersion is unsupported",
      JSON.stringify({ cniVersion: "9.9.9", name: "n", type: "t", ipam: { type: "strata-ipam", ...v4 } }),
      1,
    ],
    ["no ipam section", JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "t" }), 7],
    ["ipam is a string", JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "t", ipam: "x" }), 7],
    [
      "ipam has a bad subnet",
      JSON.stringify({
        cniVersion: "1.1.0",
        name: "n",
        type: "t",
        ipam: { type: "strata-ipam", subnet: "10.0.0.0/40" },
      }),
      7,
    ],
  ];
  for (const [name, stdin, code] of malformed) {
    test(`ADD with ${name} is error code ${code}`, async () => {
      const out = await dispatch(ipamPlugin, {
        env: {
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: "c",
          CNI_NETNS: "/x",
          CNI_IFNAME: "eth0",
          CNI_PATH: "/x",
        },
        stdin,
      });
      assert.equal(errorCode(out), code, out.stdout);
    });
  }
});

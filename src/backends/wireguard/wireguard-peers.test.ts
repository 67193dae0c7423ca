import assert from "node:assert/strict";
import { test } from "node:test";
import type { NodeLease } from "../../cluster/node-lease.js";
import type { LocalNode } from "../api.js";
import type { WireguardDeviceState, WireguardPeer } from "./uapi-codec.js";
import { wireguardDesired } from "./wireguard.js";
import { generateWireguardKeyPair } from "./wireguard-key.js";
import { desiredPeers, planWireguardDevice } from "./wireguard-peers.js";

const keys = Array.from({ length: 5 }, () => generateWireguardKeyPair());
const key = (i: number) => (keys[i] as { publicKey: string }).publicKey;
const lease = (i: number, o: Partial<NodeLease> = {}): NodeLease => ({
  node: `n${i}`,
  subnet: `10.244.${i}.0/24`,
  publicIp: `192.168.10.${10 + i}`,
  publicPrefix: 24,
  backend: "wireguard",
  backendData: { wgPublicKey: key(i), wgListenPort: "51820" },
  ...o,
});
const local: LocalNode = { lease: lease(1), underlayDev: "eth0", underlayMtu: 1500 };
const priv = generateWireguardKeyPair().privateKey;
const want = (peers: NodeLease[]) => ({
  privateKey: priv,
  listenPort: 51820,
  peers: desiredPeers(local, peers, key(1), 25).peers,
});
/** The device after a set request, as WireGuard applies it. */
function apply(dev: WireguardDeviceState, set: ReturnType<typeof planWireguardDevice>): WireguardDeviceState {
  const peers = new Map(dev.peers.map((p) => [p.publicKey, p]));
  for (const c of set.peers) {
    if (c.remove) peers.delete(c.publicKey);
    else peers.set(c.publicKey, { ...c, lastHandshake: 0, rxBytes: 0, txBytes: 0 });
  }
  return {
    privateKey: set.privateKey ?? dev.privateKey,
    listenPort: set.listenPort ?? dev.listenPort,
    peers: [...peers.values()],
  };
}

test("each other node is a peer: AllowedIPs its pod subnet, endpoint its node address and port, keepalive", () => {
  const r = desiredPeers(
    local,
    [lease(1), lease(2), lease(3, { backendData: { wgPublicKey: key(3), wgListenPort: "7000" } })],
    key(1),
    25,
  );
  assert.deepEqual(r.unreachable, []);
  assert.deepEqual<WireguardPeer[]>(r.peers, [
    { publicKey: key(2), endpoint: "192.168.10.12:51820", allowedIps: ["10.244.2.0/24"], keepalive: 25 },
    { publicKey: key(3), endpoint: "192.168.10.13:7000", allowedIps: ["10.244.3.0/24"], keepalive: 25 },
  ]);
});

test("a node without a WireGuard key, or with this node's own key, is unreachable with the reason", () => {
  const r = desiredPeers(
    local,
    [
      lease(2, { backend: "vxlan", backendData: { vtepMac: "02:00:00:00:00:01" } }),
      lease(3, { backendData: { wgPublicKey: key(1) } }),
    ],
    key(1),
    25,
  );
  assert.deepEqual(r.peers, []);
  assert.match(
    r.unreachable.find((u) => u.node === "n2")?.reason ?? "",
    /vxlan backend and publishes no WireGuard key/,
  );
  assert.match(r.unreachable.find((u) => u.node === "n3")?.reason ?? "", /also node n1's/);
});

test("from an empty device: key, port and every peer in one request; the same state again asks for nothing", () => {
  const first = planWireguardDevice({ listenPort: 40000, peers: [] }, want([lease(2), lease(3)]));
  assert.equal(first.privateKey, priv);
  assert.equal(first.listenPort, 51820);
  assert.deepEqual(
    first.peers.map((p) => p.publicKey),
    [key(2), key(3)],
  );
  const dev = apply({ listenPort: 40000, peers: [] }, first);
  assert.deepEqual(planWireguardDevice(dev, want([lease(2), lease(3)])), { peers: [] });
});

test("a node joins: only its peer is added; a node leaves: only its peer is removed, nothing stale stays", () => {
  let dev = apply({ peers: [] }, planWireguardDevice({ peers: [] }, want([lease(2), lease(3)])));
  const join = planWireguardDevice(dev, want([lease(2), lease(3), lease(4)]));
  assert.deepEqual(join, {
    peers: [
      { publicKey: key(4), endpoint: "192.168.10.14:51820", allowedIps: ["10.244.4.0/24"], keepalive: 25 },
    ],
  });
  dev = apply(dev, join);
  const leave = planWireguardDevice(dev, want([lease(2), lease(4)]));
  assert.deepEqual(leave, { peers: [{ publicKey: key(3), remove: true }] });
  dev = apply(dev, leave);
  assert.deepEqual(dev.peers.map((p) => p.publicKey).sort(), [key(2), key(4)].sort());
});

test("a peer's new key (rotation): the new peer takes its subnet, the old key is removed, in one request", () => {
  const dev = apply({ peers: [] }, planWireguardDevice({ peers: [] }, want([lease(2), lease(3)])));
  const rotated = lease(2, { backendData: { wgPublicKey: key(0), wgListenPort: "51820" } });
  const set = planWireguardDevice(dev, want([rotated, lease(3)]));
  assert.deepEqual(
    set.peers.map((p) => [p.publicKey, p.remove ?? false]),
    [
      [key(0), false],
      [key(2), true],
    ],
  );
  assert.deepEqual(
    apply(dev, set)
      .peers.map((p) => p.publicKey)
      .sort(),
    [key(0), key(3)].sort(),
  );
});

test("a peer whose endpoint moved is reconfigured; our own new private key is set alone", () => {
  const dev = apply({ peers: [] }, planWireguardDevice({ peers: [] }, want([lease(2)])));
  const moved = planWireguardDevice(dev, want([lease(2, { publicIp: "192.168.20.12" })]));
  assert.deepEqual(
    moved.peers.map((p) => !p.remove && p.endpoint),
    ["192.168.20.12:51820"],
  );
  const next = generateWireguardKeyPair().privateKey;
  assert.deepEqual(planWireguardDevice(dev, { ...want([lease(2)]), privateKey: next }), {
    privateKey: next,
    peers: [],
  });
});

test("desired state: a route per peer subnet into strata.wg, the pod network address on it; the device only for the kernel datapath", () => {
  const go = wireguardDesired("wireguard-go", key(1), 25, local, [lease(2), lease(3)]);
  assert.deepEqual(go.routes, [
    { dst: "10.244.2.0/24", dev: "strata.wg" },
    { dst: "10.244.3.0/24", dev: "strata.wg" },
  ]);
  assert.deepEqual(go.addresses, [["strata.wg", "10.244.1.0/32"]]);
  assert.deepEqual(go.devices, []);
  const kernel = wireguardDesired("kernel", key(1), 25, local, [lease(2)]);
  assert.deepEqual(kernel.devices, [{ kind: "wireguard", name: "strata.wg", mtu: 1440 }]);
});

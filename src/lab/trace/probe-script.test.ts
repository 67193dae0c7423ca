import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { probeScript } from "./probe-script.js";
import { probePython } from "./prove.js";

/**
 * The probe's decoder (its `ipv4` and `parse` functions, run by the system Python as the probe
 * runs them) on frames built by hand: an inner ICMP packet inside IPIP, inside GRE with and
 * without a key, on an Ethernet device and on an L3 device (TUN, ipip) that has no link header.
 */
function decode(frames: { hex: string; hatype: number }[]): unknown[] {
  const defs = /(def ipv4\(b, o\):[\s\S]*?)\ntx = socket/.exec(probeScript)?.[1];
  assert.ok(defs, "the probe script defines ipv4 and parse");
  const program = `import json, socket, struct, sys\n${defs}\nprint(json.dumps([parse(bytes.fromhex(f["hex"]), f["hatype"]) for f in json.loads(sys.argv[1])]))`;
  return JSON.parse(
    execFileSync(probePython(), ["-I", "-S", "-c", program, JSON.stringify(frames)], { encoding: "utf8" }),
  );
}

/** An IPv4 packet (DF, TTL 64, checksum left 0: the decoder does not check it), as hex. */
const ip = (src: string, dst: string, proto: number, payloadHex: string): string => {
  const h = Buffer.alloc(20);
  h.writeUInt8(0x45, 0);
  h.writeUInt16BE(20 + payloadHex.length / 2, 2);
  h.writeUInt16BE(0x4000, 6);
  h.writeUInt8(64, 8);
  h.writeUInt8(proto, 9);
  Buffer.from(src.split(".").map(Number)).copy(h, 12);
  Buffer.from(dst.split(".").map(Number)).copy(h, 16);
  return h.toString("hex") + payloadHex;
};
const icmp = `0800f7ff00010001${Buffer.from("STRATA-TRACE-x").toString("hex")}`;
const inner = ip("10.244.1.2", "10.244.2.2", 1, icmp);
const eth = "0200000000020200000000010800";

test("the probe decodes the outer header of IPIP and GRE (key or none), on Ethernet and L3 devices", () => {
  const ipipPkt = ip("192.168.10.11", "192.168.10.12", 4, inner);
  const grePkt = ip("192.168.10.11", "192.168.10.12", 47, `00000800${inner}`);
  const greKeyPkt = ip(
    "192.168.10.11",
    "192.168.20.12",
    47,
    `20000800${(7).toString(16).padStart(8, "0")}${inner}`,
  );
  const [onEth, onTun, gre, greKey, bare] = decode([
    { hex: eth + ipipPkt, hatype: 1 },
    { hex: ipipPkt, hatype: 65534 },
    { hex: eth + grePkt, hatype: 1 },
    { hex: greKeyPkt, hatype: 768 },
    { hex: inner, hatype: 65534 },
  ]);
  const want = (outer: object) => ({ src: "10.244.1.2", dst: "10.244.2.2", outer });
  assert.deepEqual(onEth, want({ src: "192.168.10.11", dst: "192.168.10.12", proto: "ipip" }));
  assert.deepEqual(onTun, onEth);
  assert.deepEqual(gre, want({ src: "192.168.10.11", dst: "192.168.10.12", proto: "gre" }));
  assert.deepEqual(greKey, want({ src: "192.168.10.11", dst: "192.168.20.12", proto: "gre", key: 7 }));
  assert.deepEqual(bare, { src: "10.244.1.2", dst: "10.244.2.2" });
});

test("the probe decodes an IPv6 packet (ICMPv6 echo) on an Ethernet device (ethertype 86dd) and on an L3 device, addresses as the kernel prints them", () => {
  const addr = (a: string) => {
    const [head = "", tail = ""] = a.split("::");
    const h = head.split(":").filter(Boolean);
    const t = tail.split(":").filter(Boolean);
    const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    return groups.map((g) => g.padStart(4, "0")).join("");
  };
  const icmp6 = `80000000abcd0001${Buffer.from("STRATA-TRACE-x").toString("hex")}`;
  const v6 = `60000000${(icmp6.length / 2).toString(16).padStart(4, "0")}3a40${addr("fd00:10:244:1::2")}${addr("fd00:10:244:2::2")}${icmp6}`;
  const [onEth, onTun, notIp] = decode([
    { hex: `02000000000202000000000186dd${v6}`, hatype: 1 },
    { hex: v6, hatype: 65534 },
    { hex: `020000000002020000000001888e${v6}`, hatype: 1 },
  ]);
  assert.deepEqual(onEth, { src: "fd00:10:244:1::2", dst: "fd00:10:244:2::2" });
  assert.deepEqual(onTun, onEth);
  assert.equal(notIp, null, "another ethertype is no probe");
});

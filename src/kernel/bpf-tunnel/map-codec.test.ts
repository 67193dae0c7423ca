import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeCidrKey,
  decodePeerNode,
  encodeCidrKey,
  encodeConfig,
  encodePeerNode,
  hexArg,
  parseMapDump,
  sumPerCpu,
} from "./map-codec.js";
import { pinDir, pinName } from "./pin-paths.js";

test("LPM key: host-order prefix length, then the network address in network order", () => {
  assert.deepEqual(encodeCidrKey("10.244.1.0/24"), [24, 0, 0, 0, 10, 244, 1, 0]);
  assert.equal(decodeCidrKey([24, 0, 0, 0, 10, 244, 1, 0]), "10.244.1.0/24");
  assert.equal(decodeCidrKey(encodeCidrKey("10.244.1.99/26")), "10.244.1.64/26");
});

test("peer_nodes value: pod network and mask in network order, round trip at every prefix length", () => {
  assert.deepEqual(encodePeerNode("10.244.2.0/24"), [10, 244, 2, 0, 255, 255, 255, 0]);
  for (let p = 0; p <= 32; p++) assert.equal(decodePeerNode(encodePeerNode(`0.0.0.0/${p}`)), `0.0.0.0/${p}`);
  assert.equal(decodePeerNode(encodePeerNode("10.244.128.0/17")), "10.244.128.0/17");
  assert.equal(decodePeerNode(encodePeerNode("192.168.10.11/32")), "192.168.10.11/32");
});

test("config value: struct tunnel_config, 20 bytes; the GRE key only with gre", () => {
  const ipip = encodeConfig({
    localIp: "192.168.10.11",
    underlayIfindex: 2,
    tunnelIfindex: 300,
    proto: "ipip",
  });
  assert.deepEqual(ipip, [192, 168, 10, 11, 2, 0, 0, 0, 44, 1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
  const gre = encodeConfig({
    localIp: "192.168.10.11",
    underlayIfindex: 2,
    tunnelIfindex: 3,
    proto: "gre",
    greKey: 0x01020304,
  });
  assert.deepEqual(gre.slice(12), [47, 1, 0, 0, 1, 2, 3, 4]);
  const greNoKey = encodeConfig({
    localIp: "192.168.10.11",
    underlayIfindex: 2,
    tunnelIfindex: 3,
    proto: "gre",
  });
  assert.deepEqual(greNoKey.slice(12), [47, 0, 0, 0, 0, 0, 0, 0]);
});

test("bpftool -j dumps parse, per-CPU counters sum over CPUs (u64, little-endian)", () => {
  const dump = parseMapDump(
    JSON.stringify([
      {
        key: ["0x02", "0x00", "0x00", "0x00"],
        values: [
          { cpu: 0, value: ["0x05", "0x00", "0x00", "0x00", "0x00", "0x00", "0x00", "0x00"] },
          { cpu: 1, value: ["0x00", "0x01", "0x00", "0x00", "0x00", "0x00", "0x00", "0x00"] },
        ],
      },
    ]),
  );
  assert.deepEqual(dump[0]?.key, [2, 0, 0, 0]);
  assert.equal(sumPerCpu(dump[0]?.values ?? []), 5 + 256);
  assert.throws(() => parseMapDump("Error: no such map"), /not JSON/);
  assert.throws(() => parseMapDump('[{"key":["0x1ff"]}]'), /bad byte/);
});

test("hexArg renders bytes as bpftool's hex form", () => {
  assert.equal(hexArg([10, 244, 1, 0]), "hex 0a f4 01 00");
});

test("pin names: bpffs refuses dots, so every character outside [A-Za-z0-9-] is escaped, distinctly", () => {
  assert.equal(pinName("strata.ipip"), "strata_2eipip");
  assert.notEqual(pinName("a.b"), pinName("a_b"));
  assert.equal(pinDir("strata-lab-n1", "strata.gre"), "/sys/fs/bpf/strata/strata-lab-n1/strata_2egre");
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bridgeMac, isUnicastMac, randomMac, vtepMac } from "./mac-address.js";

const firstOctet = (mac: string) => Number.parseInt(mac.slice(0, 2), 16);
const wellFormed = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

describe("MAC addresses Strata makes", () => {
  const samples = [
    ...Array.from({ length: 50 }, (_, i) => vtepMac(`n${i}`, 1 + (i % 3))),
    ...Array.from({ length: 50 }, (_, i) => bridgeMac(`br${i}`)),
    ...Array.from({ length: 200 }, () => randomMac()),
  ];

  it("every one is locally administered (bit 1 of the first octet set)", () => {
    for (const m of samples) assert.equal(firstOctet(m) & 0x02, 0x02, m);
  });

  it("every one is unicast (the group bit clear), lowercase aa:bb:cc:dd:ee:ff", () => {
    for (const m of samples) {
      assert.equal(firstOctet(m) & 0x01, 0, m);
      assert.match(m, wellFormed);
      assert.ok(isUnicastMac(m), m);
    }
  });

  it("derived MACs are stable for the same input and differ for another", () => {
    assert.equal(vtepMac("n1", 1), vtepMac("n1", 1));
    assert.notEqual(vtepMac("n1", 1), vtepMac("n2", 1));
    assert.notEqual(vtepMac("n1", 1), vtepMac("n1", 2));
    assert.equal(bridgeMac("cni0"), bridgeMac("cni0"));
    assert.notEqual(bridgeMac("cni0"), bridgeMac("cni1"));
  });

  it("derived MACs keep the values nodes already announced (a change would churn every peer's FDB)", () => {
    // Golden values of the derivation as first released (sha256 of the purpose's input, 6 bytes).
    assert.equal(vtepMac("n1", 1), "86:f5:e5:c0:a7:6b");
    assert.equal(bridgeMac("cni0"), "42:07:6f:75:27:84");
  });

  it("random MACs differ from call to call", () => {
    assert.equal(new Set(Array.from({ length: 100 }, () => randomMac())).size, 100);
  });

  it("a multicast, zero or malformed MAC is not a unicast MAC", () => {
    for (const bad of [
      "01:00:5e:00:00:01",
      "00:00:00:00:00:00",
      "ff:ff:ff:ff:ff:ff",
      "02:00:00:00:00",
      "zz:00:00:00:00:00",
      "",
    ])
      assert.equal(isUnicastMac(bad), false, bad);
    assert.ok(isUnicastMac("02:00:00:00:00:02"));
  });
});

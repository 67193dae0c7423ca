import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { capturedDevices as captured } from "../../../test/support/rtnetlink-fixture.js";
import { parseAddresses } from "../iproute2/parse.js";
import { decodeLinkNames } from "./decode.js";
import { decodeAddresses } from "./decode-addresses.js";

describe("addresses from an RTM_GETADDR dump", () => {
  const links = decodeLinkNames(Buffer.from(captured.linkDump, "hex"));
  const dump = Buffer.from(captured.addrDump, "hex");
  const addresses = decodeAddresses(dump, links);

  test("are what the iproute2 parser makes of `ip -json addr show` of the same state, in its order", () => {
    assert.deepStrictEqual(addresses, parseAddresses(captured.ipAddrs));
  });

  test("IPv4 and IPv6, each scope by its name; a point-to-point address is the device's own end", () => {
    const of = (dev: string) =>
      addresses.filter((a) => a.dev === dev).map((a) => [a.family, a.cidr, a.scope]);
    assert.deepEqual(of("lo"), [
      [4, "127.0.0.1/8", "host"],
      [6, "::1/128", "host"],
    ]);
    assert.deepEqual(of("u0").slice(0, 4), [
      [4, "192.168.5.1/24", "global"],
      [4, "192.168.6.1/24", "global"],
      [4, "10.0.0.1/32", "global"],
      [6, "fd00:5::1/64", "global"],
    ]);
    assert.match(String(of("u0")[4]), /^6,fe80::[0-9a-f:]+\/64,link$/);
    assert.deepEqual(of("br0").slice(0, 2), [
      [4, "10.1.0.1/16", "link"],
      [6, "fd00:6::1/64", "global"],
    ]);
  });

  test("only the links given, in their order (as `ip addr show dev X` shows one)", () => {
    const u0 = [...links].find(([, n]) => n === "u0");
    assert.ok(u0);
    const only = decodeAddresses(dump, new Map([u0]));
    assert.deepEqual(
      only,
      addresses.filter((a) => a.dev === "u0"),
    );
    const reversed = decodeAddresses(dump, new Map([...links].reverse()));
    assert.deepEqual(reversed.map((a) => a.dev).at(0), "mv0");
    assert.deepEqual(reversed.map((a) => a.dev).at(-1), "lo");
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { capturedDevices as captured } from "../../../test/support/rtnetlink-fixture.js";
import { parseLinks } from "../iproute2/parse.js";
import { attrs, ifinfomsg, ifla, message, nlm, rtm } from "./codec.js";
import { decodeLinks, linkAddressText, linkReferences } from "./decode-links.js";

describe("links from an RTM_GETLINK dump", () => {
  const links = decodeLinks(Buffer.from(captured.linkDump, "hex"));
  const byName = new Map(links.map((l) => [l.name, l]));

  test("are what the iproute2 parser makes of `ip -json -details link show` of the same state", () => {
    assert.deepStrictEqual(links, parseLinks(captured.ipLinks));
  });

  test("every field of each kind, read from the captured dump", () => {
    assert.deepEqual(
      links.map((l) => l.name),
      ["lo", "u1", "u0", "p0", "mv1", "br0", "vx0", "vx1", "mv0", "t0", "t1"],
    );
    const lo = byName.get("lo");
    assert.equal(lo?.kind, undefined);
    assert.equal(lo?.mac, "00:00:00:00:00:00");
    assert.equal(lo?.mtu, 65536);
    assert.equal(lo?.operState, "UNKNOWN");
    assert.equal(lo?.up, true);
    // A veth whose peer is here: no peer index (`ip` names it instead); in a bridge.
    assert.deepEqual(
      (({ kind, up, operState, master, peerIndex, peerNetnsId }) => ({
        kind,
        up,
        operState,
        master,
        peerIndex,
        peerNetnsId,
      }))(byName.get("u1") ?? ({} as never)),
      {
        kind: "veth",
        up: true,
        operState: "UP",
        master: "br0",
        peerIndex: undefined,
        peerNetnsId: undefined,
      },
    );
    // A veth whose peer is in another namespace: its index there and the namespace's id.
    assert.equal(byName.get("p0")?.peerIndex, 2);
    assert.equal(byName.get("p0")?.peerNetnsId, 0);
    assert.equal(byName.get("p0")?.mtu, 1400);
    assert.equal(byName.get("p0")?.up, false);
    assert.equal(byName.get("p0")?.operState, "DOWN");
    assert.match(byName.get("p0")?.mac ?? "", /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(byName.get("br0")?.kind, "bridge");
    assert.deepEqual(byName.get("vx0")?.vxlan, { vni: 5, port: 8472, local: "192.168.5.1", learning: false });
    // `ip` prints an IPv6 source as "local6", which the parser does not read.
    assert.deepEqual(byName.get("vx1")?.vxlan, { vni: 6, port: 4789, local: undefined, learning: true });
    assert.deepEqual(byName.get("mv0")?.macvlan, { mode: "private", parent: "u0" });
    assert.deepEqual(byName.get("mv1")?.macvlan, { mode: "bridge", parent: undefined });
    assert.deepEqual(byName.get("t0")?.tun, { type: "tun" });
    assert.equal(byName.get("t0")?.mac, undefined);
    assert.deepEqual(byName.get("t1")?.tun, { type: "tap" });
  });

  test("a link's master and same-namespace IFLA_LINK are named from the names given, else if<index>", () => {
    const dump = Buffer.from(captured.linkDump, "hex");
    const [u1] = decodeLinks(dump, new Map([[1, "lo"]])).filter((l) => l.index === 2);
    assert.equal(u1?.master, `if${byName.get("br0")?.index}`);
    assert.deepEqual(
      new Set(linkReferences(dump)),
      new Set(["br0", "u0", "u1"].map((n) => byName.get(n)?.index)),
    );
  });

  test("hardware addresses as `ip` prints them: IPv4/IPv6 text for tunnels, hex octets otherwise", () => {
    assert.equal(linkAddressText(Buffer.from([192, 0, 2, 1]), 768), "192.0.2.1");
    assert.equal(linkAddressText(Buffer.from([192, 0, 2, 1]), 778), "192.0.2.1");
    assert.equal(linkAddressText(Buffer.from([192, 0, 2, 1]), 1), "c0:00:02:01");
    assert.equal(linkAddressText(Buffer.from([2, 0x5a, 0, 0, 0, 10]), 1), "02:5a:00:00:00:0a");
    assert.equal(linkAddressText(Buffer.from("fd000000000000000000000000000001", "hex"), 769), "fd00::1");
  });

  test("a message of another type is skipped; a truncated attribute is an error", () => {
    const nameOnly = (index: number, name: string) => {
      const m = message(
        rtm.newLink,
        nlm.request,
        1,
        ifinfomsg(0, { index }),
        attrs([{ type: ifla.ifname, data: Buffer.from(`${name}\0`) }]),
      );
      return m;
    };
    const other = message(rtm.newAddr, 0, 1, Buffer.alloc(8), Buffer.alloc(0));
    const links = decodeLinks(Buffer.concat([nameOnly(4, "x0"), other]));
    assert.deepEqual(
      links.map((l) => [l.index, l.name, l.kind, l.up, l.operState]),
      [[4, "x0", undefined, false, "UNKNOWN"]],
    );
    const bad = nameOnly(4, "x0");
    bad.writeUInt16LE(60, 32);
    assert.throws(() => decodeLinks(bad), /claims 60 octets/);
  });
});

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { RawBgpPeer } from "../../../test/support/raw-bgp-peer.js";
import { eventually } from "../../common/eventually.js";
import type { UpdateMessage } from "../codec/types.js";
import { BgpSpeaker, type SpeakerEvent } from "./speaker.js";

const speakerAddress = "127.0.0.170";
const base = { origin: "igp" as const, asPath: [{ type: "sequence" as const, asns: [65009] }] };
const v6Update = (prefix: string): UpdateMessage => ({
  type: "update",
  withdrawn: [],
  attributes: { ...base, mpReach: { afi: 2, safi: 1, nextHops: ["fd00::9"], nlri: [prefix] } },
  nlri: [],
});

/** Strata's speaker on loopback against a raw peer that sends what a test writes, sessions on real sockets. */
describe("received families the session did not negotiate", () => {
  let speaker: BgpSpeaker | undefined;
  const peers: RawBgpPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) p.close();
    await speaker?.stop();
  });

  async function start(peer: RawBgpPeer, extendedNextHop = false) {
    const events: SpeakerEvent[] = [];
    speaker = new BgpSpeaker({
      asn: 65000,
      routerId: speakerAddress,
      holdTime: 90,
      ipv6: true,
      listen: { host: speakerAddress, port: 0 },
      onEvent: (e) => events.push(e),
    });
    await speaker.start([{ address: peer.address, asn: peer.asn, passive: true, extendedNextHop }]);
    peers.push(peer);
    await peer.open(speakerAddress, speaker.port as number);
    return { s: speaker, events };
  }

  test("IPv6 and EVPN from a peer that negotiated IPv4 only: ignored, counted, told once a family, no reset", async () => {
    const peer = new RawBgpPeer("127.0.0.171", 65009);
    const { s, events } = await start(peer);
    peer.send([
      {
        type: "update",
        withdrawn: [],
        attributes: { ...base, nextHop: "127.0.0.171" },
        nlri: ["10.71.0.0/24"],
      },
      v6Update("fd00:71::/64"),
      v6Update("fd00:72::/64"),
      // EVPN (AFI 25 / SAFI 70): NLRI we do not read at all.
      {
        type: "update",
        withdrawn: [],
        attributes: { ...base, mpReach: { afi: 25, safi: 70, nextHops: [], nlri: [] } },
        nlri: [],
      },
      {
        type: "update",
        withdrawn: [],
        attributes: { ...base, nextHop: "127.0.0.171" },
        nlri: ["10.72.0.0/24"],
      },
    ]);
    await eventually(() => s.learnedRoutes().has("10.72.0.0/24"), "the IPv4 route after them learned");
    assert.deepEqual([...s.learnedRoutes().keys()].sort(), ["10.71.0.0/24", "10.72.0.0/24"]);
    const told = events.filter((e) => e.event === "family-ignored");
    assert.deepEqual(
      told.map((e) => e.event === "family-ignored" && [e.family, e.prefixes]),
      [
        ["IPv6 unicast", 1],
        ["AFI 25 SAFI 70", 0],
      ],
    );
    const [status] = s.sessions();
    assert.equal(status?.ignoredFamilies, 3);
    assert.equal(status?.state, "Established");
    assert.equal(events.filter((e) => e.event === "down").length, 0);
  });

  test("RFC 8950: IPv4 with an IPv6 next hop is learned where both sides sent capability 5, ignored where we did not", async () => {
    const enh = [
      { kind: "multiprotocol" as const, afi: 1, safi: 1 },
      { kind: "multiprotocol" as const, afi: 2, safi: 1 },
      { kind: "extended-next-hop" as const, entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
    ];
    const via6: UpdateMessage = {
      type: "update",
      withdrawn: [],
      attributes: {
        ...base,
        mpReach: { afi: 1, safi: 1, nextHops: ["fd00::9", "fe80::9"], nlri: ["10.73.0.0/24"] },
      },
      nlri: [],
    };
    const marker: UpdateMessage = {
      type: "update",
      withdrawn: [],
      attributes: { ...base, nextHop: "127.0.0.172" },
      nlri: ["10.74.0.0/24"],
    };
    const on = await start(new RawBgpPeer("127.0.0.172", 65009, enh), true);
    peers[0]?.send([via6, marker]);
    await eventually(() => on.s.learnedRoutes().has("10.74.0.0/24"), "routes learned");
    assert.equal(on.s.learnedRoutes().get("10.73.0.0/24"), "fd00::9", "the global IPv6 next hop");
    // Withdrawn through MP_UNREACH_NLRI AFI 1.
    peers[0]?.send([
      {
        type: "update",
        withdrawn: [],
        attributes: { mpUnreach: { afi: 1, safi: 1, withdrawn: ["10.73.0.0/24"] } },
        nlri: [],
      },
    ]);
    await eventually(() => !on.s.learnedRoutes().has("10.73.0.0/24"), "withdrawn");
    for (const p of peers.splice(0)) p.close();
    await speaker?.stop();

    const off = await start(new RawBgpPeer("127.0.0.173", 65009, enh), false);
    peers[0]?.send([via6, { ...marker, attributes: { ...base, nextHop: "127.0.0.173" } }]);
    await eventually(() => off.s.learnedRoutes().has("10.74.0.0/24"), "the plain route learned");
    assert.equal(off.s.learnedRoutes().has("10.73.0.0/24"), false);
    assert.ok(
      off.events.some((e) => e.event === "family-ignored" && e.family === "IPv4 unicast with IPv6 next hop"),
    );
  });
});

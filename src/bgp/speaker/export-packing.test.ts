import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { RawBgpPeer } from "../../../test/support/raw-bgp-peer.js";
import { eventually } from "../../common/eventually.js";
import type { PathAttributes, UpdateMessage } from "../codec/types.js";
import { BgpSpeaker } from "./speaker.js";

const rrAddress = "127.0.0.160";
const clusterId = "10.160.0.1";
const prefix = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;
const attrs = (nextHop: string, extra: Partial<PathAttributes> = {}): PathAttributes => ({
  origin: "igp",
  asPath: [],
  nextHop,
  localPref: 100,
  ...extra,
});
/** One prefix per UPDATE, as a Calico-style node announces its blocks. */
const oneEach = (from: number, n: number, a: PathAttributes): UpdateMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    type: "update",
    withdrawn: [],
    attributes: a,
    nlri: [prefix(from + i)],
  }));
const withdrawEach = (from: number, n: number): UpdateMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    type: "update",
    withdrawn: [prefix(from + i)],
    attributes: {},
    nlri: [],
  }));

/**
 * Strata's speaker as a route reflector on loopback, its clients raw BGP peers that send exactly
 * the UPDATEs a test writes: what leaves depends on the attribute sets, not on how the routes came.
 */
describe("export packing: UPDATEs leave full whatever the peers sent", () => {
  let rr: BgpSpeaker | undefined;
  const peers: RawBgpPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) p.close();
    await rr?.stop();
  });

  async function reflector(ebgp = false) {
    const a = new RawBgpPeer("127.0.0.161", 64512);
    const b = new RawBgpPeer("127.0.0.162", 64512);
    const e = new RawBgpPeer("127.0.0.163", 65009);
    rr = new BgpSpeaker({
      asn: 64512,
      routerId: rrAddress,
      clusterId,
      holdTime: 90,
      listen: { host: rrAddress, port: 0 },
    });
    await rr.start([
      { address: a.address, asn: 64512, rrClient: true, passive: true },
      { address: b.address, asn: 64512, rrClient: true, passive: true },
      ...(ebgp ? [{ address: e.address, asn: 65009, passive: true }] : []),
    ]);
    const port = rr.port as number;
    for (const p of ebgp ? [a, b, e] : [a, b]) {
      peers.push(p);
      await p.open(rrAddress, port);
    }
    return { a, b, e };
  }

  test("300 prefixes that arrived in 300 UPDATEs leave in one or two, and none goes back to its originator", async () => {
    const { a, b } = await reflector();
    a.send(oneEach(0, 300, attrs(a.address)));
    await eventually(() => b.table().size === 300, "client b holds the 300 prefixes");
    // One read of the burst is one batch; a burst split over reads makes one UPDATE per read.
    assert.ok(b.received.length <= 3, `${b.received.length} UPDATEs for 300 prefixes`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.received.length, 0, "nothing reflected back to a");
  });

  test("2,000 prefixes: every UPDATE within 4,096 octets and full; their withdrawals packed as well", async () => {
    const { a, b } = await reflector();
    a.send(oneEach(0, 2000, attrs(a.address)));
    await eventually(() => b.table().size === 2000, "client b holds the 2,000 prefixes");
    const announced = b.received.length;
    for (const { octets } of b.received) assert.ok(octets <= 4096, `UPDATE of ${octets} octets`);
    // ~1,000 /24s fit in one UPDATE: 2 at best, one more for each read the burst was split over.
    assert.ok(announced <= 8, `${announced} UPDATEs for 2,000 prefixes`);
    const biggest = Math.max(...b.received.map((r) => r.octets));
    assert.ok(biggest > 4000, `the fullest UPDATE has ${biggest} octets`);
    a.send(withdrawEach(0, 2000));
    await eventually(() => b.table().size === 0, "every prefix withdrawn at b");
    const withdrawals = b.received.slice(announced);
    for (const { octets } of withdrawals) assert.ok(octets <= 4096, `UPDATE of ${octets} octets`);
    assert.ok(withdrawals.length <= 8, `${withdrawals.length} UPDATEs for 2,000 withdrawals`);
    assert.equal(
      withdrawals.reduce((n, w) => n + w.update.withdrawn.length, 0),
      2000,
    );
  });

  test("two attribute sets interleaved one prefix at a time leave as two groups", async () => {
    const { a, b } = await reflector();
    const burst = oneEach(0, 200, attrs(a.address)).map((u, i) =>
      i % 2 === 0 ? u : { ...u, attributes: attrs(a.address, { med: 7 }) },
    );
    a.send(burst);
    await eventually(() => b.table().size === 200, "client b holds the 200 prefixes");
    assert.ok(b.received.length <= 4, `${b.received.length} UPDATEs for two attribute sets`);
    const t = b.table();
    assert.equal(t.get(prefix(1))?.med, 7);
    assert.equal(t.get(prefix(0))?.med, undefined);
  });

  test("export rules still apply per peer: reflection attributes to a client, our AS and NEXT_HOP and no MED to an eBGP peer", async () => {
    const { a, b, e } = await reflector(true);
    a.send(oneEach(0, 50, attrs(a.address, { med: 50 })));
    await eventually(
      () => b.table().size === 50 && e.table().size === 50,
      "b and the eBGP peer hold the routes",
    );
    const toClient = b.table().get(prefix(0));
    assert.equal(toClient?.originatorId, a.address, "ORIGINATOR_ID is the originator's BGP identifier");
    assert.deepEqual(toClient?.clusterList, [clusterId]);
    assert.equal(toClient?.nextHop, a.address, "a reflected route keeps its NEXT_HOP");
    assert.equal(toClient?.med, 50);
    const toEbgp = e.table().get(prefix(0));
    assert.deepEqual(toEbgp?.asPath, [{ type: "sequence", asns: [64512] }]);
    assert.equal(toEbgp?.nextHop, rrAddress, "NEXT_HOP is ours on eBGP");
    assert.equal(toEbgp?.med, undefined, "a MED learned inside the AS does not leave it (RFC 4271 §5.1.4)");
    assert.equal(toEbgp?.localPref, undefined);
    assert.equal(toEbgp?.originatorId, undefined);
  });
});

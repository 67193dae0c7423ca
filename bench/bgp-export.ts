/**
 * Strata's speaker alone, in this process, as a route reflector on loopback: what its export
 * costs however the load packs its UPDATEs. N load peers (127.0.0.2, 127.0.0.3, ...) announce M
 * prefixes each, P per UPDATE; measured: time to converge (every peer holds every distinct
 * prefix), JS heap per route once converged (after a full GC: what the RIB and Adj-RIBs hold),
 * and the latency of one change — a peer announces one more prefix (or withdraws it) and the time
 * until another peer has it, on the idle speaker.
 *
 * Usage: node --expose-gc dist/bench/bgp-export.js [--peers 100] [--prefixes 1000] [--pack 1,10,100,1000] [--changes 20]
 */
import { parseArgs } from "node:util";
import { BgpSpeaker } from "../src/bgp/speaker/speaker.js";
import { BgpLoad } from "./bgp-load.js";
import { median, p95 } from "./stats.js";

const { values } = parseArgs({
  options: {
    peers: { type: "string", default: "100" },
    prefixes: { type: "string", default: "1000" },
    pack: { type: "string", default: "1,10,100,1000" },
    changes: { type: "string", default: "20" },
  },
});
const peers = Number(values.peers);
const prefixes = Number(values.prefixes);
const changes = Number(values.changes);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc (the heap is measured after a full collection)");
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function once(pack: number) {
  const addresses = Array.from({ length: peers }, (_, i) => `127.0.0.${i + 2}`);
  const before = heap();
  const speaker = new BgpSpeaker({
    asn: 64512,
    routerId: "127.0.0.1",
    clusterId: "127.0.0.1",
    holdTime: 180,
    listen: { host: "127.0.0.1", port: 0 },
  });
  await speaker.start(addresses.map((address) => ({ address, asn: 64512, rrClient: true, passive: true })));
  const load = new BgpLoad({ rr: "127.0.0.1", port: speaker.port, addresses, prefixes, pack });
  try {
    const encoded = load.encodeAll();
    await load.established();
    const t0 = performance.now();
    await load.announce(encoded);
    const convergedMs = performance.now() - t0;
    // The load's per-peer prefix sets are ArrayBuffers, outside the JS heap: nothing to subtract.
    const perRoute = (heap() - before) / speaker.ribSize;
    const lat: number[] = [];
    for (let i = 0; i < changes; i++) {
      const t = performance.now();
      await load.change(0, 1, i);
      lat.push(performance.now() - t);
      const w = performance.now();
      await load.change(0, 1, i, true);
      lat.push(performance.now() - w);
    }
    return {
      convergedMs,
      perRoute,
      latency: lat,
      duplicates: load.duplicates,
      received: load.updatesReceived,
    };
  } finally {
    load.close();
    await speaker.stop();
  }
}

console.log(`Strata's speaker in-process: ${peers} peers × ${prefixes} prefixes`);
console.log("pack  converged ms  heap B/route  UPDATEs out  change p50 ms  p95 ms  duplicates");
for (const pack of values.pack.split(",").map(Number)) {
  const r = await once(pack);
  console.log(
    `${String(pack).padStart(4)}  ${r.convergedMs.toFixed(0).padStart(12)}  ${r.perRoute.toFixed(0).padStart(12)}  ${String(r.received).padStart(11)}  ${median(r.latency).toFixed(2).padStart(13)}  ${p95(r.latency).toFixed(2).padStart(6)}  ${String(r.duplicates).padStart(10)}`,
  );
}

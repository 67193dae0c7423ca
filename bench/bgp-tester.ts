/**
 * bgperf-style load tool (bench/bgp-load.ts) as a process, run inside the load namespace: N peers
 * announce M prefixes each, P per UPDATE, to a route reflector. Prints one JSON line:
 * { establishedMs, convergedMs, expected, minHeld, duplicates } or { error } / { timeout }.
 * The reflector at RR_ADDRESS must know every peer as a passive route-reflector client.
 * Usage: node bgp-tester.js RR_ADDRESS[:PORT] BASE PEERS PREFIXES [PACK]   (peer i's address is BASE.i)
 */
import { BgpLoad } from "./bgp-load.js";

const [rr = "", base = "", peersArg = "10", prefixesArg = "100", packArg = "1000"] = process.argv.slice(2);
const peers = Number(peersArg);
const started = performance.now();
const [host = "", port = "179"] = rr.split(":");
const load = new BgpLoad({
  rr: host,
  port: Number(port),
  addresses: Array.from({ length: peers }, (_, i) => `${base}.${i + 1}`),
  prefixes: Number(prefixesArg),
  pack: Number(packArg),
});

/**
 * Print the result; with BGP_TESTER_HOLD=1 keep every session up until stdin closes, so the bench
 * reads the reflector's CPU time and peak memory for convergence, not for 100 sessions going down.
 */
let finished = false;
const finish = (result: object) => {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (process.env.BGP_TESTER_HOLD !== "1") process.exit(0);
  process.stdin.on("end", () => process.exit(0)).resume();
};
const timeoutMs = Number(process.env.BGP_TESTER_TIMEOUT_MS ?? 300_000);
/** Sessions that do not come up in this time are a failed set-up, not a slow reflector. */
const setUp = setTimeout(() => finish({ error: "sessions not all Established within 60 s" }), 60_000);

try {
  const encoded = load.encodeAll();
  await load.established();
  clearTimeout(setUp);
  // Every reflector finishes its side of the sessions (initial table, End-of-RIB) before the clock.
  await load.quiet();
  // The timeout counts from the announcement: a slow set-up does not eat into it.
  setTimeout(
    () =>
      finish({ timeout: true, minHeld: load.minHeld, expected: load.expected, duplicates: load.duplicates }),
    timeoutMs,
  ).unref();
  const announcedAt = performance.now();
  await load.announce(encoded);
  finish({
    establishedMs: Math.round(announcedAt - started),
    convergedMs: Math.round(performance.now() - announcedAt),
    expected: load.expected,
    minHeld: load.minHeld,
    duplicates: load.duplicates,
  });
} catch (err) {
  finish({ error: (err as Error).message });
}

/**
 * bgperf-style load tool (bench/bgp-load.ts) as a process, run inside the load namespace: N peers
 * announce M prefixes each, P per UPDATE, to a route reflector. Prints one JSON line:
 * { establishedMs, convergedMs, expected, minHeld, duplicates } or { error } / { timeout }.
 * Usage: node bgp-tester.js RR_ADDRESS BASE PEERS PREFIXES [PACK]   (peer i's address is BASE.i)
 */
import { BgpLoad } from "./bgp-load.js";

const [rr = "", base = "", peersArg = "10", prefixesArg = "100", packArg = "1000"] = process.argv.slice(2);
const peers = Number(peersArg);
const started = performance.now();
const load = new BgpLoad({
  rr,
  addresses: Array.from({ length: peers }, (_, i) => `${base}.${i + 1}`),
  prefixes: Number(prefixesArg),
  pack: Number(packArg),
});

const finish = (result: object) => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
};
setTimeout(
  () =>
    finish({ timeout: true, minHeld: load.minHeld, expected: load.expected, duplicates: load.duplicates }),
  Number(process.env.BGP_TESTER_TIMEOUT_MS ?? 300_000),
).unref();

try {
  const encoded = load.encodeAll();
  await load.established();
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

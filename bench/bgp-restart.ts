/**
 * A BGP speaker restarting with graceful restart (RFC 4724) against one that drops its routes:
 * speaker B announces N prefixes to helper A (in this process, on loopback), stops, and a new B
 * comes up on the same address. Measured per round: how many of B's routes A removed while B was
 * away and back (what the kernel would have lost), and the time from the new B's start until A's
 * table is B's again (graceful restart: the End-of-RIB sweep done; without: every route re-learned).
 *
 * Usage: node dist/bench/bgp-restart.js [--prefixes 2000] [--rounds 5] [--away-ms 300]
 */
import { parseArgs } from "node:util";
import { BgpSpeaker, type SpeakerEvent } from "../src/bgp/speaker/speaker.js";
import { median } from "./stats.js";

const { values } = parseArgs({
  options: {
    prefixes: { type: "string", default: "2000" },
    rounds: { type: "string", default: "5" },
    "away-ms": { type: "string", default: "300" },
  },
});
const prefixes = Number(values.prefixes);
const rounds = Number(values.rounds);
const awayMs = Number(values["away-ms"]);
const prefix = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(2);
  }
}

async function round(gr: boolean): Promise<{ removed: number; backMs: number }> {
  const learned = new Set<string>();
  let removed = 0;
  let swept = false;
  const a = new BgpSpeaker({
    asn: 64512,
    routerId: "127.0.0.71",
    holdTime: 9,
    listen: { host: "127.0.0.71", port: 0 },
    gracefulRestart: gr ? {} : false,
    onEvent: (e: SpeakerEvent) => {
      if (e.event === "stale-swept") swept = true;
    },
    onRoutes: (cs) => {
      for (const c of cs) {
        if (c.nextHop) learned.add(c.prefix);
        else if (learned.delete(c.prefix)) removed++;
      }
    },
  });
  await a.start([{ address: "127.0.0.72", asn: 64512, passive: true }]);
  const b = (restarting: boolean) => {
    const s = new BgpSpeaker({
      asn: 64512,
      routerId: "127.0.0.72",
      holdTime: 9,
      connectRetrySeconds: 0.05,
      localAddress: "127.0.0.72",
      gracefulRestart: gr ? { restarting } : false,
    });
    for (let i = 0; i < prefixes; i++) s.originate(prefix(i));
    return s;
  };
  const first = b(false);
  await first.start([{ address: "127.0.0.71", asn: 64512, port: a.port }]);
  await waitFor(() => learned.size === prefixes, "A learned B's table");
  await first.stop({ graceful: true });
  await sleep(awayMs);
  const t0 = performance.now();
  const second = b(true);
  await second.start([{ address: "127.0.0.71", asn: 64512, port: a.port }]);
  await waitFor(() => learned.size === prefixes && (!gr || swept), "A holds B's table again");
  const backMs = performance.now() - t0;
  await second.stop();
  await a.stop();
  return { removed, backMs };
}

const results: Record<string, { removed: number[]; backMs: number[] }> = {
  "graceful restart": { removed: [], backMs: [] },
  "no graceful restart (reference)": { removed: [], backMs: [] },
};
for (let r = 0; r < rounds; r++) {
  for (const gr of [true, false]) {
    const x = await round(gr);
    const key = gr ? "graceful restart" : "no graceful restart (reference)";
    results[key]?.removed.push(x.removed);
    results[key]?.backMs.push(x.backMs);
  }
}
const ref = median(results["no graceful restart (reference)"]?.backMs ?? []);
console.log(`${prefixes} prefixes, B away ${awayMs} ms, ${rounds} rounds (medians):`);
for (const [name, x] of Object.entries(results)) {
  const back = median(x.backMs);
  console.log(
    `  ${name.padEnd(32)} routes removed at A: ${median(x.removed)}  new B start → A's table whole: ${back.toFixed(1)} ms (${(back / ref).toFixed(2)}×)`,
  );
}

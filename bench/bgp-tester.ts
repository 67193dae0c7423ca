/**
 * bgperf-style load tool on Strata's codec: N BGP peers from one process (one source address
 * each), every peer announcing M prefixes to a route reflector, and counting what comes back.
 * Run inside the tester namespace; prints one JSON line:
 * { establishedMs, convergedMs, expected, minReceived }.
 * Usage: node bgp-tester.js RR_ADDRESS BASE PEERS PREFIXES   (peer i's address is BASE.i)
 */
import { connect, type Socket } from "node:net";
import { BgpFrameParser } from "../src/bgp/codec/framing.js";
import { encodeMessage } from "../src/bgp/codec/messages.js";
import { announceUpdates } from "../src/bgp/speaker/update-builder.js";

const [rr = "", base = "", peersArg = "10", prefixesArg = "100"] = process.argv.slice(2);
const peers = Number(peersArg);
const prefixes = Number(prefixesArg);
const asn = 64512;
const ctx = { fourOctetAs: true };
const expected = (peers - 1) * prefixes;

const prefixOf = (k: number) => `${11 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.0/24`;

/** NLRI in an UPDATE, counted without decoding attributes (the tester must stay cheap). */
function countNlri(frame: Uint8Array): number {
  if (frame[18] !== 2) return 0;
  let i = 19;
  const wlen = ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0);
  i += 2 + wlen;
  const alen = ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0);
  i += 2 + alen;
  let n = 0;
  while (i < frame.length) {
    i += 1 + Math.ceil((frame[i] ?? 0) / 8);
    n++;
  }
  return n;
}

interface Peer {
  readonly address: string;
  socket?: Socket;
  established: boolean;
  received: number;
}

const started = performance.now();
let announcedAt = 0;
const all: Peer[] = Array.from({ length: peers }, (_, i) => ({
  address: `${base}.${i + 1}`,
  established: false,
  received: 0,
}));

const finish = (result: object) => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
};
setTimeout(
  () =>
    finish({
      timeout: true,
      established: all.filter((p) => p.established).length,
      minReceived: Math.min(...all.map((p) => p.received)),
      expected,
    }),
  Number(process.env.BGP_TESTER_TIMEOUT_MS ?? 300_000),
).unref();

function announceAll(): void {
  announcedAt = performance.now();
  all.forEach((p, i) => {
    const mine = Array.from({ length: prefixes }, (_, j) => prefixOf(i * prefixes + j));
    const attrs = { origin: "igp" as const, asPath: [], nextHop: p.address, localPref: 100 };
    for (const b of announceUpdates(attrs, mine, ctx)) p.socket?.write(b);
  });
}

function checkDone(): void {
  if (announcedAt === 0) return;
  if (all.every((p) => p.received >= expected)) {
    finish({
      establishedMs: Math.round(announcedAt - started),
      convergedMs: Math.round(performance.now() - announcedAt),
      expected,
      minReceived: Math.min(...all.map((p) => p.received)),
    });
  }
}

for (const p of all) {
  const socket = connect({ host: rr, port: 179, localAddress: p.address });
  p.socket = socket;
  const parser = new BgpFrameParser();
  let gotOpen = false;
  socket.on("connect", () => {
    socket.write(
      encodeMessage(
        {
          type: "open",
          version: 4,
          asn,
          holdTime: 180,
          bgpId: p.address,
          capabilities: [
            { kind: "multiprotocol", afi: 1, safi: 1 },
            { kind: "four-octet-as", asn },
          ],
        },
        ctx,
      ),
    );
  });
  socket.on("data", (chunk: Buffer) => {
    for (const f of parser.push(chunk)) {
      const type = f[18];
      if (type === 1) {
        gotOpen = true;
        socket.write(encodeMessage({ type: "keepalive" }, ctx));
      } else if (type === 4 && gotOpen && !p.established) {
        p.established = true;
        if (all.every((x) => x.established)) announceAll();
      } else if (type === 2) {
        p.received += countNlri(f);
      } else if (type === 3) {
        finish({ error: `peer ${p.address} got a NOTIFICATION ${f[19]}/${f[20]}` });
      }
    }
    checkDone();
  });
  socket.on("error", (err) => finish({ error: `peer ${p.address}: ${err.message}` }));
}
// Keep sessions alive past the reflectors' hold timers.
setInterval(() => {
  for (const p of all) if (p.established) p.socket?.write(encodeMessage({ type: "keepalive" }, ctx));
}, 30_000).unref();

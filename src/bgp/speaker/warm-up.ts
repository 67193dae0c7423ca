import { connect, type Socket } from "node:net";
import { BgpFrameParser } from "../codec/framing.js";
import { encodeMessage } from "../codec/messages.js";
import type { CodecContext } from "../codec/types.js";
import { BgpSpeaker } from "./speaker.js";
import { announceUpdates } from "./update-builder.js";

/** How much a warm-up does (defaults: a few thousand routes, well under a second of CPU). */
export interface WarmUpOptions {
  /** Loopback clients of the throwaway reflector (127.0.0.2, 127.0.0.3, ...). */
  readonly peers?: number;
  /** Prefixes each client announces per round, half one per UPDATE and half packed. */
  readonly prefixes?: number;
  readonly rounds?: number;
  /** Give up (and carry on cold) after this long. */
  readonly timeoutMs?: number;
}

export interface WarmUpResult {
  readonly ms: number;
  /** Routes the throwaway reflector sent its clients (0 when it could not run). */
  readonly routesReflected: number;
  /** Why it stopped early (no loopback, a timeout); absent when it ran through. */
  readonly skipped?: string;
}

const ctx: CodecContext = { fourOctetAs: true };
const asn = 64512;
const routerId = "127.0.0.1";

/**
 * Run the code a burst of UPDATEs takes (socket reads, framing, FSM, decode, RIB, Adj-RIB-Out,
 * encode, writes) on a throwaway reflector over loopback before the real speaker starts: V8
 * compiles lazily and optimises what runs hot, so a fresh process reflects its first burst at a
 * fraction of the speed of a warm one (a measured 2–3× more CPU at 50 peers × 200 prefixes). Its
 * sessions, routes and sockets are gone when this resolves; nothing of it reaches the real peers.
 * Best effort: without a usable loopback it returns at once with `skipped` set.
 */
export async function warmUp(o: WarmUpOptions = {}): Promise<WarmUpResult> {
  const started = performance.now();
  const peers = o.peers ?? 8;
  const prefixes = o.prefixes ?? 400;
  const rounds = o.rounds ?? 2;
  let reflected = 0;
  let skipped: string | undefined;
  const timeout = new Promise<string>((resolve) =>
    setTimeout(() => resolve(`no convergence within ${o.timeoutMs ?? 5000} ms`), o.timeoutMs ?? 5000).unref(),
  );
  for (let round = 0; round < rounds && !skipped; round++) {
    const addresses = Array.from({ length: peers }, (_, i) => `127.0.0.${i + 2}`);
    const rr = new BgpSpeaker({
      asn,
      routerId,
      clusterId: routerId,
      holdTime: 90,
      gracefulRestart: false,
      listen: { host: "127.0.0.1", port: 0 },
    });
    const clients: WarmUpClient[] = [];
    try {
      await rr.start(addresses.map((address) => ({ address, asn, rrClient: true, passive: true })));
      const port = rr.port as number;
      for (const [i, address] of addresses.entries())
        clients.push(new WarmUpClient(port, address, updatesOf(i + round * peers, address, prefixes)));
      const expected = (peers - 1) * prefixes;
      const done = Promise.all(clients.map((c) => c.until(expected))).then(() => undefined);
      skipped = (await Promise.race([done, timeout])) ?? undefined;
      reflected += clients.reduce((n, c) => n + c.held, 0);
    } catch (err) {
      skipped = `loopback unusable: ${(err as Error).message}`;
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await rr.stop().catch(() => {});
    }
  }
  return { ms: performance.now() - started, routesReflected: reflected, ...(skipped ? { skipped } : {}) };
}

/** Client `k`'s prefixes (host routes in 198.18.0.0/15, benchmark space, RFC 2544): half one per UPDATE, half packed. */
function updatesOf(k: number, address: string, prefixes: number): Uint8Array {
  const attrs = { origin: "igp" as const, asPath: [], nextHop: address, localPref: 100 };
  const mine = Array.from({ length: prefixes }, (_, j) => {
    const n = (k * prefixes + j) & 0x1ffff;
    return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/32`;
  });
  const bufs: Uint8Array[] = [];
  const half = prefixes >> 1;
  for (let i = 0; i < half; i++) bufs.push(...announceUpdates(attrs, [mine[i] as string], ctx));
  bufs.push(...announceUpdates(attrs, mine.slice(half), ctx));
  return Buffer.concat(bufs);
}

/** A loopback iBGP client: OPEN, then its UPDATEs once established; counts the NLRI it gets back. */
class WarmUpClient {
  held = 0;
  readonly #socket: Socket;
  #waiters: (() => void)[] = [];
  #failed: Error | undefined;

  constructor(port: number, address: string, updates: Uint8Array) {
    const socket = connect({ host: "127.0.0.1", port, localAddress: address });
    this.#socket = socket;
    const parser = new BgpFrameParser();
    let gotOpen = false;
    let sent = false;
    socket.on("connect", () =>
      socket.write(
        encodeMessage(
          {
            type: "open",
            version: 4,
            asn,
            holdTime: 90,
            bgpId: address,
            capabilities: [
              { kind: "multiprotocol", afi: 1, safi: 1 },
              { kind: "four-octet-as", asn },
            ],
          },
          ctx,
        ),
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      for (const f of parser.push(chunk)) {
        const type = f[18];
        if (type === 1) {
          gotOpen = true;
          socket.write(encodeMessage({ type: "keepalive" }, ctx));
        } else if (type === 4 && gotOpen && !sent) {
          sent = true;
          socket.write(updates);
        } else if (type === 2) this.held += nlriCount(f);
      }
      this.#wake();
    });
    socket.on("error", (err) => {
      this.#failed ??= err;
      this.#wake();
    });
  }

  until(n: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#failed) reject(this.#failed);
        else if (this.held >= n) resolve();
        else this.#waiters.push(check);
      };
      check();
    });
  }

  /** Resolves once the socket is closed. */
  close(): Promise<void> {
    if (this.#socket.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.#socket.once("close", () => resolve()));
    this.#socket.destroy();
    return closed;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

/** NLRI in the NLRI field of one UPDATE frame (header included). */
function nlriCount(f: Uint8Array): number {
  let i = 19;
  const wlen = ((f[i] ?? 0) << 8) | (f[i + 1] ?? 0);
  i += 2 + wlen;
  const alen = ((f[i] ?? 0) << 8) | (f[i + 1] ?? 0);
  i += 2 + alen;
  let n = 0;
  while (i < f.length) {
    i += 1 + Math.ceil((f[i] ?? 0) / 8);
    n++;
  }
  return n;
}

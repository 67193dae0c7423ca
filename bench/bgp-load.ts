/**
 * The load side of the bgperf-style benchmarks, on Strata's codec: N iBGP peers from one process
 * (one source address each), each announcing M /24s packed P per UPDATE, and counting what comes
 * back without decoding attributes (the load must stay cheap). A peer holds a prefix once, however
 * often it arrives: a reflector that sends a route back to its originator (FRR does) or twice gets
 * no credit for it — converged means every peer holds every *distinct* prefix of the others.
 */
import { connect, type Socket } from "node:net";
import { BgpFrameParser } from "../src/bgp/codec/framing.js";
import { encodeMessage } from "../src/bgp/codec/messages.js";
import { announceUpdates } from "../src/bgp/speaker/update-builder.js";

export interface LoadOptions {
  readonly rr: string;
  readonly port?: number;
  /** One peer per source address. */
  readonly addresses: readonly string[];
  /** Prefixes each peer announces. */
  readonly prefixes: number;
  /** Prefixes per UPDATE the load sends (bgperf's packing); at most what fits in 4,096 octets. */
  readonly pack: number;
  readonly asn?: number;
}

/** Prefix number k as a /24: 11.0.0.0/24, 11.0.1.0/24, ... */
export const prefixOf = (k: number) => `${11 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.0/24`;
/** Room for prefixes announced after the load (latency probes). */
const spare = 4096;

interface LoadPeer {
  readonly index: number;
  readonly address: string;
  readonly socket: Socket;
  established: boolean;
  /** Distinct prefixes of others held now. */
  held: number;
  /** NLRI that brought nothing new (a repeat, or the peer's own prefix reflected back). */
  duplicates: number;
  readonly have: Uint8Array;
}

const ctx = { fourOctetAs: true };

export class BgpLoad {
  readonly #o: LoadOptions;
  readonly #peers: LoadPeer[];
  readonly #total: number;
  #waiters: (() => void)[] = [];
  #failed: Error | undefined;
  readonly #keepalive: NodeJS.Timeout;
  updatesReceived = 0;

  constructor(o: LoadOptions) {
    this.#o = o;
    this.#total = o.addresses.length * o.prefixes + spare;
    this.#peers = o.addresses.map((address, index) => this.#connect(index, address));
    // Keep sessions alive past the reflectors' hold timers.
    this.#keepalive = setInterval(() => {
      for (const p of this.#peers)
        if (p.established) p.socket.write(encodeMessage({ type: "keepalive" }, ctx));
    }, 30_000).unref();
  }

  /** Prefixes every peer must hold to be converged. */
  get expected(): number {
    return (this.#o.addresses.length - 1) * this.#o.prefixes;
  }

  get minHeld(): number {
    return Math.min(...this.#peers.map((p) => p.held));
  }

  get duplicates(): number {
    return this.#peers.reduce((n, p) => n + p.duplicates, 0);
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Resolves once `done()` holds (checked after every message received). */
  until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#failed) reject(this.#failed);
        else if (done()) resolve();
        else this.#waiters.push(check);
      };
      check();
    });
  }

  established(): Promise<void> {
    return this.until(() => this.#peers.every((p) => p.established));
  }

  /** When the last message from the reflector arrived (performance.now()). */
  #lastMessageAt = 0;

  /**
   * Resolves once no message has come from the reflector for `quietMs` (at most `maxMs`): after
   * every session is up, each reflector has had time to finish its own side of it (its KEEPALIVE
   * received, its initial table and End-of-RIB sent) before the clock starts — the same for all.
   */
  async quiet(quietMs = 300, maxMs = 5000): Promise<void> {
    const start = performance.now();
    for (;;) {
      if (this.#failed) throw this.#failed;
      const idle = performance.now() - this.#lastMessageAt;
      if (idle >= quietMs || performance.now() - start >= maxMs) return;
      await new Promise((r) => setTimeout(r, quietMs - idle));
    }
  }

  /** Every peer's prefixes, encoded before the clock starts (the load's own encoding is not timed). */
  encodeAll(): Uint8Array[] {
    return this.#peers.map((p) => {
      const attrs = { origin: "igp" as const, asPath: [], nextHop: p.address, localPref: 100 };
      const mine = Array.from({ length: this.#o.prefixes }, (_, j) =>
        prefixOf(p.index * this.#o.prefixes + j),
      );
      const bufs: Uint8Array[] = [];
      for (let i = 0; i < mine.length; i += this.#o.pack) {
        bufs.push(...announceUpdates(attrs, mine.slice(i, i + this.#o.pack), ctx));
      }
      return Buffer.concat(bufs);
    });
  }

  /** Send what encodeAll made; resolves when every peer holds every distinct prefix of the others. */
  async announce(encoded: readonly Uint8Array[]): Promise<void> {
    for (const p of this.#peers) p.socket.write(encoded[p.index] as Uint8Array);
    await this.until(() => this.#peers.every((p) => p.held >= this.expected));
  }

  /** Peer `from` announces (or withdraws) one more prefix; resolves when peer `to` has seen it. */
  async change(from: number, to: number, spareIndex: number, withdraw = false): Promise<void> {
    const k = this.#o.addresses.length * this.#o.prefixes + spareIndex;
    const p = this.#peers[from] as LoadPeer;
    const target = this.#peers[to] as LoadPeer;
    const attrs = { origin: "igp" as const, asPath: [], nextHop: p.address, localPref: 100 };
    const msg = withdraw
      ? encodeMessage({ type: "update", withdrawn: [prefixOf(k)], attributes: {}, nlri: [] }, ctx)
      : (announceUpdates(attrs, [prefixOf(k)], ctx)[0] as Uint8Array);
    p.socket.write(msg);
    await this.until(() => (target.have[k] === 1) !== withdraw);
  }

  #closing = false;

  close(): void {
    this.#closing = true;
    clearInterval(this.#keepalive);
    for (const p of this.#peers) p.socket.destroy();
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #connect(index: number, address: string): LoadPeer {
    const asn = this.#o.asn ?? 64512;
    const socket = connect({ host: this.#o.rr, port: this.#o.port ?? 179, localAddress: address });
    socket.setNoDelay(true);
    const peer: LoadPeer = {
      index,
      address,
      socket,
      established: false,
      held: 0,
      duplicates: 0,
      have: new Uint8Array(this.#total),
    };
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
            bgpId: address,
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
      this.#lastMessageAt = performance.now();
      for (const f of parser.push(chunk)) {
        const type = f[18];
        if (type === 1) {
          gotOpen = true;
          socket.write(encodeMessage({ type: "keepalive" }, ctx));
        } else if (type === 4 && gotOpen) {
          peer.established = true;
        } else if (type === 2) {
          this.updatesReceived++;
          this.#count(peer, f);
        } else if (type === 3) {
          this.#fail(new Error(`peer ${address} got a NOTIFICATION ${f[19]}/${f[20]}`));
        }
      }
      this.#wake();
    });
    socket.on("error", (err) => this.#fail(new Error(`peer ${address}: ${err.message}`)));
    // A session the reflector drops is a failed run, said at once (not a timeout minutes later).
    socket.on("close", () => {
      if (!this.#closing) this.#fail(new Error(`peer ${address}: the reflector closed the session`));
    });
    return peer;
  }

  /** Withdrawn routes and NLRI of one UPDATE into the peer's set of distinct prefixes. */
  #count(peer: LoadPeer, frame: Uint8Array): void {
    let i = 19;
    const wlen = ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0);
    i += 2;
    const wEnd = i + wlen;
    while (i < wEnd) i = this.#prefix(peer, frame, i, false);
    const alen = ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0);
    i += 2 + alen;
    while (i < frame.length) i = this.#prefix(peer, frame, i, true);
  }

  #prefix(peer: LoadPeer, frame: Uint8Array, i: number, reach: boolean): number {
    const bits = frame[i] ?? 0;
    const next = i + 1 + Math.ceil(bits / 8);
    const k =
      bits === 24
        ? (((frame[i + 1] ?? 0) - 11) << 16) | ((frame[i + 2] ?? 0) << 8) | (frame[i + 3] ?? 0)
        : -1;
    const own =
      k >= 0 &&
      k < this.#o.addresses.length * this.#o.prefixes &&
      Math.floor(k / this.#o.prefixes) === peer.index;
    if (k < 0 || k >= this.#total || own) {
      if (reach) peer.duplicates++;
      return next;
    }
    if (reach) {
      if (peer.have[k] === 1) peer.duplicates++;
      else {
        peer.have[k] = 1;
        peer.held++;
      }
    } else if (peer.have[k] === 1) {
      peer.have[k] = 0;
      peer.held--;
    }
    return next;
  }
}

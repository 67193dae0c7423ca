import type { Socket } from "node:net";
import { connect } from "node:net";
import { BgpCodecError } from "../codec/errors.js";
import { BgpFrameParser } from "../codec/framing.js";
import { decodeMessage, encodeMessage } from "../codec/messages.js";
import type {
  BgpMessage,
  Capability,
  CodecContext,
  NotificationMessage,
  OpenMessage,
  UpdateMessage,
} from "../codec/types.js";
import {
  type FsmAction,
  type FsmEvent,
  type FsmState,
  type FsmStateName,
  initialState,
  step,
  type TimerName,
} from "../fsm/fsm.js";
import {
  type GracefulRestartConfig,
  notificationNegotiated,
  ourRestartCapability,
  outgoingNotification,
  receivedNotificationEnd,
  type SessionEnd,
} from "../fsm/graceful-restart.js";
import { type Negotiated, negotiate } from "../fsm/negotiation.js";
import { redialSeconds } from "./dial-backoff.js";
import { connectWaitSeconds } from "./dial-policy.js";
import { connectProtected, type TcpProtection } from "./tcp-security.js";

export interface ConnectionSettings {
  readonly localAs: number;
  readonly routerId: string;
  readonly holdTime: number;
  readonly peerAs: number;
  readonly connectRetrySeconds: number;
  /** An outbound connection's failed dials back off up to this (dial-backoff.ts); absent: no back-off. */
  readonly connectRetryMaxSeconds?: number;
  readonly ipv6: boolean;
  /** Offer RFC 8950 extended next hops (IPv4 routes with an IPv6 next hop). */
  readonly extendedNextHop?: boolean;
  /** Addresses of ours beside the socket's (configured next hops): never a peer's NEXT_HOP (RFC 4271 §6.3). */
  readonly ownAddresses?: readonly string[];
  /** Graceful restart (RFC 4724) as our OPEN advertises it; absent: not advertised. */
  readonly gracefulRestart?: GracefulRestartConfig;
  /** Make outgoing connections inside this network namespace (a namespace file); absent: this process's. */
  readonly netnsPath?: string;
}

/** The capabilities our OPEN carries. */
export const ourCapabilities = (s: ConnectionSettings): Capability[] => [
  { kind: "multiprotocol", afi: 1, safi: 1 },
  ...(s.ipv6 ? [{ kind: "multiprotocol" as const, afi: 2, safi: 1 }] : []),
  { kind: "route-refresh" },
  { kind: "four-octet-as", asn: s.localAs },
  ...(s.extendedNextHop
    ? [{ kind: "extended-next-hop" as const, entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] }]
    : []),
  ...(s.gracefulRestart
    ? [
        ourRestartCapability(s.gracefulRestart, [
          { afi: 1, safi: 1 },
          ...(s.ipv6 ? [{ afi: 2, safi: 1 }] : []),
        ]),
      ]
    : []),
];

export interface ConnectionEvents {
  /** An OPEN arrived; return a NOTIFICATION to refuse it (collision resolution, RFC 4271 §6.8). */
  readonly onOpen: (c: BgpConnection, open: OpenMessage) => { code: number; subcode: number } | undefined;
  readonly onEstablished: (c: BgpConnection) => void;
  readonly onUpdate: (c: BgpConnection, u: UpdateMessage) => void;
  readonly onRouteRefresh: (c: BgpConnection) => void;
  /** The connection is finished (Idle); `established` says whether it had been. */
  readonly onClosed: (c: BgpConnection, established: boolean, reason: string) => void;
  readonly onState?: (c: BgpConnection, state: FsmStateName) => void;
  /**
   * Outbound TCP work, for counting what a session costs: a connect started ("dial"), one that
   * failed before the handshake completed ("dial-failed": refused, unreachable), one dropped by the
   * connect-retry timer while still in flight ("dial-abandoned", RFC 4271 §8.2.2 Connect state).
   */
  readonly onTransport?: (c: BgpConnection, what: TransportEvent) => void;
}

export type TransportEvent = "dial" | "dial-failed" | "dial-abandoned";

export type Direction = "outbound" | "inbound";

/**
 * One TCP connection to a peer and the RFC 4271 FSM that drives it. The FSM decides; this class
 * performs its actions (connect, send, timers) and feeds what the socket delivers back as events.
 * A connection runs once: when it returns to Idle it is closed for good and the peer makes a new
 * one (so collision resolution can keep one of two connections without shared state).
 */
export class BgpConnection {
  #state: FsmState = initialState;
  #socket: Socket | undefined;
  #ctx: CodecContext = { fourOctetAs: true };
  #negotiated: Negotiated = { fourOctetAs: true, ipv4Unicast: true, ipv6Unicast: false, ipv4ViaIpv6: false };
  readonly #timers = new Map<TimerName, NodeJS.Timeout>();
  readonly #timerSeconds = new Map<TimerName, number>();
  #pendingUpdate: UpdateMessage | undefined;
  /** Inside a received chunk's messages: the hold timer is refreshed once, after them. */
  #inChunk = false;
  #holdTouched = false;
  #errorData: Uint8Array = new Uint8Array();
  #closed = false;
  #reason = "stopped";
  /** How the session ended (what a graceful-restart helper decides on); transport until told otherwise. */
  #end: SessionEnd = "transport";
  /** How a stop's Cease goes: final (Hard Reset with N, RFC 8538) or graceful (the peer keeps our routes). */
  #stopGraceful = false;
  /** Dials in a row that ended before the peer's OPEN was taken (OpenConfirm): the retry backs off. */
  #failedDials = 0;
  remoteOpen: OpenMessage | undefined;
  lastNotificationReceived: NotificationMessage | undefined;

  constructor(
    readonly direction: Direction,
    private readonly settings: ConnectionSettings,
    private readonly events: ConnectionEvents,
  ) {}

  /** How this connection ended (meaningful once closed). */
  get end(): SessionEnd {
    return this.#end;
  }

  get state(): FsmStateName {
    return this.#state.name;
  }

  get codecContext(): CodecContext {
    return this.#ctx;
  }

  /** What the two OPENs agreed on (families, 4-octet AS); meaningful once an OPEN arrived. */
  get negotiated(): Negotiated {
    return this.#negotiated;
  }

  /** Our end's address, once connected (asked per flush and peer: getsockname each time cost). */
  get localAddress(): string | undefined {
    this.#localAddress ??= this.#socket?.localAddress?.replace(/^::ffff:/, "");
    return this.#localAddress;
  }
  #localAddress: string | undefined;

  /** Outbound: connect to the peer (retrying on the connect-retry timer), TCP-MD5/GTSM as asked. */
  dial(host: string, port: number, localAddress?: string, protection: TcpProtection = {}): void {
    this.#dialTo = { host, port, localAddress, protection };
    this.#fire({ name: "ManualStart" });
  }

  /** Inbound: take a socket the listener accepted. */
  adopt(socket: Socket): void {
    this.#fire({ name: "ManualStart" });
    this.#attach(socket);
    this.#fire({ name: "TcpConnectionConfirmed" });
  }

  #dialTo: { host: string; port: number; localAddress?: string; protection: TcpProtection } | undefined;

  /**
   * Send pre-encoded messages (UPDATEs built once for many peers): one writev for the lot, the
   * buffers shared with every other peer that gets them, never copied per peer.
   */
  sendRaw(bufs: readonly Uint8Array[]): void {
    const socket = this.#socket;
    if (this.#state.name !== "Established" || !socket || bufs.length === 0) return;
    socket.cork();
    for (const b of bufs) socket.write(b);
    socket.uncork();
  }

  /** Both OPENs set the N bit (RFC 8538): NOTIFICATIONs other than Hard Reset end the session gracefully. */
  get notificationNegotiated(): boolean {
    return notificationNegotiated(this.settings.gracefulRestart, this.remoteOpen?.capabilities ?? []);
  }

  /**
   * Close with a NOTIFICATION (e.g. Cease / max prefixes, Cease / collision resolution); with the
   * N bit on both sides one that must be final goes as a Hard Reset (RFC 8538 §5).
   */
  abort(n: { code: number; subcode: number; data?: Uint8Array }, reason: string): void {
    if (this.#closed) return;
    const out = outgoingNotification(n, { notificationNegotiated: this.notificationNegotiated });
    this.#end = out.end;
    this.#send({ type: "notification", code: out.code, subcode: out.subcode, data: out.data });
    this.#finish(reason);
  }

  /**
   * Close the TCP connection without a NOTIFICATION: the session ends the way a process exit ends
   * it, so a graceful-restart peer keeps our routes (RFC 4724 §4.1); also how an old session goes
   * when its peer comes back on a new connection (§4.2, end "transport").
   */
  closeQuietly(reason: string, end: SessionEnd): void {
    if (this.#closed) return;
    this.#end = end;
    this.#finish(reason);
  }

  /**
   * Administrative stop: Cease / Administrative Shutdown when a session was being set up or up —
   * as a Hard Reset when the N bit was negotiated (the peer drops our routes, RFC 8538), or with
   * `graceful` as it is, so a peer with the N bit keeps our routes for our restart time.
   */
  stop(o: { readonly graceful?: boolean } = {}): void {
    this.#stopGraceful = o.graceful === true;
    this.#end = "administrative";
    this.#reason = "stopped";
    this.#fire({ name: "ManualStop" });
    this.#finish("stopped");
  }

  #fire(e: FsmEvent): void {
    if (this.#closed) return;
    const before = this.#state.name;
    if (
      e.name === "TcpConnectionFails" &&
      this.direction === "outbound" &&
      (before === "Connect" || before === "Active" || before === "OpenSent")
    )
      this.#failedDials++;
    if (this.direction === "outbound" && before === "Connect") {
      if (e.name === "TcpConnectionFails") this.events.onTransport?.(this, "dial-failed");
      else if (e.name === "ConnectRetryTimer_Expires") this.events.onTransport?.(this, "dial-abandoned");
    }
    const { connectRetrySeconds, connectRetryMaxSeconds } = this.settings;
    const failedDials = this.#failedDials;
    const [next, actions] = step(this.#state, e, {
      holdTime: this.settings.holdTime,
      // Asked only by the transitions that start the timer (with jitter, so not per message).
      get connectRetrySeconds() {
        return connectRetryMaxSeconds === undefined
          ? connectRetrySeconds
          : redialSeconds(connectRetrySeconds, failedDials, connectRetryMaxSeconds);
      },
      // A connect in flight gets its SYN retransmitted before it is given up (dial-policy.ts).
      get connectWaitSeconds() {
        return connectWaitSeconds(this.connectRetrySeconds);
      },
      passive: this.direction === "inbound",
      peerAs: this.settings.peerAs,
    });
    if (next.name === "OpenConfirm") this.#failedDials = 0;
    this.#state = next;
    for (const a of actions) this.#do(a);
    if (next.name !== before) this.events.onState?.(this, next.name);
    if (next.name === "Idle" && before !== "Idle") this.#finish(this.#reason, before === "Established");
    // An accepted connection is one TCP connection: once it fails (OpenSent → Active, RFC 4271
    // §8.2.2) nothing of it can go on — the speaker's listener takes the peer's next one. Kept, it
    // lingered until a session came up, its connect-retry timer firing to no end.
    else if (this.direction === "inbound" && next.name === "Active" && before !== "Idle")
      this.#finish(this.#reason);
  }

  /**
   * An outbound connection waiting out its connect-retry timer after a failed dial (Active) dials
   * now, its back-off forgotten: the peer is known to listen again.
   */
  retryNow(): void {
    if (this.#closed || this.direction !== "outbound" || this.#state.name !== "Active") return;
    this.#failedDials = 0;
    clearTimeout(this.#timers.get("ConnectRetry"));
    this.#timers.delete("ConnectRetry");
    this.#fire({ name: "ConnectRetryTimer_Expires" });
  }

  #do(a: FsmAction): void {
    switch (a.do) {
      case "connect":
        if (this.#dialTo) {
          this.events.onTransport?.(this, "dial");
          const { host, port, localAddress, protection } = this.#dialTo;
          const netnsPath = this.settings.netnsPath;
          // In another namespace the socket is always made natively (Node can only make them here).
          if (!protection.md5Key && !protection.ttlSecurity && !netnsPath) {
            this.#attach(connect({ host, port, localAddress }));
            break;
          }
          try {
            this.#attach(connectProtected({ host, port, localAddress, netnsPath }, protection));
          } catch (err) {
            // Never fall back to an unprotected connection: this attempt fails like a refused one.
            this.#reason = err instanceof Error ? err.message : String(err);
            setImmediate(() => this.#fire({ name: "TcpConnectionFails" }));
          }
        }
        break;
      case "listen":
        break; // the speaker's listener accepts and hands sockets over
      case "drop-connection":
        this.#hangUp();
        break;
      case "send-open":
        this.#send({
          type: "open",
          version: 4,
          asn: this.settings.localAs,
          holdTime: this.settings.holdTime,
          bgpId: this.settings.routerId,
          capabilities: ourCapabilities(this.settings),
        });
        break;
      case "send-keepalive":
        this.#send({ type: "keepalive" });
        break;
      case "send-notification": {
        this.#reason = `sent NOTIFICATION ${a.code}/${a.subcode}`;
        const out = outgoingNotification(
          { code: a.code, subcode: a.subcode, data: this.#errorData },
          { notificationNegotiated: this.notificationNegotiated, graceful: this.#stopGraceful },
        );
        // Hold timer expiry (code 4) is the peer gone silent; any other NOTIFICATION ends the
        // session for good unless both sides set the N bit (RFC 8538) and it is no Hard Reset.
        if (this.#end !== "administrative") this.#end = a.code === 4 ? "hold-timer" : out.end;
        if (out.subcode !== a.subcode || out.code !== a.code)
          this.#reason = `sent NOTIFICATION ${out.code}/${out.subcode} (Hard Reset of ${a.code}/${a.subcode})`;
        this.#send({ type: "notification", code: out.code, subcode: out.subcode, data: out.data });
        break;
      }
      case "start-timer": {
        // The hold timer restarts on every message: re-arm the same timer (no new one per UPDATE).
        const running = this.#timers.get(a.timer);
        if (running && this.#timerSeconds.get(a.timer) === a.seconds) {
          // Messages of one received chunk arrived at the same moment: one refresh after the chunk.
          if (this.#inChunk && a.timer === "Hold") this.#holdTouched = true;
          else running.refresh();
          break;
        }
        clearTimeout(running);
        const event = { name: `${a.timer}Timer_Expires` } as FsmEvent;
        this.#timers.set(
          a.timer,
          setTimeout(() => this.#fire(event), a.seconds * 1000),
        );
        this.#timerSeconds.set(a.timer, a.seconds);
        break;
      }
      case "stop-timer":
        clearTimeout(this.#timers.get(a.timer));
        this.#timers.delete(a.timer);
        break;
      case "session-up":
        this.events.onEstablished(this);
        break;
      case "session-down":
        break; // reported by #finish
      case "process-update":
        if (this.#pendingUpdate) this.events.onUpdate(this, this.#pendingUpdate);
        this.#pendingUpdate = undefined;
        break;
    }
  }

  #attach(socket: Socket): void {
    this.#socket = socket;
    socket.setNoDelay(true);
    const parser = new BgpFrameParser();
    socket.on("connect", () => {
      if (this.#socket === socket) this.#fire({ name: "Tcp_CR_Acked" });
    });
    socket.on("error", (err) => {
      this.#reason = err.message;
    });
    socket.on("close", () => {
      if (this.#socket === socket) {
        this.#socket = undefined;
        this.#fire({ name: "TcpConnectionFails" });
      }
    });
    socket.on("data", (chunk: Buffer) => {
      this.#inChunk = true;
      try {
        for (const frame of parser.push(chunk)) {
          if (this.#socket !== socket) return;
          this.#receive(decodeMessage(frame, this.#ctx));
        }
      } catch (err) {
        if (!(err instanceof BgpCodecError)) throw err;
        this.#errorData = err.data;
        this.#reason = `malformed message: ${err.message}`;
        const name =
          err.errorCode === 1 ? "BGPHeaderErr" : err.errorCode === 2 ? "BGPOpenMsgErr" : "UpdateMsgErr";
        this.#fire({ name, code: err.errorCode, subcode: err.subcode });
      } finally {
        this.#inChunk = false;
        if (this.#holdTouched) {
          this.#holdTouched = false;
          this.#timers.get("Hold")?.refresh();
        }
      }
    });
  }

  #receive(m: BgpMessage): void {
    switch (m.type) {
      case "open": {
        this.#negotiated = negotiate(ourCapabilities(this.settings), m.capabilities);
        const local = this.localAddress;
        this.#ctx = {
          fourOctetAs: this.#negotiated.fourOctetAs,
          ownAddresses: [...(local ? [local] : []), ...(this.settings.ownAddresses ?? [])],
          decodedAttributes: new Map(),
        };
        this.remoteOpen = m;
        const refuse = this.#state.name === "OpenSent" ? this.events.onOpen(this, m) : undefined;
        if (refuse) this.abort(refuse, "connection collision: the other connection stays");
        else this.#fire({ name: "BGPOpen", open: m });
        break;
      }
      case "keepalive":
        this.#fire({ name: "KeepAliveMsg" });
        break;
      case "update":
        this.#pendingUpdate = m;
        this.#fire({ name: "UpdateMsg" });
        break;
      case "notification":
        this.lastNotificationReceived = m;
        this.#end = receivedNotificationEnd(m);
        this.#reason = `peer sent NOTIFICATION ${m.code}/${m.subcode}`;
        if (this.#end === "hard-reset" && m.data.length >= 2)
          this.#reason += ` (Hard Reset of ${m.data[0]}/${m.data[1]})`;
        this.#fire({ name: "NotifMsg" });
        break;
      case "route-refresh":
        if (this.#state.name === "Established") this.events.onRouteRefresh(this);
        break;
    }
  }

  #send(m: BgpMessage): void {
    if (this.#socket && !this.#socket.destroyed) this.#socket.write(encodeMessage(m, this.#ctx));
  }

  /**
   * end() still flushes a NOTIFICATION written just before; destroy after a grace period anyway. A
   * connect still in flight has nothing to flush and goes at once: ended, it would wait for its
   * handshake (the kernel retransmitting the SYN meanwhile) and reach the peer only to close, an
   * accept and an OPEN there for nothing.
   */
  #hangUp(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return;
    if (socket.connecting) {
      socket.destroy();
      return;
    }
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  #finish(reason: string, established = this.#state.name === "Established"): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#hangUp();
    this.#state = { ...this.#state, name: "Idle" };
    this.events.onClosed(this, established, reason);
  }
}

import { connect, type Socket } from "node:net";
import { BgpCodecError } from "../codec/errors.js";
import { BgpFrameParser } from "../codec/framing.js";
import { decodeMessage, encodeMessage } from "../codec/messages.js";
import type { BgpMessage, CodecContext, UpdateMessage } from "../codec/types.js";
import {
  type FsmAction,
  type FsmEvent,
  type FsmState,
  initialState,
  step,
  type TimerName,
} from "../fsm/fsm.js";

export interface SessionOptions {
  readonly localAs: number;
  readonly routerId: string;
  readonly holdTime: number;
  readonly peerAddress: string;
  readonly peerAs: number;
  readonly port?: number;
  readonly localAddress?: string;
  readonly connectRetrySeconds?: number;
  readonly onState?: (state: string) => void;
  readonly onUpdate?: (update: UpdateMessage) => void;
}

/**
 * One BGP session over TCP (active side): the FSM decides, this class does the I/O the FSM's
 * actions ask for — connect, send, timers — and feeds received messages back as events.
 */
export class BgpSession {
  #state: FsmState = initialState;
  #socket: Socket | undefined;
  #ctx: CodecContext = { fourOctetAs: true };
  readonly #timers = new Map<TimerName, NodeJS.Timeout>();
  #pendingAnnounce: UpdateMessage[] = [];

  constructor(private readonly o: SessionOptions) {}

  get state(): string {
    return this.#state.name;
  }

  start(): void {
    this.#fire({ name: "ManualStart" });
  }

  stop(): void {
    this.#fire({ name: "ManualStop" });
  }

  /** Send an UPDATE now if Established, else as soon as the session is. */
  announce(update: UpdateMessage): void {
    if (this.#state.name === "Established") this.#send(update);
    else this.#pendingAnnounce.push(update);
  }

  #fire(e: FsmEvent): void {
    const before = this.#state.name;
    const [next, actions] = step(this.#state, e, {
      holdTime: this.o.holdTime,
      connectRetrySeconds: this.o.connectRetrySeconds ?? 5,
      passive: false,
      peerAs: this.o.peerAs,
    });
    this.#state = next;
    for (const a of actions) this.#do(a, e);
    if (next.name !== before) this.o.onState?.(next.name);
  }

  #do(a: FsmAction, cause: FsmEvent): void {
    switch (a.do) {
      case "connect":
        this.#connect();
        break;
      case "listen":
        break; // active-only speaker
      case "drop-connection":
        this.#socket?.destroy();
        this.#socket = undefined;
        break;
      case "send-open":
        this.#send({
          type: "open",
          version: 4,
          asn: this.o.localAs,
          holdTime: this.o.holdTime,
          bgpId: this.o.routerId,
          capabilities: [
            { kind: "multiprotocol", afi: 1, safi: 1 },
            { kind: "route-refresh" },
            { kind: "four-octet-as", asn: this.o.localAs },
          ],
        });
        break;
      case "send-keepalive":
        this.#send({ type: "keepalive" });
        break;
      case "send-notification":
        this.#send({ type: "notification", code: a.code, subcode: a.subcode, data: new Uint8Array() });
        break;
      case "start-timer": {
        clearTimeout(this.#timers.get(a.timer));
        const event = `${a.timer}Timer_Expires` as "HoldTimer_Expires";
        this.#timers.set(
          a.timer,
          setTimeout(() => this.#fire({ name: event }), a.seconds * 1000),
        );
        break;
      }
      case "stop-timer":
        clearTimeout(this.#timers.get(a.timer));
        this.#timers.delete(a.timer);
        break;
      case "session-up":
        for (const u of this.#pendingAnnounce.splice(0)) this.#send(u);
        break;
      case "session-down":
        break;
      case "process-update":
        if (cause.name === "UpdateMsg" && this.#lastUpdate) this.o.onUpdate?.(this.#lastUpdate);
        break;
    }
  }

  #lastUpdate: UpdateMessage | undefined;

  #connect(): void {
    const socket = connect({
      host: this.o.peerAddress,
      port: this.o.port ?? 179,
      localAddress: this.o.localAddress,
    });
    this.#socket = socket;
    const parser = new BgpFrameParser();
    socket.on("connect", () => this.#fire({ name: "Tcp_CR_Acked" }));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (this.#socket === socket) this.#fire({ name: "TcpConnectionFails" });
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of parser.push(chunk)) this.#receive(decodeMessage(frame, this.#ctx));
      } catch (err) {
        if (!(err instanceof BgpCodecError)) throw err;
        const name =
          err.errorCode === 1 ? "BGPHeaderErr" : err.errorCode === 2 ? "BGPOpenMsgErr" : "UpdateMsgErr";
        this.#fire({ name, code: err.errorCode, subcode: err.subcode });
      }
    });
  }

  #receive(m: BgpMessage): void {
    switch (m.type) {
      case "open":
        this.#ctx = { fourOctetAs: m.capabilities.some((c) => c.kind === "four-octet-as") };
        this.#fire({ name: "BGPOpen", open: m });
        break;
      case "keepalive":
        this.#fire({ name: "KeepAliveMsg" });
        break;
      case "update":
        this.#lastUpdate = m;
        this.#fire({ name: "UpdateMsg" });
        break;
      case "notification":
        this.#fire({ name: "NotifMsg" });
        break;
      case "route-refresh":
        break;
    }
  }

  #send(m: BgpMessage): void {
    this.#socket?.write(encodeMessage(m, this.#ctx));
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#socket?.destroy();
  }
}

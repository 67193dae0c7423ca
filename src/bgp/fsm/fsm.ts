/**
 * The BGP finite state machine of RFC 4271 §8 as a pure step function: (state, event) → (state,
 * actions). No sockets, no timers: the speaker performs the actions and feeds back events, with
 * an injected clock, so timer behaviour is tested without waiting.
 */
import { BgpError, CeaseSubcode, FsmSubcode, HoldTimerSubcode, OpenSubcode } from "../codec/errors.js";
import type { OpenMessage } from "../codec/types.js";

export type FsmStateName = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

export interface FsmConfig {
  /** Proposed hold time, seconds (RFC 4271 suggests 90). */
  readonly holdTime: number;
  readonly connectRetrySeconds: number;
  /**
   * The ConnectRetry timer while a TCP connect is in flight (Connect state), when it should differ
   * from connectRetrySeconds (which applies when absent): the wait for the handshake, not for a redial.
   */
  readonly connectWaitSeconds?: number;
  /** Passive sessions wait for the peer to connect (§8.1.1 PassiveTcpEstablishment). */
  readonly passive: boolean;
  readonly peerAs: number;
}

export interface FsmState {
  readonly name: FsmStateName;
  readonly connectRetryCounter: number;
  /** Negotiated hold time (0: no keepalives, no hold timer). */
  readonly holdTime: number;
  readonly keepaliveTime: number;
}

export type TimerName = "ConnectRetry" | "Hold" | "Keepalive";

/** RFC 4271 §8.1 event names (the subset a speaker raises). */
export type FsmEvent =
  | { readonly name: "ManualStart" }
  | { readonly name: "ManualStop" }
  | { readonly name: "ConnectRetryTimer_Expires" }
  | { readonly name: "HoldTimer_Expires" }
  | { readonly name: "KeepaliveTimer_Expires" }
  | { readonly name: "TcpConnection_Valid" }
  | { readonly name: "Tcp_CR_Acked" }
  | { readonly name: "TcpConnectionConfirmed" }
  | { readonly name: "TcpConnectionFails" }
  | { readonly name: "BGPOpen"; readonly open: OpenMessage }
  | {
      readonly name: "BGPHeaderErr" | "BGPOpenMsgErr" | "UpdateMsgErr";
      readonly code: number;
      readonly subcode: number;
    }
  | { readonly name: "NotifMsg" }
  | { readonly name: "KeepAliveMsg" }
  | { readonly name: "UpdateMsg" };

export type FsmAction =
  | { readonly do: "connect" }
  | { readonly do: "listen" }
  | { readonly do: "drop-connection" }
  | { readonly do: "send-open" }
  | { readonly do: "send-keepalive" }
  | { readonly do: "send-notification"; readonly code: number; readonly subcode: number }
  | { readonly do: "start-timer"; readonly timer: TimerName; readonly seconds: number }
  | { readonly do: "stop-timer"; readonly timer: TimerName }
  | { readonly do: "session-up" }
  | { readonly do: "session-down" }
  | { readonly do: "process-update" };

export const initialState: FsmState = { name: "Idle", connectRetryCounter: 0, holdTime: 0, keepaliveTime: 0 };

/** Before OPEN is exchanged the hold timer runs with a large value (§8.2.2: 4 minutes suggested). */
const largeHoldTime = 240;

const to = (s: FsmState, name: FsmStateName, patch: Partial<FsmState> = {}): FsmState => ({
  ...s,
  ...patch,
  name,
});

/** Tear the session down: the common "go to Idle" path of §8.2.2 for errors in most states. */
function toIdle(
  s: FsmState,
  actions: FsmAction[],
  notify?: { code: number; subcode: number },
): [FsmState, FsmAction[]] {
  const out: FsmAction[] = [...actions];
  if (notify) out.push({ do: "send-notification", ...notify });
  out.push(
    { do: "stop-timer", timer: "ConnectRetry" },
    { do: "stop-timer", timer: "Hold" },
    { do: "stop-timer", timer: "Keepalive" },
    { do: "drop-connection" },
  );
  if (s.name === "Established") out.push({ do: "session-down" });
  return [
    to(s, "Idle", { connectRetryCounter: s.connectRetryCounter + 1, holdTime: 0, keepaliveTime: 0 }),
    out,
  ];
}

/** The ConnectRetry time while a connect is in flight. */
const connectWait = (cfg: FsmConfig): number => cfg.connectWaitSeconds ?? cfg.connectRetrySeconds;

export function step(s: FsmState, e: FsmEvent, cfg: FsmConfig): [FsmState, FsmAction[]] {
  if (e.name === "ManualStop") {
    if (s.name === "Idle") return [s, []];
    const [idle, actions] = toIdle(
      s,
      [],
      s.name === "OpenSent" || s.name === "OpenConfirm" || s.name === "Established"
        ? { code: BgpError.Cease, subcode: CeaseSubcode.AdministrativeShutdown }
        : undefined,
    );
    return [{ ...idle, connectRetryCounter: 0 }, actions];
  }
  switch (s.name) {
    case "Idle":
      if (e.name === "ManualStart") {
        if (cfg.passive)
          return [
            to(s, "Active"),
            [
              { do: "start-timer", timer: "ConnectRetry", seconds: cfg.connectRetrySeconds },
              { do: "listen" },
            ],
          ];
        const timer: FsmAction = { do: "start-timer", timer: "ConnectRetry", seconds: connectWait(cfg) };
        return [to(s, "Connect"), [timer, { do: "connect" }, { do: "listen" }]];
      }
      return [s, []];

    case "Connect":
    case "Active":
      if (e.name === "ConnectRetryTimer_Expires") {
        return [
          to(s, "Connect"),
          [
            { do: "drop-connection" },
            { do: "start-timer", timer: "ConnectRetry", seconds: connectWait(cfg) },
            { do: "connect" },
          ],
        ];
      }
      if (e.name === "Tcp_CR_Acked" || e.name === "TcpConnectionConfirmed") {
        return [
          to(s, "OpenSent"),
          [
            { do: "stop-timer", timer: "ConnectRetry" },
            { do: "send-open" },
            { do: "start-timer", timer: "Hold", seconds: largeHoldTime },
          ],
        ];
      }
      if (e.name === "TcpConnectionFails") {
        return s.name === "Connect"
          ? [
              to(s, "Active"),
              [{ do: "start-timer", timer: "ConnectRetry", seconds: cfg.connectRetrySeconds }],
            ]
          : toIdle(s, []);
      }
      if (e.name === "TcpConnection_Valid" || e.name === "ManualStart") return [s, []];
      return toIdle(s, []);

    case "OpenSent":
      if (e.name === "BGPOpen") return onOpen(s, e.open, cfg);
      if (e.name === "TcpConnectionFails") {
        return [
          to(s, "Active"),
          [
            { do: "drop-connection" },
            { do: "start-timer", timer: "ConnectRetry", seconds: cfg.connectRetrySeconds },
          ],
        ];
      }
      if (e.name === "HoldTimer_Expires")
        return toIdle(s, [], { code: BgpError.HoldTimerExpired, subcode: HoldTimerSubcode.Unspecific });
      if (e.name === "BGPHeaderErr" || e.name === "BGPOpenMsgErr")
        return toIdle(s, [], { code: e.code, subcode: e.subcode });
      if (e.name === "NotifMsg") return toIdle(s, []);
      // Anything else here is an FSM error (§6.6), with RFC 6608's subcode for the state.
      return toIdle(s, [], { code: BgpError.Fsm, subcode: FsmSubcode.UnexpectedMessageInOpenSent });

    case "OpenConfirm":
      if (e.name === "KeepAliveMsg") {
        return [to(s, "Established"), [...restartHold(s), { do: "session-up" }]];
      }
      if (e.name === "KeepaliveTimer_Expires") return [s, keepalive(s)];
      if (e.name === "HoldTimer_Expires")
        return toIdle(s, [], { code: BgpError.HoldTimerExpired, subcode: HoldTimerSubcode.Unspecific });
      if (e.name === "BGPHeaderErr" || e.name === "BGPOpenMsgErr")
        return toIdle(s, [], { code: e.code, subcode: e.subcode });
      if (e.name === "NotifMsg" || e.name === "TcpConnectionFails") return toIdle(s, []);
      return toIdle(s, [], { code: BgpError.Fsm, subcode: FsmSubcode.UnexpectedMessageInOpenConfirm });

    case "Established":
      // The per-message path: shared, frozen action lists (no allocation per UPDATE).
      if (e.name === "KeepAliveMsg") return [s, holdRestarted(s.holdTime).onKeepalive];
      if (e.name === "UpdateMsg") return [s, holdRestarted(s.holdTime).onUpdate];
      if (e.name === "KeepaliveTimer_Expires") return [s, keepalive(s)];
      if (e.name === "HoldTimer_Expires")
        return toIdle(s, [], { code: BgpError.HoldTimerExpired, subcode: HoldTimerSubcode.Unspecific });
      if (e.name === "BGPHeaderErr" || e.name === "UpdateMsgErr")
        return toIdle(s, [], { code: e.code, subcode: e.subcode });
      if (e.name === "NotifMsg" || e.name === "TcpConnectionFails") return toIdle(s, []);
      return toIdle(s, [], { code: BgpError.Fsm, subcode: FsmSubcode.UnexpectedMessageInEstablished });
  }
}

/** §4.2 / §6.2: negotiate the hold time (the smaller one; 0 disables keepalives) and confirm. */
function onOpen(s: FsmState, open: OpenMessage, cfg: FsmConfig): [FsmState, FsmAction[]] {
  if (open.asn !== cfg.peerAs) return toIdle(s, [], { code: BgpError.Open, subcode: OpenSubcode.BadPeerAs });
  const hold = Math.min(cfg.holdTime, open.holdTime);
  const keepaliveTime = Math.floor(hold / 3);
  const next = to(s, "OpenConfirm", { holdTime: hold, keepaliveTime });
  const actions: FsmAction[] = [{ do: "stop-timer", timer: "ConnectRetry" }, { do: "send-keepalive" }];
  if (hold > 0) {
    actions.push({ do: "start-timer", timer: "Keepalive", seconds: keepaliveTime });
    actions.push({ do: "start-timer", timer: "Hold", seconds: hold });
  } else {
    actions.push({ do: "stop-timer", timer: "Hold" });
  }
  return [next, actions];
}

/** Established's answers to a KEEPALIVE and an UPDATE for one hold time, made once and shared. */
interface HoldRestarted {
  readonly onKeepalive: FsmAction[];
  readonly onUpdate: FsmAction[];
}
const holdRestartedByTime = new Map<number, HoldRestarted>();
function holdRestarted(holdTime: number): HoldRestarted {
  let r = holdRestartedByTime.get(holdTime);
  if (!r) {
    const hold = restartHold({ ...initialState, holdTime });
    r = {
      onKeepalive: Object.freeze(hold) as FsmAction[],
      onUpdate: Object.freeze([...hold, { do: "process-update" }]) as FsmAction[],
    };
    holdRestartedByTime.set(holdTime, r);
  }
  return r;
}

const restartHold = (s: FsmState): FsmAction[] =>
  s.holdTime > 0 ? [{ do: "start-timer", timer: "Hold", seconds: s.holdTime }] : [];

const keepalive = (s: FsmState): FsmAction[] =>
  s.holdTime > 0
    ? [{ do: "send-keepalive" }, { do: "start-timer", timer: "Keepalive", seconds: s.keepaliveTime }]
    : [];

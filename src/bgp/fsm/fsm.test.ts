import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OpenMessage } from "../codec/types.js";
import { type FsmAction, type FsmConfig, type FsmEvent, type FsmState, initialState, step } from "./fsm.js";

const cfg: FsmConfig = { holdTime: 90, connectRetrySeconds: 120, passive: false, peerAs: 65002 };
const open = (asn = 65002, holdTime = 30): OpenMessage => ({
  type: "open",
  version: 4,
  asn,
  holdTime,
  bgpId: "10.0.0.2",
  capabilities: [],
});

/** Run events through the FSM, collecting every action. */
function run(
  events: FsmEvent[],
  c = cfg,
  from: FsmState = initialState,
): { state: FsmState; actions: FsmAction[] } {
  let state = from;
  const actions: FsmAction[] = [];
  for (const e of events) {
    const [next, a] = step(state, e, c);
    state = next;
    actions.push(...a);
  }
  return { state, actions };
}

const established: FsmEvent[] = [
  { name: "ManualStart" },
  { name: "Tcp_CR_Acked" },
  { name: "BGPOpen", open: open() },
  { name: "KeepAliveMsg" },
];

describe("BGP FSM (RFC 4271 §8)", () => {
  test("active start: Idle → Connect → OpenSent → OpenConfirm → Established", () => {
    const states: string[] = [];
    let s = initialState;
    for (const e of established) {
      [s] = step(s, e, cfg);
      states.push(s.name);
    }
    assert.deepEqual(states, ["Connect", "OpenSent", "OpenConfirm", "Established"]);
  });

  test("the hold time is the smaller of both OPENs; keepalives every third of it", () => {
    const { state, actions } = run(established);
    assert.equal(state.holdTime, 30);
    assert.equal(state.keepaliveTime, 10);
    assert.ok(actions.some((a) => a.do === "start-timer" && a.timer === "Keepalive" && a.seconds === 10));
    assert.ok(actions.some((a) => a.do === "session-up"));
  });

  test("hold time 0 in the peer's OPEN disables keepalives and the hold timer", () => {
    const { state, actions } = run([
      { name: "ManualStart" },
      { name: "Tcp_CR_Acked" },
      { name: "BGPOpen", open: open(65002, 0) },
    ]);
    assert.equal(state.holdTime, 0);
    assert.equal(
      actions.some((a) => a.do === "start-timer" && a.timer === "Keepalive"),
      false,
    );
  });

  test("passive start waits in Active and only listens", () => {
    const { state, actions } = run([{ name: "ManualStart" }], { ...cfg, passive: true });
    assert.equal(state.name, "Active");
    assert.equal(
      actions.some((a) => a.do === "connect"),
      false,
    );
  });

  test("hold timer expiry in Established sends NOTIFICATION 4 and goes Idle", () => {
    const { state, actions } = run([...established, { name: "HoldTimer_Expires" }]);
    assert.equal(state.name, "Idle");
    assert.deepEqual(
      actions.find((a) => a.do === "send-notification"),
      { do: "send-notification", code: 4, subcode: 0 },
    );
    assert.ok(actions.some((a) => a.do === "session-down"));
  });

  test("an OPEN from the wrong AS is refused with 2/2 (bad peer AS)", () => {
    const { state, actions } = run([
      { name: "ManualStart" },
      { name: "Tcp_CR_Acked" },
      { name: "BGPOpen", open: open(65009) },
    ]);
    assert.equal(state.name, "Idle");
    assert.deepEqual(
      actions.find((a) => a.do === "send-notification"),
      { do: "send-notification", code: 2, subcode: 2 },
    );
  });

  test("an UPDATE in OpenSent is an FSM error 5/1; in Established it is processed and refreshes the hold timer", () => {
    const early = run([{ name: "ManualStart" }, { name: "Tcp_CR_Acked" }, { name: "UpdateMsg" }]);
    assert.deepEqual(
      early.actions.find((a) => a.do === "send-notification"),
      { do: "send-notification", code: 5, subcode: 1 },
    );
    const up = run(established);
    const [, actions] = step(up.state, { name: "UpdateMsg" }, cfg);
    assert.deepEqual(actions, [{ do: "start-timer", timer: "Hold", seconds: 30 }, { do: "process-update" }]);
  });

  test("a connect failure retries: Connect → Active, then ConnectRetry expiry → Connect again", () => {
    const { state, actions } = run([
      { name: "ManualStart" },
      { name: "TcpConnectionFails" },
      { name: "ConnectRetryTimer_Expires" },
    ]);
    assert.equal(state.name, "Connect");
    assert.equal(actions.filter((a) => a.do === "connect").length, 2);
  });

  test("a connect in flight waits connectWaitSeconds (Connect state); after a failure the redial waits connectRetrySeconds (Active)", () => {
    const c: FsmConfig = { ...cfg, connectRetrySeconds: 1, connectWaitSeconds: 3.5 };
    const retryTimers = (events: FsmEvent[]) =>
      run(events, c)
        .actions.filter((a) => a.do === "start-timer" && a.timer === "ConnectRetry")
        .map((a) => (a.do === "start-timer" ? a.seconds : 0));
    assert.deepEqual(retryTimers([{ name: "ManualStart" }]), [3.5]);
    assert.deepEqual(
      retryTimers([{ name: "ManualStart" }, { name: "ConnectRetryTimer_Expires" }]),
      [3.5, 3.5],
    );
    assert.deepEqual(retryTimers([{ name: "ManualStart" }, { name: "TcpConnectionFails" }]), [3.5, 1]);
    // A passive connection waits for the peer, not for a handshake of its own.
    const passive = run([{ name: "ManualStart" }], { ...c, passive: true }).actions;
    assert.ok(passive.some((a) => a.do === "start-timer" && a.timer === "ConnectRetry" && a.seconds === 1));
    // Without it, the connect-retry time as before.
    assert.ok(
      run([{ name: "ManualStart" }]).actions.some(
        (a) => a.do === "start-timer" && a.timer === "ConnectRetry" && a.seconds === 120,
      ),
    );
  });

  test("ManualStop from Established sends Cease (6/2) and resets the retry counter", () => {
    const { state, actions } = run([...established, { name: "ManualStop" }]);
    assert.equal(state.name, "Idle");
    assert.equal(state.connectRetryCounter, 0);
    assert.deepEqual(
      actions.find((a) => a.do === "send-notification"),
      { do: "send-notification", code: 6, subcode: 2 },
    );
  });

  test("malformed UPDATE in Established: NOTIFICATION with the codec's code, session down", () => {
    const { state, actions } = run([...established, { name: "UpdateMsgErr", code: 3, subcode: 1 }]);
    assert.equal(state.name, "Idle");
    assert.deepEqual(
      actions.find((a) => a.do === "send-notification"),
      { do: "send-notification", code: 3, subcode: 1 },
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Capability } from "../codec/types.js";
import {
  notificationNegotiated,
  onReestablished,
  onSessionEnd,
  ourRestartCapability,
  outgoingNotification,
  peerRestartTerms,
  receivedNotificationEnd,
  selectionMayRun,
} from "./graceful-restart.js";

const cap = (
  restartTime: number,
  families: [number, number, boolean][],
  restarting = false,
  notification = true,
): Capability => ({
  kind: "graceful-restart",
  restarting,
  notification,
  restartTime,
  families: families.map(([afi, safi, forwarding]) => ({ afi, safi, forwarding })),
});
const terms = (...a: Parameters<typeof cap>) => peerRestartTerms([cap(...a)]);

describe("graceful restart decisions (RFC 4724)", () => {
  test("our capability: F bits only when restarting with forwarding preserved", () => {
    const fams = [
      { afi: 1, safi: 1 },
      { afi: 2, safi: 1 },
    ];
    const helper = ourRestartCapability(
      { restartTime: 120, restarting: false, forwardingPreserved: true, notification: true },
      fams,
    );
    assert.deepEqual(
      helper,
      cap(120, [
        [1, 1, false],
        [2, 1, false],
      ]),
    );
    const back = ourRestartCapability(
      { restartTime: 90, restarting: true, forwardingPreserved: true, notification: true },
      fams,
    );
    assert.deepEqual(
      back,
      cap(
        90,
        [
          [1, 1, true],
          [2, 1, true],
        ],
        true,
      ),
    );
    const lost = ourRestartCapability(
      { restartTime: 90, restarting: true, forwardingPreserved: false, notification: true },
      fams,
    );
    assert.deepEqual(
      lost,
      cap(
        90,
        [
          [1, 1, false],
          [2, 1, false],
        ],
        true,
      ),
    );
  });

  test("a peer without the capability has no terms", () => {
    assert.equal(peerRestartTerms([{ kind: "route-refresh" }]), undefined);
  });

  test("session end: transport loss and hold timer keep the listed families for the restart time", () => {
    const t = terms(120, [[1, 1, false]]);
    for (const end of ["transport", "hold-timer"] as const)
      assert.deepEqual(onSessionEnd(t, end, ["1/1", "2/1"]), {
        keep: true,
        families: ["1/1"],
        restartSeconds: 120,
      });
  });

  test("session end: a NOTIFICATION, our own stop, no capability, restart time 0, no common family: routes go", () => {
    const t = terms(120, [[1, 1, false]]);
    assert.deepEqual(onSessionEnd(t, "notification", ["1/1"]), { keep: false });
    assert.deepEqual(onSessionEnd(t, "administrative", ["1/1"]), { keep: false });
    assert.deepEqual(onSessionEnd(undefined, "transport", ["1/1"]), { keep: false });
    assert.deepEqual(onSessionEnd(terms(0, [[1, 1, false]]), "transport", ["1/1"]), { keep: false });
    assert.deepEqual(onSessionEnd(t, "transport", ["2/1"]), { keep: false });
  });

  test("back again: F bit set keeps stale routes until End-of-RIB; clear, absent or no capability flushes", () => {
    assert.deepEqual(
      onReestablished(
        terms(120, [
          [1, 1, true],
          [2, 1, false],
        ]),
        ["1/1", "2/1"],
      ),
      {
        flush: ["2/1"],
        awaitEndOfRib: ["1/1"],
      },
    );
    assert.deepEqual(onReestablished(terms(120, []), ["1/1"]), { flush: ["1/1"], awaitEndOfRib: [] });
    assert.deepEqual(onReestablished(undefined, ["1/1"]), { flush: ["1/1"], awaitEndOfRib: [] });
  });

  test("selection deferral: every peer up, and End-of-RIB from each GR peer that is not restarting itself", () => {
    const gr = terms(120, [[1, 1, true]]);
    const up = (over: object = {}) => ({
      established: true,
      terms: gr,
      families: ["1/1"],
      endOfRib: new Set<string>(),
      ...over,
    });
    const may = (...a: Parameters<typeof selectionMayRun>) => selectionMayRun(...a).run;
    assert.equal(may([up()]), false, "End-of-RIB not yet in");
    assert.equal(may([up({ endOfRib: new Set(["1/1"]) })]), true);
    assert.equal(may([up({ terms: undefined })]), true, "no capability: not waited for");
    assert.equal(may([up({ terms: terms(120, [], true) })]), true, "restarting itself");
    assert.equal(
      may([up({ endOfRib: new Set(["1/1"]) }), up({ established: false })]),
      false,
      "a peer not up yet is waited for",
    );
  });

  test("selection deferral: a peer that never opened a connection stops being waited for after the grace time, once another is done", () => {
    const gr = terms(120, [[1, 1, true]]);
    const peer = (over: object = {}) => ({
      established: true,
      reached: true,
      terms: gr,
      families: ["1/1"],
      endOfRib: new Set(["1/1"]),
      ...over,
    });
    const dead = peer({ established: false, reached: false, endOfRib: new Set() });
    const slow = peer({ established: false, reached: true, endOfRib: new Set() });
    assert.deepEqual(selectionMayRun([peer(), dead]), { run: false, unreached: 0 }, "within the grace time");
    assert.deepEqual(selectionMayRun([peer(), dead], { excuseUnreached: true }), { run: true, unreached: 1 });
    assert.deepEqual(
      selectionMayRun([peer(), slow], { excuseUnreached: true }),
      { run: false, unreached: 0 },
      "a peer that opened a connection (alive, slow) is still waited for",
    );
    assert.deepEqual(
      selectionMayRun([dead, dead], { excuseUnreached: true }),
      { run: false, unreached: 0 },
      "nobody done: the deferral timer decides",
    );
    assert.deepEqual(
      selectionMayRun([peer({ endOfRib: new Set() }), dead], { excuseUnreached: true }),
      { run: false, unreached: 0 },
      "the peer up has not sent End-of-RIB yet",
    );
  });

  test("RFC 8538: with both N bits a NOTIFICATION keeps routes like a dropped connection; Hard Reset never does", () => {
    const ours = { restartTime: 120, restarting: false, forwardingPreserved: true, notification: true };
    const theirsWithN = cap(120, [[1, 1, false]]);
    const theirsWithoutN = cap(120, [[1, 1, false]], false, false);
    const withN = peerRestartTerms([theirsWithN]);
    const withoutN = peerRestartTerms([theirsWithoutN]);
    // The agreement comes from notificationNegotiated alone (the connection's answer), never recomputed.
    const agreed = (o: typeof ours, c: Capability) => notificationNegotiated(o, [c]);
    const kept = { keep: true, families: ["1/1"], restartSeconds: 120 };
    assert.deepEqual(onSessionEnd(withN, "notification", ["1/1"], agreed(ours, theirsWithN)), kept);
    assert.deepEqual(
      onSessionEnd(withN, "notification", ["1/1"], agreed({ ...ours, notification: false }, theirsWithN)),
      { keep: false },
      "we did not set N",
    );
    assert.deepEqual(
      onSessionEnd(withoutN, "notification", ["1/1"], agreed(ours, theirsWithoutN)),
      { keep: false },
      "it did not set N",
    );
    assert.deepEqual(onSessionEnd(withN, "notification", ["1/1"]), { keep: false }, "no agreement given");
    assert.deepEqual(onSessionEnd(withN, "hard-reset", ["1/1"], true), { keep: false });
    assert.deepEqual(onSessionEnd(withN, "administrative", ["1/1"], true), { keep: false });
    assert.deepEqual(onSessionEnd(withN, "transport", ["1/1"], true), kept);
  });

  test("RFC 8538: N negotiated only when both OPENs set it", () => {
    const ours = { restartTime: 120, restarting: false, forwardingPreserved: true, notification: true };
    assert.equal(notificationNegotiated(ours, [cap(120, [])]), true);
    assert.equal(notificationNegotiated(ours, [cap(120, [], false, false)]), false);
    assert.equal(notificationNegotiated({ ...ours, notification: false }, [cap(120, [])]), false);
    assert.equal(notificationNegotiated(undefined, [cap(120, [])]), false);
    assert.equal(notificationNegotiated(ours, []), false);
  });

  test("RFC 8538 §5: a final Cease goes as Hard Reset carrying the original; graceful stops and other NOTIFICATIONs go as they are", () => {
    const n = { notificationNegotiated: true };
    const adminShutdown = { code: 6, subcode: 2, data: Uint8Array.of(1, 2) };
    assert.deepEqual(outgoingNotification(adminShutdown, n), {
      code: 6,
      subcode: 9,
      data: Uint8Array.of(6, 2, 1, 2),
      end: "hard-reset",
    });
    assert.deepEqual(outgoingNotification({ code: 6, subcode: 1 }, n), {
      code: 6,
      subcode: 9,
      data: Uint8Array.of(6, 1),
      end: "hard-reset",
    });
    assert.deepEqual(outgoingNotification(adminShutdown, { ...n, graceful: true }), {
      ...adminShutdown,
      end: "notification",
    });
    // Connection collision resolution and an UPDATE error: graceful with N (routes kept).
    assert.equal(outgoingNotification({ code: 6, subcode: 7 }, n).end, "notification");
    assert.deepEqual(outgoingNotification({ code: 3, subcode: 1 }, n), {
      code: 3,
      subcode: 1,
      data: new Uint8Array(),
      end: "notification",
    });
    // Without N nothing is wrapped.
    assert.deepEqual(outgoingNotification(adminShutdown, { notificationNegotiated: false }), {
      ...adminShutdown,
      end: "notification",
    });
    assert.equal(receivedNotificationEnd({ code: 6, subcode: 9 }), "hard-reset");
    assert.equal(receivedNotificationEnd({ code: 6, subcode: 2 }), "notification");
  });
});

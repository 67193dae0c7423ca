import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Capability } from "../codec/types.js";
import {
  onReestablished,
  onSessionEnd,
  ourRestartCapability,
  peerRestartTerms,
  selectionMayRun,
} from "./graceful-restart.js";

const cap = (restartTime: number, families: [number, number, boolean][], restarting = false): Capability => ({
  kind: "graceful-restart",
  restarting,
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
      { restartTime: 120, restarting: false, forwardingPreserved: true },
      fams,
    );
    assert.deepEqual(
      helper,
      cap(120, [
        [1, 1, false],
        [2, 1, false],
      ]),
    );
    const back = ourRestartCapability({ restartTime: 90, restarting: true, forwardingPreserved: true }, fams);
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
      { restartTime: 90, restarting: true, forwardingPreserved: false },
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
    assert.equal(selectionMayRun([up()]), false, "End-of-RIB not yet in");
    assert.equal(selectionMayRun([up({ endOfRib: new Set(["1/1"]) })]), true);
    assert.equal(selectionMayRun([up({ terms: undefined })]), true, "no capability: not waited for");
    assert.equal(selectionMayRun([up({ terms: terms(120, [], true) })]), true, "restarting itself");
    assert.equal(
      selectionMayRun([up({ endOfRib: new Set(["1/1"]) }), up({ established: false })]),
      false,
      "a peer not up yet is waited for",
    );
  });
});

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { leaseFor, loneAgent } from "../../test/support/lone-agent.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { recordingBackend } from "../../test/support/recording-backend.js";
import { eventually } from "../common/eventually.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";

/**
 * A lease view is planned when its burst's delay ends (lease-burst.ts), not by whatever pass
 * happens to run first. While a cluster comes up, BGP UPDATEs run a route-changes pass every
 * quarter second; when one of those planned every lease as well, the spacing of lease passes
 * was undone (a 200-node lab: 37 lease passes per agent instead of one or two a second).
 */

describe("lease passes keep their spacing (in-process agent, real namespace)", () => {
  const nss = new TestNamespaces("lspace");
  const ac = new AbortController();
  after(() => {
    ac.abort();
    nss.cleanup();
  });

  test("route-change passes during a lease burst do not plan the new lease before the burst's delay", async () => {
    const store = new EmbeddedStore();
    const rec = recordingBackend();
    const quietMs = 1_500;
    const agent = loneAgent(nss, "192.168.81.11", store, rec.backend, ac.signal, {
      leaseBurst: { quietMs, maxDelayMs: quietMs, spacing: 0, stormMsPerPeer: 0, maxStormMs: quietMs },
      // A pass for every route-change signal, as under a steady trickle of UPDATEs.
      routeChangeWindowMs: 0,
    });
    try {
      await agent.start();
      const running = agent.run();
      await eventually(() => rec.told.length > 0, "the first pass told the backend of its peers");
      assert.deepEqual(rec.told.at(-1)?.peers, [], "no peers yet");
      const passesBefore = agent.status.reconciles;

      const written = Date.now();
      await leaseFor(store, "n2", "192.168.81.12");
      // The watch hands the view on within a few ms; then UPDATEs keep coming.
      await sleep(250);
      for (let i = 0; i < 6; i++) {
        rec.signal();
        await sleep(100);
      }
      assert.ok(agent.status.reconciles > passesBefore, "the route-change signals ran passes");
      const early = rec.told.filter((t) => t.peers.includes("n2"));
      assert.deepEqual(
        early.map((t) => t.at - written),
        [],
        "no pass planned n2's lease before the burst's delay",
      );

      await eventually(
        () => rec.told.some((t) => t.peers.includes("n2")),
        "n2 planned once the delay ended",
        {
          timeoutMs: 5_000,
        },
      );
      const planned = rec.told.find((t) => t.peers.includes("n2"));
      assert.ok(
        planned && planned.at - written >= quietMs - 100,
        `planned ${planned && planned.at - written} ms after the write`,
      );
      ac.abort();
      await running;
      await agent.stop({ releaseLease: true });
    } finally {
      await store.close();
    }
  });
});

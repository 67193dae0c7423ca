import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { leaseFor, loneAgent } from "../../test/support/lone-agent.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { recordingBackend } from "../../test/support/recording-backend.js";
import { NodeHeartbeat } from "../cluster/heartbeats.js";
import { eventually } from "../common/eventually.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";

/**
 * A peer that joins is not called "not alive" because the heartbeats were read before it came:
 * in a cluster coming up every new node was reported so, then "alive again" seconds later. A peer
 * whose heartbeat goes is still reported at the next read.
 */
describe("peer liveness (in-process agent, real namespace)", () => {
  const nss = new TestNamespaces("alive");
  const ac = new AbortController();
  after(() => {
    ac.abort();
    nss.cleanup();
  });

  test("a peer that joins after the heartbeat read is not reported not alive; one whose heartbeat goes is", async () => {
    const store = new EmbeddedStore();
    const rec = recordingBackend();
    const lines: { msg: string; peer?: string; peers?: string[] }[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const agent = loneAgent(nss, "192.168.82.11", store, rec.backend, ac.signal, {
      // Heartbeats read every 2 s.
      heartbeatTtlSeconds: 6,
      leaseBurst: { quietMs: 50, maxDelayMs: 100, spacing: 0, stormMsPerPeer: 0, maxStormMs: 100 },
      logger,
    });
    const names = (l: { peer?: string; peers?: string[] }) => [
      ...(l.peer ? [l.peer] : []),
      ...(l.peers ?? []),
    ];
    const saidOf = (node: string, msg: RegExp) =>
      lines.filter((l) => msg.test(l.msg) && names(l).includes(node));
    try {
      await agent.start();
      const running = agent.run();
      await eventually(() => rec.told.length > 0, "the first pass");

      // n2 joins as a node does: its agent leases, then beats.
      const heartbeat = new NodeHeartbeat(store, "n2", 6);
      await heartbeat.beat();
      await leaseFor(store, "n2", "192.168.82.12");
      await eventually(() => rec.told.some((t) => t.peers.includes("n2")), "n2 planned");
      // Two heartbeat reads later: n2 was alive at both.
      await new Promise((r) => setTimeout(r, 4_500));
      assert.deepEqual(saidOf("n2", /not alive/), [], "n2 was never said to be not alive");
      assert.deepEqual(saidOf("n2", /alive again/), [], "nor alive again");
      assert.deepEqual(agent.status.peersNotAlive, []);

      // n3 leases before its agent beats: planned while not seen alive (the backend holds its
      // first dial), then seen. The backend is told, whether or not a read came in between.
      await leaseFor(store, "n3", "192.168.82.13");
      await eventually(() => rec.told.some((t) => t.peers.includes("n3")), "n3 planned");
      const heartbeat3 = new NodeHeartbeat(store, "n3", 6);
      await heartbeat3.beat();
      await eventually(() => rec.cameAlive.includes("n3"), "the backend told n3 came alive", {
        timeoutMs: 6_000,
      });

      // n2's agent goes: its heartbeat with it. The next read says so.
      await heartbeat.stop();
      await eventually(() => agent.status.peersNotAlive.includes("n2"), "n2 not alive", { timeoutMs: 6_000 });
      assert.equal(saidOf("n2", /not alive/).length, 1, "said once");
      ac.abort();
      await running;
      await agent.stop({ releaseLease: true });
    } finally {
      await store.close();
    }
  });
});

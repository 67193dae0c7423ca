import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loopbackSpeakers } from "../../../test/support/loopback-speakers.js";
import { eventually } from "../../common/eventually.js";
import { BgpSpeaker } from "./speaker.js";

/** A TCP server that takes each connection and closes it before any OPEN: a dial that fails. */
async function closingServer(): Promise<{ port: number; times: number[]; close: () => void }> {
  const times: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    times.push(performance.now());
    sockets.add(s);
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  const port = typeof a === "object" && a ? a.port : 0;
  return { port, times, close: () => server.close() };
}

test("dials that keep failing back off, and dialNow dials at once", async () => {
  const peerEnd = await closingServer();
  const speaker = new BgpSpeaker({
    asn: 64512,
    routerId: "10.0.0.1",
    connectRetrySeconds: 0.05,
    connectRetryMaxSeconds: 0.8,
    localAddress: "127.0.0.1",
  });
  try {
    await speaker.start([{ address: "127.0.0.1", asn: 64512, port: peerEnd.port }]);
    await sleep(1600);
    // Without back-off: a dial every 0.04–0.05 s, over 30 in 1.6 s. With it: 0.05, 0.1, 0.2, 0.4,
    // 0.8 … (×0.75–1.0), at most 7.
    const failed = peerEnd.times.length;
    assert.ok(failed >= 3 && failed <= 7, `${failed} dials in 1.6 s`);
    // The wait is at its cap (0.6–0.8 s) now: dialNow does not wait for it.
    const asked = performance.now();
    speaker.dialNow("127.0.0.1");
    await sleep(150);
    const next = peerEnd.times.find((t) => t >= asked);
    assert.ok(next !== undefined && next - asked < 150, "dialNow dialled within 150 ms");
    // Unknown peers are ignored.
    speaker.dialNow("127.0.0.9");
  } finally {
    await speaker.stop();
    peerEnd.close();
  }
});

test("a peer that dialled before it was configured is dialled at once when added, though held", async () => {
  const { make, peerOf, stopAll } = loopbackSpeakers("10.0.17");
  try {
    // b knows a; a does not know b yet, and refuses its dial. b redials only after 30 s.
    const a = await make(171, { heldDialSeconds: 30 });
    const b = await make(172, { connectRetrySeconds: 30, connectRetryMaxSeconds: 30 });
    b.speaker.setPeers([peerOf(a)]);
    await eventually(
      () => a.events.some((e) => e.event === "refused" && e.peer === b.address),
      "a refused b's dial",
    );
    // a is told of b, as not known to listen yet: without the memory its dial would wait 30 s.
    const asked = performance.now();
    a.speaker.setPeers([peerOf(b)], { held: new Set([b.address]) });
    await eventually(() => a.speaker.sessionState(b.address) === "Established", "a's session to b", {
      timeoutMs: 5_000,
    });
    assert.ok(performance.now() - asked < 5_000);
    assert.equal(a.speaker.connectionCounts.held, 0, "not held");
  } finally {
    await stopAll();
  }
});

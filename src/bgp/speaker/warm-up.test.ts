import assert from "node:assert/strict";
import { test } from "node:test";
import { eventually } from "../../common/eventually.js";
import { warmUp } from "./warm-up.js";

test("the warm-up reflects every client's routes to the others over loopback, then leaves nothing running", async () => {
  const r = await warmUp({ peers: 3, prefixes: 20, rounds: 2 });
  assert.equal(r.skipped, undefined);
  // Each of 3 clients holds the 2 × 20 routes of the others, in each of 2 rounds.
  assert.equal(r.routesReflected, 2 * 3 * 2 * 20);
  // The reflector's side of each session closes once it sees the client gone (a moment later).
  const open = () =>
    process.getActiveResourcesInfo().filter((x) => x === "TCPServerWrap" || x === "TCPSocketWrap").length;
  await eventually(() => open() === 0, "no listener or socket of the throwaway reflector left", {
    timeoutMs: 3000,
  });
});

test("the warm-up gives up within its timeout (and says why) instead of holding the start", async () => {
  const r = await warmUp({ peers: 2, prefixes: 5000, rounds: 1, timeoutMs: 1 });
  assert.match(r.skipped ?? "", /no convergence within 1 ms/);
  assert.ok(r.ms < 5000);
});

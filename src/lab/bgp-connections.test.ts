import assert from "node:assert/strict";
import { test } from "node:test";
import { noConnections } from "../bgp/speaker/connection-counts.js";
import { formatBgpConnections, sumBgpConnections } from "./bgp-connections.js";

const health = (dials: number, accepted: number, crossed = 0) => ({
  ok: true,
  backend: {
    bgpConnections: {
      ...noConnections(),
      dials,
      accepted,
      collisions: { established: 0, sameDirection: 1, crossed },
    },
  },
});

test("the agents' connection counts are summed; agents without any (not answering, another model) are left out", () => {
  const total = sumBgpConnections([health(3, 1), undefined, { ok: true, backend: {} }, health(2, 4, 2)]);
  assert.equal(total?.dials, 5);
  assert.equal(total?.accepted, 5);
  assert.deepEqual(total?.collisions, { established: 0, sameDirection: 2, crossed: 2 });
  assert.equal(sumBgpConnections([undefined, { ok: false }]), undefined);
});

test("the line says what the sessions cost", () => {
  const total = sumBgpConnections([health(3, 1, 1)]) ?? noConnections();
  assert.equal(
    formatBgpConnections(total, 1),
    "BGP connections (the agents' counts): 3 dialled (0 given up by connect-retry, 0 failed), 1 accepted, 2 closed by collision resolution, 0 redials — for 1 sessions",
  );
});

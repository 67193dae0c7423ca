import assert from "node:assert/strict";
import { test } from "node:test";
import { preservedRoutes } from "./preserved-routes.js";

test("preserved BGP routes: Strata's, via a gateway on the underlay, never our own subnet or anyone else's", () => {
  const got = preservedRoutes(
    [
      { dst: "10.244.2.0/24", via: "192.168.10.2", dev: "eth0", proto: "147" },
      { dst: "10.244.3.0/24", via: "192.168.10.1", dev: "eth0", proto: "147" },
      { dst: "10.244.1.0/24", via: "192.168.10.9", dev: "eth0", proto: "147" }, // our own subnet
      { dst: "10.244.4.0/24", via: "192.168.10.4", dev: "eth0", proto: "bird" }, // someone else's
      { dst: "10.244.1.5", dev: "veth1", proto: "147" }, // a pod's host route
      { dst: "10.244.5.0/24", via: "10.9.0.1", dev: "strata.ipip", proto: "147" }, // not the underlay
      { dst: "default", via: "192.168.10.1", dev: "eth0", proto: "147" },
    ],
    "eth0",
    "10.244.1.0/24",
  );
  assert.deepEqual(
    [...got],
    [
      ["10.244.2.0/24", "192.168.10.2"],
      ["10.244.3.0/24", "192.168.10.1"],
    ],
  );
});

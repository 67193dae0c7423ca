import assert from "node:assert/strict";
import { test } from "node:test";
import { backendRegistry } from "../backends/registry.js";
import { parseAgentArgs, placementProblem } from "./agent-launch.js";
import { UsageError } from "./options.js";

test("parseAgentArgs: the command's flags and defaults, env defaults, no exit on a bad flag", () => {
  const o = parseAgentArgs(["--node", "n1", "--backend", "bgp", "--bgp-asn", "64600", "--no-masquerade"]);
  assert.equal(o.node, "n1");
  assert.equal(o.backend, "bgp");
  assert.equal(o.bgpAsn, "64600");
  assert.equal(o.masquerade, false);
  assert.equal(o.healthPort, "9947");
  assert.equal(o.underlayDev, "eth0");
  assert.equal(parseAgentArgs([]).backend, "vxlan");
  const saved = process.env.STRATA_SPAWN_HELPERS;
  process.env.STRATA_SPAWN_HELPERS = "3";
  try {
    assert.equal(parseAgentArgs([]).spawnHelpers, "3");
    assert.equal(parseAgentArgs(["--spawn-helpers", "5"]).spawnHelpers, "5");
  } finally {
    if (saved === undefined) delete process.env.STRATA_SPAWN_HELPERS;
    else process.env.STRATA_SPAWN_HELPERS = saved;
  }
  for (const bad of [["--no-such-flag"], ["--node"], ["extra"], ["--help"]])
    assert.throws(
      () => parseAgentArgs(bad),
      (err: unknown) => err instanceof UsageError && !err.message.includes("\n"),
      bad.join(" "),
    );
});

test("placementProblem: only hostable backends and the embedded datastore run for another namespace", () => {
  const hostable = backendRegistry.filter((d) => !placementProblem({ backend: d.name }, { netns: "n1" }));
  assert.deepEqual(
    hostable.map((d) => d.name),
    ["host-gw", "vxlan", "vxlan-crosssubnet", "bgp"],
  );
  const sleeve = placementProblem({ backend: "sleeve" }, { netns: "n1" });
  assert.match(
    sleeve?.message ?? "",
    /^--backend: the sleeve backend cannot run for another network namespace \(n1\); run its agent as its own process/,
  );
  // Its own namespace: everything as before.
  assert.equal(placementProblem({ backend: "sleeve" }, {}), undefined);
  assert.match(
    placementProblem({ backend: "vxlan", datastore: "etcd:https://10.0.0.1:2379" }, { netns: "n1" })
      ?.message ?? "",
    /^--datastore: etcd/,
  );
  assert.match(
    placementProblem({ backend: "vxlan" }, { netns: "../etc" })?.message ?? "",
    /is not a namespace name/,
  );
});

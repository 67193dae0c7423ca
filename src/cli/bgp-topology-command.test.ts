import assert from "node:assert/strict";
import { test } from "node:test";
import { BgpConfigStore } from "../cluster/bgp-config.js";
import { subnetKey } from "../cluster/lease-validation.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { routeReflectorsCommand } from "./bgp-topology-command.js";
import { CommandError } from "./options.js";

const lease = (node: string, subnet: string) =>
  JSON.stringify({
    node,
    subnet,
    publicIp: "192.168.10.11",
    publicPrefix: 24,
    backend: "bgp",
    backendData: {},
  });

test("strata bgp route-reflectors: shows, sets, refuses a node no lease names (unless --force), --mesh, --clear", async () => {
  const store = new EmbeddedStore();
  await store.put(subnetKey("10.244.1.0/24"), lease("n1", "10.244.1.0/24"));
  await store.put(subnetKey("10.244.2.0/24"), lease("n2", "10.244.2.0/24"));
  assert.match(await routeReflectorsCommand(store, {}), /not set in the datastore/);
  assert.match(await routeReflectorsCommand(store, { nodes: ["n1"] }), /route reflectors set: n1/);
  assert.match(await routeReflectorsCommand(store, {}), /route reflectors: n1$/);
  await assert.rejects(routeReflectorsCommand(store, { nodes: ["n1", "n9"] }), (e: unknown) => {
    assert.ok(e instanceof CommandError);
    assert.match(e.message, /no node named n9 holds a subnet lease/);
    return true;
  });
  const cfg = await new BgpConfigStore(store).read();
  assert.deepEqual(
    cfg,
    { kind: "set", config: { routeReflectors: ["n1"] } },
    "a refused change writes nothing",
  );
  assert.match(await routeReflectorsCommand(store, { nodes: ["n1", "n9"], force: true }), /n1, n9/);
  assert.match(await routeReflectorsCommand(store, { nodes: [] }), /full mesh, set/);
  assert.match(await routeReflectorsCommand(store, {}), /full mesh \(set in the datastore\)/);
  assert.match(await routeReflectorsCommand(store, { clear: true }), /removed/);
  assert.match(await routeReflectorsCommand(store, { clear: true }), /no BGP topology was set/);
});

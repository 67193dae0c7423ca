import assert from "node:assert/strict";
import { test } from "node:test";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { BgpConfigError, BgpConfigStore, bgpConfigKey, parseBgpConfig } from "./bgp-config.js";

test("parseBgpConfig: a list of node names; the datastore's text is checked like any input", () => {
  assert.deepEqual(parseBgpConfig('{"routeReflectors":["n1","n2"]}'), { routeReflectors: ["n1", "n2"] });
  assert.deepEqual(parseBgpConfig('{"routeReflectors":[]}'), { routeReflectors: [] });
  const refused = (text: string, why: RegExp) => {
    const r = parseBgpConfig(text);
    assert.ok(r instanceof BgpConfigError, text);
    assert.match(r.message, why);
  };
  refused("{", /not JSON/);
  refused('{"routeReflectors":["N1"]}', /routeReflectors\.0 must be a DNS subdomain/);
  refused('{"routeReflectors":["n1","n1"]}', /names a node twice/);
  refused('{"routeReflectors":"n1"}', /routeReflectors/);
  refused('{"routeReflectors":[],"mesh":false}', /mesh|unrecognized/i);
  refused(JSON.stringify({ routeReflectors: Array.from({ length: 33 }, (_, i) => `n${i}`) }), /at most 32/);
});

test("BgpConfigStore: watch yields the view now and each change (set, refused, removed); write refuses what agents would refuse", async () => {
  const store = new EmbeddedStore();
  const config = new BgpConfigStore(store);
  const ac = new AbortController();
  const seen: string[] = [];
  const it = config.watch(ac.signal)[Symbol.asyncIterator]();
  const next = async () => {
    const v = (await it.next()).value;
    seen.push(v.kind === "set" ? `set ${v.config.routeReflectors.join(",")}` : v.kind);
  };
  await next();
  await config.write({ routeReflectors: ["n1", "n2"] });
  await next();
  await store.put(bgpConfigKey, '{"routeReflectors":["Bad Name"]}');
  await next();
  // A key that merely starts with the same text is not the config.
  await store.put(`${bgpConfigKey}-other`, "{}");
  await config.write({ routeReflectors: [] });
  await next();
  assert.equal(await config.clear(), true);
  await next();
  ac.abort();
  assert.deepEqual(seen, ["unset", "set n1,n2", "invalid", "set ", "unset"]);
  await assert.rejects(config.write({ routeReflectors: ["n1", "UPPER"] }), BgpConfigError);
  assert.equal((await config.read()).kind, "unset");
});

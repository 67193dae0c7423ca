import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { NetAttachError } from "./errors.js";
import { nadConfList, parseNad } from "./nad.js";
import { NadStore, nadKey } from "./nad-store.js";
import { PodAnnotationStore, parsePodRef } from "./pod-annotations.js";

const macvlanConfig = {
  cniVersion: "1.0.0",
  type: "macvlan",
  master: "eth0",
  ipam: { type: "host-local", subnet: "10.50.0.0/24" },
};
const nad = (
  config: unknown = macvlanConfig,
  metadata: Record<string, unknown> = { name: "macvlan-conf" },
) => ({
  apiVersion: "k8s.cni.cncf.io/v1",
  kind: "NetworkAttachmentDefinition",
  metadata,
  spec: { config: typeof config === "string" ? config : JSON.stringify(config) },
});

describe("NetworkAttachmentDefinition", () => {
  test("a single plugin config becomes a list of one named after the definition, in namespace default", () => {
    const d = parseNad(nad());
    assert.equal(d.metadata.namespace, "default");
    const list = nadConfList(d);
    assert.equal(list.name, "macvlan-conf");
    assert.equal(list.cniVersion, "1.0.0");
    assert.deepEqual(list.plugins, [{ type: "macvlan", master: "eth0", ipam: macvlanConfig.ipam }]);
  });
  test("a conflist keeps its name and plugins", () => {
    const list = nadConfList(
      parseNad(
        nad({ cniVersion: "1.1.0", name: "net-b", plugins: [{ type: "bridge" }, { type: "tuning" }] }),
      ),
    );
    assert.equal(list.name, "net-b");
    assert.deepEqual(
      list.plugins.map((p) => p.type),
      ["bridge", "tuning"],
    );
  });
  const bad: [string, unknown, RegExp][] = [
    ["the wrong apiVersion", { ...nad(), apiVersion: "v1" }, /apiVersion must be "k8s.cni.cncf.io\/v1"/],
    ["the wrong kind", { ...nad(), kind: "Pod" }, /kind must be "NetworkAttachmentDefinition"/],
    ["no spec", { ...nad(), spec: undefined }, /spec is required/],
    ["spec.config not JSON", nad("{not json"), /spec.config is not JSON/],
    ["no cniVersion", nad({ type: "macvlan" }), /spec.config.cniVersion must be one of/],
    ["no type and no plugins", nad({ cniVersion: "1.0.0" }), /names no plugin: give it a "type"/],
    [
      "both type and plugins",
      nad({ cniVersion: "1.0.0", type: "x", plugins: [{ type: "y" }] }),
      /both "type" and "plugins"/,
    ],
    ["a plugin without type", nad({ cniVersion: "1.0.0", plugins: [{}] }), /spec.config.plugins.0.type/],
    ["a name with upper case", nad(macvlanConfig, { name: "MacVlan" }), /"MacVlan" is not an object name/],
    [
      "a namespace with a dot",
      nad(macvlanConfig, { name: "a", namespace: "x.y" }),
      /"x.y" is not a namespace name/,
    ],
  ];
  for (const [what, value, message] of bad)
    test(`refused: ${what}`, () =>
      assert.throws(
        () => parseNad(value),
        (e: unknown) => e instanceof NetAttachError && message.test(e.message),
      ));
});

describe("NadStore", () => {
  test("apply, get, list, delete — as kubectl would", async () => {
    const store = new EmbeddedStore();
    const nads = new NadStore(store);
    assert.equal(await nads.apply(parseNad(nad())), "created");
    assert.equal(await nads.apply(parseNad(nad())), "unchanged");
    assert.equal(await nads.apply(parseNad(nad({ ...macvlanConfig, mode: "bridge" }))), "configured");
    await nads.apply(parseNad(nad(macvlanConfig, { name: "other", namespace: "infra" })));
    assert.equal((await nads.get("default", "macvlan-conf"))?.metadata.name, "macvlan-conf");
    assert.deepEqual(
      (await nads.list()).items.map((d) => `${d.metadata.namespace}/${d.metadata.name}`),
      ["default/macvlan-conf", "infra/other"],
    );
    assert.equal((await nads.list("infra")).items.length, 1);
    assert.equal(await nads.delete("default", "macvlan-conf"), true);
    assert.equal(await nads.get("default", "macvlan-conf"), undefined);
    await assert.rejects(
      nads.require("default", "macvlan-conf"),
      /does not exist: create it with `strata net-attach-def apply/,
    );
    await store.close();
  });
  test("hostile records are refused on read: get throws, list reports them apart", async () => {
    const store = new EmbeddedStore();
    const nads = new NadStore(store);
    await store.put(nadKey("default", "garbage"), "{");
    await store.put(
      nadKey("default", "moved"),
      JSON.stringify(parseNad(nad(macvlanConfig, { name: "elsewhere" }))),
    );
    await store.put(
      nadKey("default", "bad-config"),
      JSON.stringify(nad('{"cniVersion":"9.9.9","type":"x"}', { name: "bad-config" })),
    );
    await assert.rejects(nads.get("default", "garbage"), /is not JSON: re-apply/);
    await assert.rejects(nads.get("default", "moved"), /holds default\/elsewhere/);
    await assert.rejects(nads.get("default", "bad-config"), /cniVersion must be one of/);
    const { items, invalid } = await nads.list();
    assert.equal(items.length, 0);
    assert.equal(invalid.length, 3);
    await store.close();
  });
});

describe("PodAnnotationStore", () => {
  test("each annotation is its own key; hostile keys are skipped on read", async () => {
    const store = new EmbeddedStore();
    const pods = new PodAnnotationStore(store);
    const pod = parsePodRef("team-a/web-1");
    await pods.set(pod, "k8s.v1.cni.cncf.io/networks", "a,b");
    await pods.set(pod, "k8s.v1.cni.cncf.io/network-status", "[]");
    await store.put("/strata/pods/team-a/web-1/annotations/%ZZ", "x");
    assert.deepEqual(await pods.all(pod), {
      "k8s.v1.cni.cncf.io/networks": "a,b",
      "k8s.v1.cni.cncf.io/network-status": "[]",
    });
    assert.throws(() => parsePodRef("a/b/c"), /write NAMESPACE\/NAME/);
    await assert.rejects(pods.set(pod, "bad key!", "x"), /is not an annotation key/);
    assert.deepEqual(parsePodRef("web-2"), { namespace: "default", name: "web-2" });
    await store.close();
  });
});

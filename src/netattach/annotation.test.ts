import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type NetworkSelection, parseNetworksAnnotation, planInterfaces } from "./annotation.js";
import { NetAttachError } from "./errors.js";

const parse = (text: string, ns = "team-a") => parseNetworksAnnotation(text, ns);

describe("k8s.v1.cni.cncf.io/networks: valid forms", () => {
  test("an empty value asks for no network", () => {
    assert.deepEqual(parse(""), []);
    assert.deepEqual(parse("   "), []);
  });
  test("a name is a definition in the pod's namespace", () => {
    assert.deepEqual(parse("macvlan-conf"), [{ name: "macvlan-conf", namespace: "team-a" }]);
  });
  test("a comma list keeps its order; spaces around items are allowed", () => {
    assert.deepEqual(
      parse("a, b ,c").map((s) => s.name),
      ["a", "b", "c"],
    );
  });
  test("namespace/name picks another namespace", () => {
    assert.deepEqual(parse("infra/sriov-net"), [{ name: "sriov-net", namespace: "infra" }]);
  });
  test("name@ifname and namespace/name@ifname name the interface", () => {
    assert.deepEqual(parse("a@data0,infra/b@data1"), [
      { name: "a", namespace: "team-a", interface: "data0" },
      { name: "b", namespace: "infra", interface: "data1" },
    ]);
  });
  test("the same definition may be attached twice (two interfaces)", () => {
    assert.equal(planInterfaces(parse("a,a")).length, 2);
  });
  test("the JSON form carries interface, ips, mac, default-route and cni-args", () => {
    const got = parse(
      JSON.stringify([
        {
          name: "macvlan-conf",
          namespace: "infra",
          interface: "data0",
          ips: ["10.1.1.5/24", "fd00::5"],
          mac: "02:AA:00:00:00:01",
          "default-route": ["10.1.1.1"],
          "cni-args": { vlan: 10 },
        },
        { name: "b" },
      ]),
    );
    assert.deepEqual(got, [
      {
        name: "macvlan-conf",
        namespace: "infra",
        interface: "data0",
        ips: ["10.1.1.5/24", "fd00::5"],
        mac: "02:aa:00:00:00:01",
        defaultRoute: ["10.1.1.1"],
        cniArgs: { vlan: 10 },
      },
      { name: "b", namespace: "team-a" },
    ] satisfies NetworkSelection[]);
  });
  test("interfaces are net1, net2... by position unless named", () => {
    const planned = planInterfaces(parse("a,b@data0,c"));
    assert.deepEqual(
      planned.map((p) => p.ifName),
      ["net1", "data0", "net3"],
    );
  });
  test("an IPv4 and an IPv6 default-route gateway may go together", () => {
    const [s] = parse('[{"name":"a","default-route":["10.1.1.1","fd00::1"]}]');
    assert.deepEqual(s?.defaultRoute, ["10.1.1.1", "fd00::1"]);
  });
});

/** Each invalid form: the annotation, and what the error must say (the fix or the culprit). */
const invalid: [string, string, RegExp][] = [
  ["an empty item", "a,,b", /item 2 is empty; remove the extra comma/],
  ["a leading comma", ",a", /item 1 is empty/],
  ["two slashes", "ns/a/b", /item 1 \("ns\/a\/b"\) has more than one '\/'/],
  ["two @", "a@net1@net2", /more than one '@'/],
  ["an empty namespace", "/a", /empty namespace before '\/'/],
  ["an empty name", "infra/", /names no network/],
  ["an empty interface", "a@", /empty interface name after '@'/],
  ["upper case and '_' in a name", "Mac_Vlan", /the network name "Mac_Vlan" is not an object name/],
  ["a namespace that is not a label", "Team.A/x", /the namespace "Team.A" is not a namespace name/],
  ["eth0 asked for", "a@eth0", /"eth0" is the cluster network's interface/],
  ["an interface name of 16 characters", "a@abcdefghijklmnop", /longer than 15 characters/],
  ["an interface name with ':'", "a@net:1", /contains '\/', ':' or whitespace/],
  ["a JSON object, not a list", '{"name":"a"}', /must be a list: \[\{"name": "..."\}\], not a single object/],
  ["broken JSON", '[{"name":"a"}', /is not valid JSON/],
  ["a JSON item that is not an object", '["a"]', /item 1 is not an object/],
  ["a JSON item without name", '[{"interface":"net1"}]', /item 1 "name" is required/],
  ["a JSON name that is a number", '[{"name":5}]', /"name" is required \(a string\)/],
  [
    "a misspelt key",
    '[{"name":"a","interfce":"net1"}]',
    /unknown key "interfce"; the keys are name, namespace, interface/,
  ],
  ["ips not a list", '[{"name":"a","ips":"10.1.1.5"}]', /"ips" must be a non-empty list/],
  [
    "an address that is not one",
    '[{"name":"a","ips":["10.1.1"]}]',
    /ips\[0\] "10.1.1" is not an IP address or address\/prefix/,
  ],
  ["a prefix out of range", '[{"name":"a","ips":["10.1.1.5/33"]}]', /"10.1.1.5\/33" is not an IP address/],
  [
    "a MAC that is not one",
    '[{"name":"a","mac":"02:00:00:00:00"}]',
    /"mac" "02:00:00:00:00" is not a MAC address/,
  ],
  [
    "a multicast MAC",
    '[{"name":"a","mac":"01:00:5e:00:00:01"}]',
    /is a multicast address; clear the lowest bit/,
  ],
  [
    "a default-route gateway with a prefix",
    '[{"name":"a","default-route":["10.1.1.1/24"]}]',
    /default-route\[0\] "10.1.1.1\/24" is not an IP address/,
  ],
  [
    "two IPv4 default gateways",
    '[{"name":"a","default-route":["10.1.1.1","10.1.1.2"]}]',
    /two gateways of one family/,
  ],
  ["cni-args not an object", '[{"name":"a","cni-args":[1]}]', /"cni-args" must be an object/],
  ["an empty JSON namespace", '[{"name":"a","namespace":""}]', /"namespace" must be a non-empty string/],
];

describe("k8s.v1.cni.cncf.io/networks: invalid forms are refused, saying what to fix", () => {
  for (const [what, text, message] of invalid) {
    test(what, () => {
      assert.throws(
        () => parse(text),
        (err: unknown) =>
          err instanceof NetAttachError &&
          err.kind === "invalid-annotation" &&
          err.message.startsWith("k8s.v1.cni.cncf.io/networks: ") &&
          message.test(err.message),
      );
    });
  }
  test("two items on one interface name", () => {
    assert.throws(
      () => planInterfaces(parse("a@net1,b@net1")),
      /item 2 \(team-a\/b\) gets interface "net1", as item 1 does/,
    );
  });
  test("a named interface that takes a position's name", () => {
    assert.throws(() => planInterfaces(parse("a,b@net1")), /gets interface "net1", as item 1 does/);
  });
  test("default-route on two networks", () => {
    assert.throws(
      () =>
        planInterfaces(
          parse('[{"name":"a","default-route":["10.1.1.1"]},{"name":"b","default-route":["10.2.1.1"]}]'),
        ),
      /items 1 and 2 all ask for "default-route"; a pod has one default route/,
    );
  });
  test("an invalid pod namespace", () => {
    assert.throws(
      () => parseNetworksAnnotation("a", "Bad_NS"),
      /the pod's namespace: "Bad_NS" is not a namespace name/,
    );
  });
  test("at least 15 invalid forms are covered", () => assert.ok(invalid.length + 4 >= 15));
});

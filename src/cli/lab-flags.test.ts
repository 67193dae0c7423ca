import assert from "node:assert/strict";
import { test } from "node:test";
import { type LabFlags, parseLabFlags } from "./lab-flags.js";
import { UsageError } from "./options.js";

const defaults: LabFlags = {
  model: "vxlan",
  nodes: "3",
  pods: "2",
  underlay: "l2",
  datastore: "embedded",
  routeReflectors: "0",
};

test("the defaults make the default lab", () => {
  assert.deepEqual(parseLabFlags(defaults), {
    model: "vxlan",
    nodes: 3,
    podsPerNode: 2,
    underlay: "l2",
    datastore: "embedded",
    clusterCidr: "10.244.0.0/16",
    underlayMtu: 1500,
    routeReflectors: 0,
  });
});

const bad: [Partial<LabFlags>, RegExp][] = [
  [{ nodes: "abc" }, /^--nodes: "abc" is not a whole number from 1 to 200$/],
  [{ nodes: "1.5" }, /^--nodes: /],
  [{ nodes: "0" }, /^--nodes: /],
  [{ nodes: "201" }, /^--nodes: /],
  [{ nodes: "-3" }, /^--nodes: /],
  [{ nodes: "" }, /^--nodes: /],
  [{ pods: "xyz" }, /^--pods: "xyz" is not a whole number from 0 to 100$/],
  [{ pods: "101" }, /^--pods: /],
  [
    { model: "ipvlan" },
    /^--model: "ipvlan" is not one of host-gw, vxlan, vxlan-crosssubnet, bgp, ipip, ipip-crosssubnet, gre, gre-crosssubnet, wireguard, sleeve$/,
  ],
  [{ underlay: "l9" }, /^--underlay: "l9" is not one of l2, l3$/],
  [{ datastore: "mysql" }, /^--datastore: "mysql" is not one of embedded, etcd$/],
  [{ routeReflectors: "two" }, /^--route-reflectors: /],
  [{ model: "bgp", routeReflectors: "4" }, /^--route-reflectors: "4" is not a whole number from 0 to 3$/],
  [{ routeReflectors: "1" }, /^--route-reflectors: applies only to --model bgp on --underlay l2$/],
  [{ model: "bgp", underlay: "l3", routeReflectors: "1" }, /^--route-reflectors: applies only/],
  [{ podAttachment: "macvlan" }, /^--pod-attachment: "macvlan" is not one of auto, bridge, routed$/],
  [{ agentsPerProcess: "0" }, /^--agents-per-process: "0" is not a whole number from 1 to 200$/],
  [{ agentsPerProcess: "many" }, /^--agents-per-process: /],
  [
    { model: "wireguard", agentsPerProcess: "4" },
    /^--agents-per-process: the wireguard model's agents need a process each/,
  ],
  [{ datastore: "etcd", agentsPerProcess: "4" }, /^--agents-per-process: etcd listens on the underlay/],
];
for (const [flags, message] of bad) {
  test(`refused: ${JSON.stringify(flags)}`, () => {
    assert.throws(
      () => parseLabFlags({ ...defaults, ...flags }),
      (e) => e instanceof UsageError && message.test(e.message),
    );
  });
}

test("--agents-per-process: auto (absent) is left to the lab, a number is kept, 1 is taken for any model", () => {
  assert.equal(parseLabFlags({ ...defaults, agentsPerProcess: "auto" }).agentsPerProcess, undefined);
  assert.equal(parseLabFlags({ ...defaults, agentsPerProcess: "10" }).agentsPerProcess, 10);
  assert.equal(parseLabFlags({ ...defaults, model: "wireguard", agentsPerProcess: "1" }).agentsPerProcess, 1);
});

test("--pod-attachment: auto leaves it to the backend, bridge and routed are passed on", () => {
  assert.equal(parseLabFlags({ ...defaults, podAttachment: "auto" }).podAttachment, undefined);
  assert.equal(
    parseLabFlags({ ...defaults, model: "ipip", podAttachment: "bridge" }).podAttachment,
    "bridge",
  );
  assert.equal(parseLabFlags({ ...defaults, podAttachment: "routed" }).podAttachment, "routed");
});

test("bgp with reflectors on l2 is taken", () => {
  const spec = parseLabFlags({ ...defaults, model: "bgp", nodes: "6", routeReflectors: "2" });
  assert.equal(spec.routeReflectors, 2);
});

test("--ip-family: ipv4 is the default lab; dual and ipv6 for bgp and host-gw on l2 and for bgp on l3; the rest refused with one line", () => {
  assert.equal(parseLabFlags({ ...defaults, ipFamily: "ipv4" }).ipFamily, undefined);
  assert.equal(parseLabFlags({ ...defaults, model: "bgp", ipFamily: "dual" }).ipFamily, "dual");
  assert.equal(parseLabFlags({ ...defaults, model: "host-gw", ipFamily: "dual" }).ipFamily, "dual");
  assert.equal(parseLabFlags({ ...defaults, model: "bgp", ipFamily: "ipv6" }).ipFamily, "ipv6");
  assert.equal(
    parseLabFlags({ ...defaults, model: "bgp", underlay: "l3", ipFamily: "dual" }).ipFamily,
    "dual",
  );
  assert.equal(parseLabFlags({ ...defaults, model: "host-gw", ipFamily: "ipv6" }).ipFamily, "ipv6");
  assert.equal(
    parseLabFlags({ ...defaults, model: "bgp", underlay: "l3", ipFamily: "ipv6" }).ipFamily,
    "ipv6",
  );
  const refused: [Partial<LabFlags>, RegExp][] = [
    [{ ipFamily: "dual" }, /^--ip-family: dual stack is built for --model host-gw and bgp, not vxlan/],
    [
      { model: "vxlan", underlay: "l3", ipFamily: "dual" },
      /^--ip-family: dual stack is built for --model host-gw and bgp/,
    ],
    [
      { model: "host-gw", underlay: "l3", ipFamily: "dual" },
      /^--ip-family: dual stack on --underlay l3 is built for --model bgp/,
    ],
    [
      { ipFamily: "ipv6" },
      /^--ip-family: ipv6 \(IPv6-only\) is built for --model host-gw and bgp, not vxlan/,
    ],
    [
      { model: "host-gw", underlay: "l3", ipFamily: "ipv6" },
      /^--ip-family: ipv6 \(IPv6-only\) on --underlay l3 is built for --model bgp/,
    ],
    [
      { model: "vxlan", underlay: "l3", ipFamily: "ipv6" },
      /^--ip-family: ipv6 \(IPv6-only\) is built for --model host-gw and bgp, not vxlan/,
    ],
    [{ ipFamily: "v6" }, /^--ip-family: "v6" is not one of ipv4, ipv6, dual$/],
  ];
  for (const [f, message] of refused)
    assert.throws(
      () => parseLabFlags({ ...defaults, ...f }),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
      JSON.stringify(f),
    );
});

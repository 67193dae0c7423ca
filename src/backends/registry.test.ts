import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { z } from "zod";
import type { NodeLease } from "../cluster/node-lease.js";
import type { LocalNode } from "./api.js";
import { bgpDefinition } from "./bgp/bgp-definition.js";
import {
  type BackendDefinition,
  type BackendFlagValues,
  BackendOptionsError,
  BackendRegistryError,
  createBackendFrom,
  flagKey,
  parseBackendOptions,
} from "./definition.js";
import { backendNames, backendRegistry, checkRegistry, defaultBackend, findBackend } from "./registry.js";
import { directRoute, isL2Adjacent } from "./shared/direct-routes.js";

/** Every flag of a definition at its default, as Commander gives them when none is on the command line. */
const defaultsOf = (def: BackendDefinition): BackendFlagValues =>
  Object.fromEntries(
    def.cliFlags.map((f) => [flagKey(f.flag), f.flag.startsWith("--no-") ? true : f.default]),
  );

const definition = (name: string): BackendDefinition => {
  const def = findBackend(backendRegistry, name);
  if (!def) throw new RangeError(`no backend ${name} in the registry`);
  return def;
};

const lease = (node: string, subnet: string, publicIp: string): NodeLease => ({
  node,
  subnet,
  publicIp,
  publicPrefix: 24,
  backend: "x",
  backendData: {},
});

describe("the backend registry", () => {
  test("lists every backend once, the default among them, and passes its own checks", () => {
    assert.deepEqual(backendNames, [
      "host-gw",
      "vxlan",
      "vxlan-crosssubnet",
      "bgp",
      "ipip",
      "ipip-crosssubnet",
      "gre",
      "gre-crosssubnet",
      "wireguard",
      "sleeve",
    ]);
    assert.ok(backendNames.includes(defaultBackend));
    checkRegistry(backendRegistry);
  });

  test("every backend builds from its flags' defaults and is named as the registry names it", () => {
    for (const def of backendRegistry as readonly BackendDefinition[]) {
      const backend = createBackendFrom(def, defaultsOf(def), { node: "n1" });
      assert.equal(backend.name, def.name);
      assert.ok(def.summary.length > 0, `${def.name} has a summary`);
    }
  });

  test("a backend reads only its own flags: another backend's bad value does not reach it", () => {
    const hostGw = definition("host-gw");
    assert.deepEqual(parseBackendOptions(hostGw, { vni: "not a number", bgpAsn: "0" }), {});
  });

  test("vxlan takes a 24-bit VNI and a UDP port, as numbers", () => {
    const vxlan = definition("vxlan");
    assert.deepEqual(parseBackendOptions(vxlan, { vni: "16777215", vxlanPort: "4789" }), {
      vni: 16777215,
      port: 4789,
    });
    const refused: [BackendFlagValues, string][] = [
      [{ vni: "16777216", vxlanPort: "8472" }, '--vni: "16777216" is not a whole number from 1 to 16777215'],
      [{ vni: "0", vxlanPort: "8472" }, '--vni: "0" is not a whole number from 1 to 16777215'],
      [{ vni: "1", vxlanPort: "65536" }, '--vxlan-port: "65536" is not a whole number from 1 to 65535'],
      [{ vni: "1" }, "--vxlan-port: missing"],
    ];
    for (const [values, message] of refused)
      assert.throws(
        () => parseBackendOptions(vxlan, values),
        (e) => e instanceof BackendOptionsError && e.message === message,
        message,
      );
  });

  test("vxlan and vxlan-crosssubnet differ only in direct routes to peers on the node's segment", () => {
    const self: LocalNode = {
      lease: lease("n1", "10.244.1.0/24", "192.168.10.11"),
      underlayDev: "eth0",
      underlayMtu: 1500,
    };
    const neighbour = {
      ...lease("n2", "10.244.2.0/24", "192.168.10.12"),
      backendData: { vtepMac: "02:00:00:00:00:02" },
    };
    const build = (name: string) =>
      createBackendFrom(definition(name), { vni: "7", vxlanPort: "8472" }, { node: "n1" });
    assert.deepEqual(build("vxlan-crosssubnet").desired(self, [neighbour]).routes, [
      { dst: "10.244.2.0/24", via: "192.168.10.12", dev: "eth0" },
    ]);
    assert.deepEqual(build("vxlan").desired(self, [neighbour]).routes, [
      { dst: "10.244.2.0/24", via: "10.244.2.0", dev: "strata.7", onlink: true },
    ]);
  });

  test("bgp: AS, hold time (0 or 3..65535, RFC 4271 §4.2), cluster id, reflectors, peers", () => {
    const bgp = definition("bgp");
    const defaults = defaultsOf(bgp);
    assert.deepEqual(
      parseBackendOptions(bgp, {
        ...defaults,
        bgpRouteReflectors: "n1,,n2",
        bgpPeer: ["10.0.0.1,as=65000", "10.0.0.2,as=65001,passive"],
        bgpMesh: false,
      }),
      {
        asn: 64512,
        peers: [
          { address: "10.0.0.1", asn: 65000 },
          { address: "10.0.0.2", asn: 65001, passive: true },
        ],
        mesh: false,
        routeReflectors: ["n1", "n2"],
        clusterId: "244.0.0.1",
        holdTime: 9,
        restartTime: 120,
        passwordFile: undefined,
      },
    );
    const refused: [BackendFlagValues, RegExp][] = [
      [{ bgpAsn: "0" }, /^--bgp-asn: "0" is not a whole number from 1 to 4294967295$/],
      [{ bgpHold: "1" }, /^--bgp-hold: "1" must be 0 or 3 to 65535$/],
      [{ bgpHold: "70000" }, /^--bgp-hold: "70000" is not a whole number from 0 to 65535$/],
      [{ bgpClusterId: "x" }, /^--bgp-cluster-id: "x" is not an IPv4 address/],
      // RFC 4724: the restart time is 12 bits.
      [{ bgpRestartTime: "4096" }, /^--bgp-restart-time: "4096" is not a whole number from 0 to 4095$/],
      // The peer spec parser names the flag itself and says what to write.
      [{ bgpPeer: ["10.0.0.1"] }, /^bad --peer "10.0.0.1": .*\(write ADDRESS,as=ASN/],
    ];
    for (const [values, message] of refused)
      assert.throws(
        () => parseBackendOptions(bgp, { ...defaults, ...values }),
        (e) => e instanceof BackendOptionsError && message.test(e.message),
        String(message),
      );
    assert.equal(parseBackendOptions(bgpDefinition, { ...defaults, bgpHold: "0" }).holdTime, 0);
    assert.equal(parseBackendOptions(bgpDefinition, { ...defaults, bgpRestartTime: "0" }).restartTime, 0);
  });

  test("bgp: a password file that does not exist stops create() with a message naming it", () => {
    const bgp = definition("bgp");
    assert.throws(
      () =>
        createBackendFrom(
          bgp,
          { ...defaultsOf(bgp), bgpPasswordFile: "/nonexistent/strata-key" },
          { node: "n1" },
        ),
      /\/nonexistent\/strata-key/,
    );
  });

  test("a registry with two backends of one name, a bad name or one flag meaning two things is refused", () => {
    const plain = (name: string, help = "h"): BackendDefinition => ({
      name,
      summary: "s",
      options: z.object({}),
      cliFlags: [{ flag: "--shared <x>", help, default: "1" }],
      create: () => createBackendFrom(definition("host-gw"), {}, { node: "n1" }),
    });
    const bad: [BackendDefinition[], RegExp][] = [
      [[plain("a"), plain("a")], /two backends are named "a"/],
      [[plain("Bad Name")], /backend name "Bad Name"/],
      [[plain("a"), plain("b", "other help")], /backends a and b both define --shared differently/],
      [[{ ...plain("a"), cliFlags: [{ flag: "-s <x>", help: "h" }] }], /not a long flag/],
      [[{ ...plain("a"), cliFlags: [{ flag: "--s <x>", help: "h", default: ["1"] }] }], /is not repeatable/],
    ];
    for (const [registry, message] of bad)
      assert.throws(
        () => checkRegistry(registry),
        (e) => e instanceof BackendRegistryError && message.test(e.message),
        String(message),
      );
    // The same flag with the same meaning in two backends is one flag (vxlan and vxlan-crosssubnet).
    checkRegistry([plain("a"), plain("b")]);
  });

  test("flagKey names a value as Commander does", () => {
    assert.equal(flagKey("--vxlan-port <port>"), "vxlanPort");
    assert.equal(flagKey("--no-bgp-mesh"), "bgpMesh");
    assert.equal(flagKey("--vni <vni>"), "vni");
    assert.equal(flagKey("-r, --bgp-route-reflectors <nodes>"), "bgpRouteReflectors");
  });
});

describe("direct routes (host-gw, vxlan-crosssubnet)", () => {
  const local = lease("n1", "10.244.1.0/24", "192.168.10.11");

  test("a peer is L2-adjacent when its underlay address lies in this node's underlay subnet", () => {
    assert.equal(isL2Adjacent(local, lease("n2", "10.244.2.0/24", "192.168.10.254")), true);
    assert.equal(isL2Adjacent(local, lease("n3", "10.244.3.0/24", "192.168.11.1")), false);
  });

  test("the direct route is the peer's pod subnet via its underlay address on the underlay device", () => {
    assert.deepEqual(directRoute(lease("n2", "10.244.2.0/24", "192.168.10.12"), "eth1"), {
      dst: "10.244.2.0/24",
      via: "192.168.10.12",
      dev: "eth1",
    });
  });
});

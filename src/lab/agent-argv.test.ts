import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { agentArgv, datastoreArgv, type LabAgentOptions } from "./agent-argv.js";

const base: LabAgentOptions = {
  node: "n2",
  backend: "vxlan",
  clusterCidr: "10.244.0.0/16",
  datastore: { kind: "embedded", socket: "/run/strata-lab/datastore/kv.sock" },
  underlayDev: "eth0",
  stateDir: "/run/strata-lab/n2",
  heartbeatTtlSeconds: 10,
  cniBinDir: "/run/strata-lab/bin",
};
const values = (args: string[], flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));

describe("a lab agent's command line from its typed options", () => {
  test("every option becomes its flag, in the order lab up has always used", () => {
    assert.deepEqual(agentArgv(base), [
      ...["agent", "--node", "n2", "--backend", "vxlan", "--cluster-cidr", "10.244.0.0/16"],
      ...["--datastore", "embedded:/run/strata-lab/datastore/kv.sock"],
      ...["--underlay-dev", "eth0", "--state-dir", "/run/strata-lab/n2"],
      ...["--heartbeat-ttl", "10", "--cni-bin-dir", "/run/strata-lab/bin"],
    ]);
  });

  test("etcd: the endpoint and the client certificate, key and CA", () => {
    const etcd = {
      kind: "etcd",
      url: "https://192.168.10.1:2379",
      ca: "ca.pem",
      cert: "c.pem",
      key: "k.pem",
    } as const;
    const argv = agentArgv({ ...base, datastore: etcd });
    assert.deepEqual(values(argv, "--datastore"), ["etcd:https://192.168.10.1:2379"]);
    assert.deepEqual(
      [values(argv, "--etcd-ca"), values(argv, "--etcd-cert"), values(argv, "--etcd-key")],
      [["ca.pem"], ["c.pem"], ["k.pem"]],
    );
    assert.deepEqual(
      datastoreArgv(etcd),
      argv.slice(argv.indexOf("--datastore"), argv.indexOf("--underlay-dev")),
    );
  });

  test("--pod-attachment only when the lab sets one", () => {
    assert.deepEqual(values(agentArgv(base), "--pod-attachment"), []);
    assert.deepEqual(values(agentArgv({ ...base, spawnHelpers: 2 }), "--spawn-helpers"), ["2"]);
    assert.deepEqual(values(agentArgv({ ...base, podAttachment: "bridge" }), "--pod-attachment"), ["bridge"]);
  });

  test("bgp: asn, key file, no mesh with a signed peer, reflectors", () => {
    const argv = agentArgv({
      ...base,
      backend: "bgp",
      bgp: {
        asn: 64512,
        passwordFile: "/run/strata-lab/bgp-mesh.key",
        mesh: false,
        peers: [{ address: "192.168.20.1", asn: 64512 }],
        routeReflectors: [],
      },
    });
    assert.deepEqual(values(argv, "--bgp-asn"), ["64512"]);
    assert.deepEqual(values(argv, "--bgp-password-file"), ["/run/strata-lab/bgp-mesh.key"]);
    assert.ok(argv.includes("--no-bgp-mesh"));
    assert.deepEqual(values(argv, "--bgp-peer"), [
      "192.168.20.1,as=64512,password-file=/run/strata-lab/bgp-mesh.key",
    ]);
    assert.equal(argv.includes("--bgp-route-reflectors"), false);
  });

  test("BGP options and the bgp backend come together or not at all; a bad TTL is refused", () => {
    assert.throws(() => agentArgv({ ...base, backend: "bgp" }), /bgp backend needs its BGP options/);
    assert.throws(
      () => agentArgv({ ...base, bgp: { asn: 1, mesh: true, peers: [], routeReflectors: [] } }),
      /BGP options given for the vxlan backend/,
    );
    assert.throws(() => agentArgv({ ...base, heartbeatTtlSeconds: 0 }), /heartbeatTtlSeconds/);
  });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { Command, Option } from "commander";
import { z } from "zod";
import type { Backend, BackendDesiredState } from "../backends/api.js";
import { type BackendDefinition, flagKey } from "../backends/definition.js";
import { ipv4Flag, repeatedFlag, wholeNumberFlag } from "../backends/flag-schemas.js";
import { backendRegistry } from "../backends/registry.js";
import type { NodeLease } from "../cluster/node-lease.js";
import { addAgentFlags } from "./agent-command.js";
import { createBackend } from "./agent-wiring.js";
import { UsageError } from "./options.js";

/**
 * A backend that is not Strata's: static routes to prefixes given on the command line, via one
 * gateway. It is what a new backend's folder holds; the registry below is the one line added.
 */
interface StaticOptions {
  readonly prefixes: readonly string[];
  readonly via: string;
  readonly metric: number;
}
const staticDefinition: BackendDefinition<StaticOptions> = {
  name: "static",
  summary: "fixed routes via one gateway (a test backend)",
  options: z
    .object({
      staticRoute: repeatedFlag(),
      staticVia: ipv4Flag(),
      staticMetric: wholeNumberFlag(0, 1000),
    })
    .transform((o) => ({ prefixes: o.staticRoute, via: o.staticVia, metric: o.staticMetric })),
  cliFlags: [
    { flag: "--static-route <prefix>", help: "a prefix to route (repeat)", default: [], repeatable: true },
    { flag: "--static-via <address>", help: "the gateway of every static route", default: "192.0.2.1" },
    { flag: "--static-metric <n>", help: "metric of the static routes", default: "100" },
  ],
  create(o, deps): Backend {
    return {
      name: "static",
      podMtu: (mtu) => mtu,
      localBackendData: () => ({ staticNode: deps.node }),
      desired: (local): BackendDesiredState => ({
        devices: [],
        addresses: [],
        routes: o.prefixes.map((dst) => ({ dst, via: o.via, dev: local.underlayDev, metric: o.metric })),
        neighbours: [],
        fdb: [],
        unreachable: [],
      }),
    };
  },
};

const withStatic = [...backendRegistry, staticDefinition];

/** The agent's flags as `strata agent` builds them, from `registry`, parsed from `argv` (no action runs). */
function parseAgentFlags(registry: readonly BackendDefinition[], argv: string[]) {
  const cmd = addAgentFlags(new Command("agent").exitOverride(), registry);
  cmd.parse(argv, { from: "user" });
  return { cmd, opts: cmd.opts() as { backend: string } & Record<string, string | boolean | string[]> };
}

test("a backend added to the registry brings its flags, help and --backend choice to the agent", () => {
  const { cmd } = parseAgentFlags(withStatic, []);
  let help = "";
  cmd.configureOutput({ writeOut: (text) => (help += text) });
  cmd.outputHelp();
  help = help.replace(/\s+/g, " ");
  assert.match(
    help,
    /--backend <name> host-gw \| vxlan \| vxlan-crosssubnet \| bgp \| ipip \| ipip-crosssubnet \| gre \|\s?gre-crosssubnet \|\s?wireguard \|\s?sleeve \|\s?static \(default: "vxlan"\)/,
  );
  assert.match(
    help,
    /--static-route <prefix> static backend: a prefix to route \(repeat\) \(default: \[\]\)/,
  );
  assert.match(
    help,
    /--static-via <address> static backend: the gateway of every static route \(default: "192\.0\.2\.1"\)/,
  );
  assert.match(help, /--static-metric <n> static backend: metric of the static routes \(default: "100"\)/);
  assert.match(help, /Backends \(--backend\):.* static fixed routes via one gateway \(a test backend\)/);
  // Strata's own backends' flags are still there.
  assert.match(help, /--vni <vni> vxlan, vxlan-crosssubnet backends: VXLAN network identifier/);
  assert.match(help, /--bgp-hold <s> bgp backend: hold time/);
});

test("the added backend's options are parsed by its schema and the agent wiring builds it", () => {
  const { opts } = parseAgentFlags(withStatic, [
    ...["--node", "n1", "--backend", "static", "--static-route", "10.9.0.0/16"],
    ...["--static-route", "10.8.0.0/16", "--static-metric", "7"],
  ]);
  const backend = createBackend(opts, "n1", withStatic);
  assert.equal(backend.name, "static");
  assert.deepEqual(backend.localBackendData(), { staticNode: "n1" });
  const self = { node: "n1", subnet: "10.244.1.0/24", publicIp: "192.0.2.11", publicPrefix: 24 } as NodeLease;
  assert.deepEqual(backend.desired({ lease: self, underlayDev: "eth0", underlayMtu: 1500 }, []).routes, [
    { dst: "10.9.0.0/16", via: "192.0.2.1", dev: "eth0", metric: 7 },
    { dst: "10.8.0.0/16", via: "192.0.2.1", dev: "eth0", metric: 7 },
  ]);
});

test("a bad value of the added backend's flag is a UsageError naming that flag", () => {
  const { opts } = parseAgentFlags(withStatic, ["--backend", "static", "--static-via", "gateway"]);
  assert.throws(
    () => createBackend(opts, "n1", withStatic),
    (e) =>
      e instanceof UsageError && e.message === '--static-via: "gateway" is not an IPv4 address (a.b.c.d)',
  );
  // Without the registry line the name is refused like any unknown backend.
  assert.throws(
    () => createBackend(opts, "n1", backendRegistry),
    (e) =>
      e instanceof UsageError &&
      /^--backend: "static" is not one of host-gw, vxlan, vxlan-crosssubnet, bgp, ipip, ipip-crosssubnet, gre, gre-crosssubnet, wireguard, sleeve$/.test(
        e.message,
      ),
  );
});

test("the agent keeps every backend flag it had, with its default", () => {
  const { cmd, opts } = parseAgentFlags(backendRegistry, []);
  const flags = cmd.options.map((o) => o.flags);
  for (const f of [
    "--backend <name>",
    "--vxlan-port <port>",
    "--vni <vni>",
    "--bgp-asn <asn>",
    "--bgp-peer <spec>",
    "--no-bgp-mesh",
    "--bgp-route-reflectors <nodes>",
    "--bgp-cluster-id <id>",
    "--bgp-hold <s>",
    "--bgp-password-file <path>",
  ])
    assert.ok(flags.includes(f), f);
  assert.deepEqual(
    {
      backend: opts.backend,
      vxlanPort: opts.vxlanPort,
      vni: opts.vni,
      bgpAsn: opts.bgpAsn,
      bgpPeer: opts.bgpPeer,
      bgpMesh: opts.bgpMesh,
      bgpRouteReflectors: opts.bgpRouteReflectors,
      bgpClusterId: opts.bgpClusterId,
      bgpHold: opts.bgpHold,
      bgpPasswordFile: opts.bgpPasswordFile,
    },
    {
      backend: "vxlan",
      vxlanPort: "8472",
      vni: "1",
      bgpAsn: "64512",
      bgpPeer: [],
      bgpMesh: true,
      bgpRouteReflectors: undefined,
      bgpClusterId: "244.0.0.1",
      bgpHold: "9",
      bgpPasswordFile: undefined,
    },
  );
  // A repeated flag collects in order; a switch turns off.
  const again = parseAgentFlags(backendRegistry, [
    "--bgp-peer",
    "a",
    "--bgp-peer",
    "b",
    "--no-bgp-mesh",
  ]).opts;
  assert.deepEqual(again.bgpPeer, ["a", "b"]);
  assert.equal(again.bgpMesh, false);
});

test("the registry's value keys are the ones Commander gives the options", () => {
  for (const def of withStatic)
    for (const f of def.cliFlags) assert.equal(flagKey(f.flag), new Option(f.flag).attributeName(), f.flag);
});

test("a registry whose default backend is missing, or with a flag the agent has, cannot build the agent", () => {
  assert.throws(() => addAgentFlags(new Command("agent"), [staticDefinition]), /default backend "vxlan"/);
  const clash: BackendDefinition = {
    ...staticDefinition,
    name: "clash",
    cliFlags: [{ flag: "--node <name>", help: "clash" }],
  } as BackendDefinition;
  assert.throws(() => addAgentFlags(new Command("agent"), [...backendRegistry, clash]), /--node/);
});

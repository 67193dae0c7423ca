import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { pino } from "pino";
import { defaultCniSocketDir } from "../agent/cni-socket.js";
import { runAgent } from "../agent/run-agent.js";
import { peerSpecSyntax } from "../bgp/speaker/peer-spec.js";
import { installCniPlugins } from "../cni/install.js";
import { StrataError } from "../common/errors.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { serveDatastore } from "../datastore/embedded/server.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import { createIproute2Kernel, spawnProgram } from "../kernel/iproute2/index.js";
import { SpawnPool } from "../kernel/spawn-pool.js";
import { countBgpSessions } from "../lab/bgp-status.js";
import { type CheckResult, runChecks } from "../lab/check.js";
import { benchLab } from "../lab/measure.js";
import { type LabState, labDown, labUp, readLabState } from "../lab/runner.js";
import { labModels } from "../lab/topology.js";
import { pluginTypes } from "../plugins/catalog.js";
import { type AgentCliOptions, createBackend, openDatastore, removeNode } from "./agent-wiring.js";
import { type BgpSpeakerCliOptions, runBgpSpeaker } from "./bgp-speaker.js";
import { runDemo } from "./demo.js";
import { type LabFlags, parseLabFlags } from "./lab-flags.js";
import { CommandError, positiveInt, UsageError } from "./options.js";
import { packageRoot, pluginEntryDir, shimPath, spawnHelperPath } from "./paths.js";
import { step } from "./progress.js";

const program = new Command();
program
  .name("strata")
  .description("Strata: Kubernetes pod networking (CNI plugins, node agent, lab of emulated nodes)")
  .showHelpAfterError();

program
  .command("install-cni")
  .description("put the CNI plugin executables (one per plugin type, named by type) into a directory")
  .requiredOption("--dir <dir>", "target directory, e.g. /opt/cni/bin")
  .action(async (o: { dir: string }) => {
    const written = await installCniPlugins({
      dir: o.dir,
      types: pluginTypes,
      shimPath,
      nodePath: process.execPath,
      entryDir: pluginEntryDir,
    });
    for (const f of written) console.log(f);
  });

program
  .command("agent")
  .description(
    "run the node agent: serves CNI requests forwarded by the plugin shim in this network namespace; with --node, also leases a pod subnet and routes to the other nodes",
  )
  .option("--log-level <level>", "pino log level", "info")
  .option("--node <name>", "this node's name (enables cluster mode)")
  .option("--cluster-cidr <cidr>", "pod network of the whole cluster", "10.244.0.0/16")
  .option("--subnet-len <n>", "prefix length of each node's pod subnet", "24")
  .option("--backend <name>", "host-gw | vxlan | vxlan-crosssubnet | bgp", "vxlan")
  .option("--vxlan-port <port>", "VXLAN UDP port (8472 Linux/Flannel default, 4789 IANA)", "8472")
  .option("--vni <vni>", "VXLAN network identifier", "1")
  .option("--datastore <url>", "embedded:<socket path> or etcd:<https://host:port,...>")
  .option("--etcd-ca <file>", "etcd over https: the CA that signed etcd's certificate (PEM)")
  .option("--etcd-cert <file>", "etcd over https: this agent's client certificate (PEM)")
  .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)")
  .option("--underlay-dev <dev>", "interface carrying node-to-node traffic", "eth0")
  .option("--state-dir <dir>", "where to write subnet.json and the CNI conflist")
  .option(
    "--lease-ttl <s>",
    "subnet lease TTL (ownership), seconds; renewed every min(TTL/3, 1 h); a node's routes stay on every other node this long after its agent stops",
    "86400",
  )
  .option(
    "--heartbeat-ttl <s>",
    "liveness heartbeat TTL, seconds: peers report this node not alive this long after its agent stops (routes stay)",
    "20",
  )
  .option("--resync-interval <s>", "repair pass: re-add missing routes this often, seconds", "10")
  .option(
    "--datastore-timeout <s>",
    "/healthz is not ok once the datastore has been unreachable this long, seconds",
    "60",
  )
  .option("--no-masquerade", "do not masquerade traffic leaving the cluster CIDR")
  .option("--health-port <port>", "local port for /healthz and /metrics", "9947")
  .option(
    "--cni-bin-dir <dirs>",
    "the agent's CNI plugin directories (colon-separated); delegated plugins run only from here, never from a request's CNI_PATH",
    "/opt/cni/bin",
  )
  .option(
    "--cni-socket-dir <dir>",
    "root-only directory of the CNI socket (the shim is built with the default)",
    defaultCniSocketDir,
  )
  .option(
    "--cni-max-requests <n>",
    "CNI requests in flight at once; more are answered code 11 (try again later)",
    "64",
  )
  .option("--cni-read-timeout <ms>", "time a caller has to send its whole CNI request", "10000")
  .option("--bgp-asn <asn>", "bgp backend: the cluster's AS", "64512")
  .option(
    "--bgp-peer <spec>",
    "bgp backend: a peer outside the cluster, ADDRESS,as=ASN[,...] as for bgp-speaker (repeat)",
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .option(
    "--no-bgp-mesh",
    "bgp backend: no node-to-node sessions (only --bgp-peer, e.g. a top-of-rack router)",
  )
  .option(
    "--bgp-route-reflectors <nodes>",
    "bgp backend: comma-separated node names that reflect; the rest peer only with them",
  )
  .option("--bgp-cluster-id <id>", "bgp backend: route-reflector cluster id", "244.0.0.1")
  .option("--bgp-hold <s>", "bgp backend: hold time", "9")
  .option(
    "--bgp-password-file <path>",
    "bgp backend: TCP-MD5 (RFC 2385) password of every node-to-node session, one line in a root-only file",
  )
  .action(async (o: AgentCliOptions) => {
    const leaseTtlSeconds = positiveInt("--lease-ttl", o.leaseTtl);
    const heartbeatTtlSeconds = positiveInt("--heartbeat-ttl", o.heartbeatTtl);
    const datastoreTimeoutSeconds = positiveInt("--datastore-timeout", o.datastoreTimeout);
    const resyncSeconds = positiveInt("--resync-interval", o.resyncInterval);
    // First: a datastore flag problem (no CA for https, an unreadable key, ...) stops the agent
    // before anything starts.
    const store = o.node
      ? openDatastore(o.datastore, { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey })
      : undefined;
    const logger = pino({ level: o.logLevel });
    const ac = new AbortController();
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => ac.abort());
    // A few small helper processes start programs for the agent: forking the agent itself costs
    // more the larger its heap grows (bench/README.md).
    const helpers = Number(process.env.STRATA_SPAWN_HELPERS ?? 8);
    const pool = existsSync(spawnHelperPath)
      ? new SpawnPool(spawnHelperPath, helpers, spawnProgram)
      : undefined;
    try {
      await runAgent({
        kernel: createIproute2Kernel({ runner: pool?.run }),
        logger,
        signal: ac.signal,
        healthPort: Number(o.healthPort),
        cniBinDirs: o.cniBinDir.split(":").filter(Boolean),
        cniSocketDir: o.cniSocketDir,
        cniLimits: {
          maxInFlight: positiveInt("--cni-max-requests", o.cniMaxRequests),
          readTimeoutMs: positiveInt("--cni-read-timeout", o.cniReadTimeout),
        },
        cluster:
          o.node && store
            ? {
                store,
                node: o.node,
                clusterCidr: o.clusterCidr,
                subnetLen: Number(o.subnetLen),
                underlayDev: o.underlayDev,
                backend: createBackend(o, o.node),
                leaseTtlSeconds,
                heartbeatTtlSeconds,
                datastoreTimeoutSeconds,
                resyncMs: resyncSeconds * 1000,
                stateDir: o.stateDir,
                masquerade: o.masquerade,
              }
            : undefined,
      });
    } finally {
      await store?.close();
      pool?.close();
    }
  });

const node = program.command("node").description("the cluster's nodes in the datastore");
node
  .command("remove")
  .description(
    "remove a node from the cluster: delete its subnet lease and heartbeat, so every other node withdraws its routes (stop its agent first)",
  )
  .argument("<name>", "the node's name")
  .requiredOption("--datastore <url>", "embedded:<socket path> or etcd:<https://host:port,...>")
  .option("--etcd-ca <file>", "etcd over https: the CA that signed etcd's certificate (PEM)")
  .option("--etcd-cert <file>", "etcd over https: a client certificate (PEM)")
  .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)")
  .action(
    async (name: string, o: { datastore: string; etcdCa?: string; etcdCert?: string; etcdKey?: string }) => {
      const store = openDatastore(o.datastore, { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey });
      try {
        const removed = await removeNode(store, name);
        for (const key of removed) console.log(`removed ${key}`);
      } finally {
        await store.close();
      }
    },
  );

program
  .command("datastore")
  .description(
    "serve the embedded datastore on a UNIX socket (reachable from every namespace on this machine)",
  )
  .requiredOption("--socket <path>", "socket path")
  .requiredOption("--dir <dir>", "directory of its log")
  .action(async (o: { socket: string; dir: string }) => {
    const store = new EmbeddedStore({ dir: o.dir });
    const server = await serveDatastore(store, o.socket);
    await new Promise<void>((resolve) => {
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
    });
    await server.close();
    await store.close();
  });

program
  .command("demo")
  .description("bring up pods on one emulated node (bridge and routed modes), show them talking, tear down")
  .option("--pods <n>", "pods per mode", "3")
  .option("--keep", "leave the namespaces up (remove later with `strata demo --down`)")
  .option("--down", "only remove what an earlier demo left")
  .action(async (o: { pods: string; keep?: boolean; down?: boolean }) => {
    const ok = await runDemo({ pods: Number(o.pods), keep: Boolean(o.keep), downOnly: Boolean(o.down) });
    process.exitCode = ok ? 0 : 1;
  });

program
  .command("bgp-speaker")
  .description("run Strata's BGP speaker: sessions, routes and a summary as JSON lines")
  .requiredOption("--asn <asn>", "our AS")
  .requiredOption("--router-id <id>", "our BGP identifier")
  .option(
    "--peer <spec>",
    `a neighbour: ${peerSpecSyntax} (repeat)`,
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .option("--listen <[host:]port>", "accept sessions here (e.g. 179)")
  .option("--cluster-id <id>", "act as route reflector for rr-client peers")
  .option("--hold <s>", "proposed hold time", "90")
  .option("--connect-retry <s>", "connect retry time", "5")
  .option("--announce <prefixes>", "comma-separated prefixes to originate")
  .option("--next-hop <address>", "NEXT_HOP of originated routes (default: the session's address)")
  .option("--install-routes", "put learned routes into this namespace's kernel")
  .option("--route-dev <dev>", "device for installed routes")
  .option("--quiet", "no line per learned route")
  .action((o: BgpSpeakerCliOptions) => runBgpSpeaker(o));

const lab = program
  .command("lab")
  .description("an emulated multi-node cluster in network namespaces on this machine");
const labPaths = () => ({
  root: packageRoot,
  cliScript: join(packageRoot, "bin/strata.js"),
  nodePath: process.execPath,
  shimPath,
  entryDir: pluginEntryDir,
});
const printChecks = (results: CheckResult[]): boolean => {
  if (results.length === 0) {
    console.log("no checks ran: the lab has no nodes or pods to check (is it up? `strata lab up`)");
    return false;
  }
  console.log(`\n${"check".padEnd(26)} ${"from".padEnd(10)} ${"to".padEnd(28)} result`);
  for (const r of results)
    console.log(`${r.kind.padEnd(26)} ${r.from.padEnd(10)} ${r.to.padEnd(28)} ${r.ok ? "ok" : "FAIL"}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(
    failed === 0
      ? `\nall ${results.length} checks passed ✔`
      : `\n${failed} of ${results.length} checks failed ✘`,
  );
  return failed === 0;
};
const printBgpSessions = async (kernel: Kernel, state: LabState) => {
  const c = await countBgpSessions(kernel, state);
  const each = c.ends.map(([n, k]) => `${n} ${k}`).join(" · ");
  console.log(`BGP sessions (established, port 179): ${each} — ${c.total} in all, ${c.expected} expected`);
};
const labOptions = (c: Command) =>
  c
    .option("--model <model>", labModels.join(" | "), "vxlan")
    .option("--nodes <n>", "number of nodes", "3")
    .option("--pods <m>", "pods per node", "2")
    .option("--underlay <kind>", "l2 (one switch) | l3 (two subnets and a router)", "l2")
    .option("--datastore <kind>", "embedded | etcd", "embedded")
    .option("--route-reflectors <k>", "bgp on l2: the first K nodes reflect (0: full mesh)", "0");
type LabCli = LabFlags;
const labSpec = parseLabFlags;
labOptions(lab.command("up").description("bring up the lab (replacing an earlier one)")).action(
  async (o: LabCli) => {
    const kernel = createIproute2Kernel();
    const state = await labUp(kernel, labSpec(o), labPaths(), step);
    for (const n of state.nodes)
      console.log(`${n.name}  ${n.ip.padEnd(15)} pods ${n.subnet}  pod MTU ${n.podMtu}`);
    if (state.spec.model === "bgp") await printBgpSessions(kernel, state);
  },
);
lab
  .command("status")
  .description("nodes, subnets, pods and agent health")
  .action(async () => {
    const state = await readLabState();
    if (!state) {
      console.log("no lab is up (strata lab up)");
      return;
    }
    const kernel = createIproute2Kernel();
    console.log(
      `model ${state.spec.model}, underlay ${state.spec.underlay}, datastore ${state.spec.datastore}`,
    );
    for (const n of state.nodes) {
      const h = await kernel.exec(namedNetns(n.ns), [
        "python3",
        "-c",
        "import urllib.request as u;print(u.urlopen('http://127.0.0.1:9947/healthz',timeout=2).read().decode())",
      ]);
      console.log(
        `${n.name} ${n.ip} ${n.subnet} agent pid ${n.pid}: ${h.code === 0 ? h.stdout.trim() : "not answering"}`,
      );
    }
    for (const p of state.pods) console.log(`  pod ${p.name} on ${p.node}: ${p.ip}`);
    if (state.spec.model === "bgp") await printBgpSessions(kernel, state);
  });
lab
  .command("check")
  .description("connectivity matrix: same node, cross node, pod→node, pod→outside, MTU")
  .action(async () => {
    const state = await readLabState();
    if (!state) throw new CommandError("no lab is up (start one with `strata lab up`)");
    process.exitCode = printChecks(await runChecks(createIproute2Kernel(), state)) ? 0 : 1;
  });
lab
  .command("bench")
  .description("iperf3 throughput and ping latency per path type, the raw underlay measured in the same run")
  .option("--seconds <s>", "iperf3 duration per path", "3")
  .action(async (o: { seconds: string }) => {
    const state = await readLabState();
    if (!state) throw new CommandError("no lab is up (start one with `strata lab up`)");
    const rows = await benchLab(createIproute2Kernel(), state, Number(o.seconds));
    const raw = rows[0];
    console.log(
      `${"path".padEnd(28)} ${"from → to".padEnd(16)} ${"Gbit/s".padStart(7)} ${"RTT µs".padStart(7)} ${"× raw".padStart(6)}`,
    );
    for (const r of rows) {
      const ratio = raw && r !== raw ? (r.gbps / raw.gbps).toFixed(2) : "";
      console.log(
        `${r.path.padEnd(28)} ${`${r.from} → ${r.to}`.padEnd(16)} ${r.gbps.toFixed(2).padStart(7)} ${r.rttUs.toFixed(0).padStart(7)} ${ratio.padStart(6)}`,
      );
    }
  });

lab
  .command("down")
  .description("remove the lab (also after a crash)")
  .action(async () => {
    await step("removing the lab", () => labDown(createIproute2Kernel()));
  });
labOptions(lab.command("run").description("up, check, down: the lab's main job in one go"))
  .option("--keep", "leave the lab up afterwards")
  .action(async (o: LabCli & { keep?: boolean }) => {
    const kernel = createIproute2Kernel();
    try {
      const state = await labUp(kernel, labSpec(o), labPaths(), step);
      for (const n of state.nodes)
        console.log(`${n.name}  ${n.ip.padEnd(15)} pods ${n.subnet}  pod MTU ${n.podMtu}`);
      if (state.spec.model === "bgp") await printBgpSessions(kernel, state);
      process.exitCode = printChecks(await runChecks(kernel, state)) ? 0 : 1;
    } finally {
      if (!o.keep) await step("removing the lab", () => labDown(kernel));
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A Strata error is the user's to fix: one line, no stack trace.
  if (!(err instanceof StrataError)) throw err;
  console.error(`strata: ${err.message}`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}

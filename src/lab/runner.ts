import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tcpSecurityAvailable } from "../bgp/speaker/tcp-security.js";
import { installCniPlugins } from "../cni/install.js";
import { addNetworkList, type ConfList } from "../cni/runtime-client.js";
import { eventually } from "../common/eventually.js";
import { etcdServerTlsArgs, makeEtcdPki } from "../datastore/etcd/pki.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import { strataRouteProto } from "../kernel/desired/route-proto.js";
import { removeNamespaces } from "../kernel/remove-namespaces.js";
import { pluginTypes } from "../plugins/catalog.js";
import { etcdReady, socketAccepts, startRecordedProcess } from "./control.js";
import { describeProcess, spawnLabProcess, stopLabProcess, waitWhileRunning } from "./processes.js";
import {
  type LabProcess,
  type LabProcessRole,
  type LabState,
  labDir,
  labProcess,
  readLabState,
  readLabStateSync,
  withProcess,
  writeLabState,
} from "./state.js";
import {
  bgpAgentArgs,
  type LabPlan,
  type LabSpec,
  labPrefix,
  planLab,
  routerSpeakerArgs,
  underlayNs,
} from "./topology.js";

export type { LabPodState, LabState } from "./state.js";
export { labDir, readLabState } from "./state.js";

/** The embedded store's socket, in a directory of its own that only root can enter. */
export const labEmbeddedSocket = join(labDir, "datastore", "kv.sock");

export interface LabPaths {
  readonly root: string;
  readonly cliScript: string;
  readonly nodePath: string;
  readonly shimPath: string;
  readonly entryDir: string;
}

/** Lab processes (Node, etcd) can take a while to start on a busy 2-core machine. */
const waitFor = (cond: () => Promise<boolean>, what: string, signal?: AbortSignal) =>
  eventually(async () => signal?.aborted || (await cond()), what, { timeoutMs: 20_000 }).then(() =>
    signal?.throwIfAborted(),
  );

/** What `lab down` did with each recorded process. */
export interface LabDownReport {
  readonly ended: readonly string[];
  /** Recorded PIDs that now belong to another process (PID reuse, a stale state file): untouched. */
  readonly leftAlone: readonly { readonly what: string; readonly pid: number }[];
}

/**
 * Remove the lab: the recorded processes that are provably the lab's (start time and argv, see
 * process-identity.ts), then every `strata-lab-*` namespace with what runs inside (the lab's by
 * construction, also after a crash before anything was recorded), then /run/strata-lab.
 */
export async function labDown(kernel: Kernel): Promise<LabDownReport> {
  const ended: string[] = [];
  const leftAlone: { what: string; pid: number }[] = [];
  const state = await readLabState();
  for (const proc of state?.processes ?? []) {
    const outcome = await stopLabProcess(proc, { kill: true });
    if (outcome === "stopped") ended.push(describeProcess(proc));
    if (outcome === "not ours" && proc.running)
      leftAlone.push({ what: describeProcess(proc), pid: proc.running.pid });
  }
  await removeNamespaces(kernel, labPrefix);
  await rm(labDir, { recursive: true, force: true });
  return { ended, leftAlone };
}

export interface LabUpOptions {
  /** Aborted (SIGINT/SIGTERM): labUp stops at the next step and throws; the caller tears down. */
  readonly signal?: AbortSignal;
}

export async function labUp(
  kernel: Kernel,
  spec: LabSpec,
  paths: LabPaths,
  progress: <T>(label: string, fn: () => Promise<T>) => Promise<T>,
  opts: LabUpOptions = {},
): Promise<LabState> {
  const signal = opts.signal;
  // Every step first looks whether the user asked to stop (SIGINT/SIGTERM).
  const step = <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    signal?.throwIfAborted();
    return progress(label, fn);
  };
  const plan: LabPlan = planLab(spec);
  await step("removing an earlier lab", () => labDown(kernel));
  signal?.throwIfAborted();
  await mkdir(labDir, { recursive: true, mode: 0o755 });
  // The state file exists from here on and names every process the moment it is spawned, so a
  // `lab down` after an interrupted or crashed `up` ends exactly what was started.
  let state: LabState = {
    spec,
    complete: false,
    nodes: plan.nodes.map((n) => ({ name: n.name, ns: n.ns, ip: n.ip, subnet: "", podMtu: 0, pid: 0 })),
    pods: [],
    processes: [],
    agentDatastoreArgs: [],
  };
  const save = (next: LabState) => {
    state = next;
    writeLabState(state);
  };
  save(state);
  const start = (role: LabProcessRole, argv: string[], log: string, node?: string): LabProcess => {
    const proc = spawnLabProcess(role, argv, log, node);
    save(withProcess(state, proc));
    return proc;
  };
  const bin = join(labDir, "bin");
  await step("installing CNI plugins", () =>
    installCniPlugins({
      dir: bin,
      types: pluginTypes,
      shimPath: paths.shimPath,
      nodePath: paths.nodePath,
      entryDir: paths.entryDir,
    }),
  );
  await step(`building the ${spec.underlay} underlay and ${spec.nodes} node namespaces`, async () => {
    await kernel.netns.create(underlayNs);
    for (const n of plan.nodes) await kernel.netns.create(n.ns);
    for (const n of plan.nodes) await kernel.apply(namedNetns(n.ns), plan.nodeOps[n.name] ?? []);
    await kernel.apply(namedNetns(underlayNs), plan.underlayOps);
  });
  let agentDatastoreArgs: string[];
  if (spec.datastore === "embedded") {
    const socket = labEmbeddedSocket;
    await step("starting the embedded datastore", async () => {
      const store = start("datastore", embeddedDatastoreArgv(paths), join(labDir, "datastore.log"));
      await waitWhileRunning(store, () => socketAccepts(socket), "the datastore socket", {
        timeoutMs: 60_000,
        signal,
      });
    });
    agentDatastoreArgs = ["--datastore", `embedded:${socket}`];
  } else {
    // etcd serves https on the underlay namespace's address, reachable from every node (and pod),
    // and answers only clients with a certificate of the lab's CA: the agents have one, pods do not.
    const url = "https://192.168.10.1:2379";
    const pki = await step("making the lab's etcd CA and certificates", () =>
      makeEtcdPki(join(labDir, "pki"), { serverIps: ["192.168.10.1"] }),
    );
    save({ ...state, etcdPki: pki, etcdEndpoint: url });
    await step("starting etcd on the underlay (TLS, client certificates)", async () => {
      const argv = [
        "ip",
        "netns",
        "exec",
        underlayNs,
        "etcd",
        "--name",
        "lab",
        "--data-dir",
        join(labDir, "etcd"),
        "--listen-client-urls",
        url,
        "--advertise-client-urls",
        url,
        // One member: peer traffic stays on the etcd namespace's loopback, out of pods' reach.
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-cluster",
        "lab=http://127.0.0.1:2380",
        ...etcdServerTlsArgs(pki),
      ];
      const log = join(labDir, "etcd.log");
      const etcd = start("datastore", argv, log);
      await waitWhileRunning(etcd, () => etcdReady(log, 0), "etcd to serve", { timeoutMs: 60_000, signal });
    });
    agentDatastoreArgs = [
      ...["--datastore", `etcd:${url}`, "--etcd-ca", pki.ca],
      ...["--etcd-cert", pki.clientCert, "--etcd-key", pki.clientKey],
    ];
  }
  save({ ...state, agentDatastoreArgs });
  const backend = spec.model;
  // BGP sessions of the lab are signed (TCP-MD5) with a fresh key when the addon is built.
  const bgpKey = backend === "bgp" && tcpSecurityAvailable() ? join(labDir, "bgp-mesh.key") : undefined;
  if (bgpKey) await writeFile(bgpKey, `${randomBytes(24).toString("base64")}\n`, { mode: 0o600 });
  if (backend === "bgp" && spec.underlay === "l3") {
    await step("starting the router's BGP speaker (route reflector for every node)", async () => {
      start(
        "router",
        [
          "ip",
          "netns",
          "exec",
          underlayNs,
          paths.nodePath,
          paths.cliScript,
          "bgp-speaker",
          ...routerSpeakerArgs(plan.nodes, spec.clusterCidr, bgpKey),
        ],
        join(labDir, "router-bgp.log"),
      );
    });
  }
  await step(`starting ${spec.nodes} strata agents (${backend})`, async () => {
    const agents = new Map<string, LabProcess>();
    for (const n of plan.nodes) {
      signal?.throwIfAborted();
      const stateDir = join(labDir, n.name);
      await mkdir(stateDir, { recursive: true });
      const agent = start(
        "agent",
        [
          "ip",
          "netns",
          "exec",
          n.ns,
          paths.nodePath,
          paths.cliScript,
          "agent",
          "--node",
          n.name,
          "--backend",
          backend,
          "--cluster-cidr",
          spec.clusterCidr,
          ...agentDatastoreArgs,
          "--underlay-dev",
          "eth0",
          "--state-dir",
          stateDir,
          "--heartbeat-ttl",
          "10",
          "--cni-bin-dir",
          bin,
          ...(backend === "bgp" ? bgpAgentArgs(spec, n, bgpKey) : []),
        ],
        join(stateDir, "agent.log"),
        n.name,
      );
      agents.set(n.name, agent);
    }
    for (const node of plan.nodes) {
      const file = join(labDir, node.name, "subnet.json");
      const agent = agents.get(node.name) as LabProcess;
      // An agent waits out a datastore that is slow to answer; one that exits ends `up` at once.
      await waitWhileRunning(agent, async () => existsSync(file), `${node.name}'s subnet lease`, {
        timeoutMs: 60_000,
        signal,
      });
      const s = JSON.parse(await readFile(file, "utf8")) as { subnet: string; mtu: number };
      save({
        ...state,
        nodes: state.nodes.map((x) => (x.name === node.name ? { ...x, subnet: s.subnet, podMtu: s.mtu } : x)),
      });
    }
  });
  if (backend === "bgp") {
    await step("waiting for BGP: every node routes to every other node's pods", async () => {
      for (const node of state.nodes) {
        const others = state.nodes.filter((x) => x !== node).map((x) => x.subnet);
        await waitFor(
          async () => {
            const routes = await kernel.routes(namedNetns(node.ns), { family: 4 });
            return others.every((s) => routes.some((r) => r.dst === s && r.proto === strataRouteProto));
          },
          `${node.name}'s BGP routes`,
          signal,
        );
      }
    });
  }
  if (plan.pods.length > 0) {
    await step(`attaching ${plan.pods.length} pods through the CNI plugin`, async () => {
      for (const p of plan.pods) {
        signal?.throwIfAborted();
        await kernel.netns.create(p.ns);
        const list = JSON.parse(
          await readFile(join(labDir, p.node, "10-strata.conflist"), "utf8"),
        ) as ConfList;
        const node = plan.nodes.find((n) => n.name === p.node);
        const result = (await addNetworkList(
          list,
          {
            containerId: p.containerId,
            netns: `/run/netns/${p.ns}`,
            ifName: "eth0",
            args: { K8S_POD_NAME: p.name },
          },
          { cniPath: [bin, "/usr/lib/cni"], execPrefix: ["ip", "netns", "exec", node?.ns ?? ""] },
        )) as { ips: { address: string }[] };
        const pod = { name: p.name, ns: p.ns, node: p.node, ip: result.ips[0]?.address.split("/")[0] ?? "" };
        save({ ...state, pods: [...state.pods, pod] });
      }
    });
  }
  signal?.throwIfAborted();
  save({ ...state, complete: true });
  return state;
}

/** The embedded store's command line (recorded in the state file, so `datastore start` reuses it). */
function embeddedDatastoreArgv(paths: LabPaths): string[] {
  return [
    paths.nodePath,
    paths.cliScript,
    "datastore",
    "--socket",
    labEmbeddedSocket,
    "--dir",
    join(labDir, "datastore", "log"),
  ];
}

/** Kill the lab's datastore (an outage); returns a function that starts it again. */
export function stopDatastore(state: LabState): () => Promise<number> {
  const proc = labProcess(state, "datastore");
  const stopped = proc ? stopLabProcess(proc, { kill: true }) : Promise.resolve("not running");
  return async () => {
    await stopped;
    const current = readLabStateSync() ?? state;
    const started = await startRecordedProcess(current, "datastore");
    return started.running?.pid ?? -1;
  };
}

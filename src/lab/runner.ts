import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { askHost } from "../agent-host/host-control.js";
import { tcpSecurityAvailable } from "../bgp/speaker/tcp-security.js";
import { installCniPlugins } from "../cni/install.js";
import { addNetworkList, type ConfList } from "../cni/runtime-client.js";
import { describeError, StrataError } from "../common/errors.js";
import { eventually } from "../common/eventually.js";
import { inWindow } from "../common/in-window.js";
import { etcdServerTlsArgs, makeEtcdPki } from "../datastore/etcd/pki.js";
import { type Kernel, type KernelOp, namedNetns, netnsRunDir } from "../kernel/api.js";
import { observeRoutes } from "../kernel/desired/observe.js";
import { strataRouteProto } from "../kernel/desired/route-proto.js";
import { removeNamespaces } from "../kernel/remove-namespaces.js";
import { networksAnnotation } from "../netattach/annotation.js";
import { pluginTypes } from "../plugins/catalog.js";
import { openFilesLimit } from "../process/open-files-limit.js";
import {
  agentArgv,
  agentEntryArgv,
  datastoreArgv,
  type LabAgentDatastore,
  type LabAgentEntry,
  labAgentNodeFlags,
} from "./agent-argv.js";
import {
  agentsPerProcess,
  controlOf,
  type HostPlan,
  hostedAgentStatus,
  hostFiles,
  planAgentHosts,
  writeHostSpec,
} from "./agent-hosts.js";
import { agentStartWindow } from "./agent-waves.js";
import { removeLabBpfPins } from "./bpf-pins.js";
import { etcdReady, socketAccepts, startRecordedProcess } from "./control.js";
import { labAgentClusterCidr, labRouteFamilies } from "./ip-family.js";
import { type PluginSpawn, pluginSpawner } from "./plugin-spawner.js";
import { podStateWriteDue } from "./pod-saves.js";
import { describeProcess, spawnLabProcess, stopLabProcess, waitWhileRunning } from "./processes.js";
import {
  labPodNamespace,
  multiConfList,
  multiConfListPath,
  planSecondaryNetworks,
  type SecondaryNetwork,
  secondaryNad,
} from "./secondary-networks.js";
import {
  type LabPodState,
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
  bgpAgentOptions,
  type LabPlan,
  type LabSpec,
  labPrefix,
  planLab,
  routerSpeakerArgs,
  underlayNs,
} from "./topology.js";
import { labSwitchMac } from "./underlay-macs.js";
import { underlayNeighbourOps } from "./underlay-neighbours.js";

export type { LabPodState, LabState } from "./state.js";
export { labDir, readLabState } from "./state.js";

/** Debian's reference CNI plugins (containernetworking-plugins). */
const referencePluginDir = "/usr/lib/cni";

/** The embedded store's socket, in a directory of its own that only root can enter. */
export const labEmbeddedSocket = join(labDir, "datastore", "kv.sock");

export interface LabPaths {
  readonly root: string;
  readonly cliScript: string;
  /** What agents run (agent-argv.ts); absent: `cliScript`. */
  readonly agentEntry?: LabAgentEntry;
  readonly nodePath: string;
  readonly shimPath: string;
  readonly entryDir: string;
  /**
   * The spawn helper (src/shim/spawn-helper.c): pods' CNI plugins start from it inside their
   * node, not as `ip netns exec` children of this process; absent: `ip netns exec`.
   */
  readonly spawnHelperPath?: string;
}

/** Lab processes (Node, etcd) can take a while to start on a busy 2-core machine. */
const waitForWithin = (timeoutMs: number, cond: () => Promise<boolean>, what: string, signal?: AbortSignal) =>
  eventually(async () => signal?.aborted || (await cond()), what, { timeoutMs }).then(() =>
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
  await removeLabBpfPins(labPrefix);
  await removeNamespaces(kernel, labPrefix);
  await rm(labDir, { recursive: true, force: true });
  return { ended, leftAlone };
}

export interface LabUpOptions {
  /** Aborted (SIGINT/SIGTERM): labUp stops at the next step and throws; the caller tears down. */
  readonly signal?: AbortSignal;
  /** How long one agent has from its start to lease its subnet (default 60 s). */
  readonly leaseTimeoutMs?: number;
  /** Agents starting at once (default: agentStartWindow of the CPU count); the bench varies it. */
  readonly startWindow?: number;
}

/** `lab up` failed: what timed out or exited and why, in one line; everything it built is gone. */
export class LabUpError extends StrataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("lab.up", message, options);
  }
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
  await step("removing an earlier lab", () => labDown(kernel));
  signal?.throwIfAborted();
  try {
    const up = await startLabState(kernel, spec, paths, step, signal);
    await installPlugins(up);
    await buildNamespacesAndUnderlay(up);
    const datastore = await startDatastore(up);
    const bgpKey = await writeBgpKey(up);
    await startRouterSpeaker(up, bgpKey);
    const window = opts.startWindow ?? agentStartWindow(availableParallelism());
    await startAgents(up, datastore, bgpKey, { window, leaseTimeoutMs: opts.leaseTimeoutMs ?? 60_000 });
    await waitForRoutes(up);
    await attachPods(up);
    signal?.throwIfAborted();
    up.save({ ...up.state, complete: true });
    return up.state;
  } catch (err) {
    // Interrupted: the caller removes the lab (and says so). Failed: nothing stays behind, at any
    // size: the processes started so far, the namespaces, /run/strata-lab.
    if (signal?.aborted) throw err;
    await labDown(kernel);
    const why = describeError(err).replace(/\s*\n\s*/g, " / ");
    throw new LabUpError(`lab up failed: ${why}; removed everything it had built`, {
      cause: err,
    });
  }
}

/** What every step of `lab up` works with: the plan, the recorded state and how to start a process. */
interface LabUp {
  readonly kernel: Kernel;
  readonly spec: LabSpec;
  readonly plan: LabPlan;
  readonly paths: LabPaths;
  readonly signal: AbortSignal | undefined;
  /** Where the CNI plugins are installed for the agents and the pods. */
  readonly bin: string;
  readonly step: <T>(label: string, fn: () => Promise<T>) => Promise<T>;
  /** The state as last saved. */
  readonly state: LabState;
  save(next: LabState): void;
  /** Spawn a lab process and record it in the state file at once. */
  start(role: LabProcessRole, argv: string[], log: string, node?: string): LabProcess;
}

/**
 * The state file exists from here on and names every process the moment it is spawned, so a
 * `lab down` after an interrupted or crashed `up` ends exactly what was started.
 */
async function startLabState(
  kernel: Kernel,
  spec: LabSpec,
  paths: LabPaths,
  step: LabUp["step"],
  signal: AbortSignal | undefined,
): Promise<LabUp> {
  const plan = planLab(spec);
  await mkdir(labDir, { recursive: true, mode: 0o755 });
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
  return {
    kernel,
    spec,
    plan,
    paths,
    signal,
    bin: join(labDir, "bin"),
    step,
    get state() {
      return state;
    },
    save,
    start(role, argv, log, node) {
      const proc = spawnLabProcess(role, argv, log, node);
      save(withProcess(state, proc));
      return proc;
    },
  };
}

async function installPlugins(up: LabUp): Promise<void> {
  await up.step("installing CNI plugins", () =>
    installCniPlugins({
      dir: up.bin,
      types: pluginTypes,
      shimPath: up.paths.shimPath,
      nodePath: up.paths.nodePath,
      entryDir: up.paths.entryDir,
    }),
  );
}

function buildNamespacesAndUnderlay({ kernel, spec, plan, step }: LabUp): Promise<void> {
  return step(`building the ${spec.underlay} underlay and ${spec.nodes} node namespaces`, async () => {
    await kernel.netns.create(underlayNs);
    for (const n of plan.nodes) await kernel.netns.create(n.ns);
    for (const n of plan.nodes) await kernel.apply(namedNetns(n.ns), plan.nodeOps[n.name] ?? []);
    await kernel.apply(namedNetns(underlayNs), plan.underlayOps);
    await addUnderlayNeighbours(kernel, plan);
    for (const o of plan.offloads) await applyOffloads(kernel, o.ns, o.ops);
  });
}

/** The plan's offload settings in one namespace; a failure says where (the error's kind kept as its cause). */
async function applyOffloads(kernel: Kernel, ns: string, ops: readonly KernelOp[]): Promise<void> {
  try {
    await kernel.apply(namedNetns(ns), ops);
  } catch (err) {
    throw new StrataError("lab.underlay", `offload settings in ${ns}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Static ARP on the underlay (underlay-neighbours.ts: the machine-wide ARP limit), from the plan's MACs. */
async function addUnderlayNeighbours(kernel: Kernel, plan: LabPlan): Promise<void> {
  const uplinkMac = new Map(plan.nodes.map((n) => [n.name, n.mac]));
  const switchMac = new Map((["a", "b"] as const).map((s) => [s, labSwitchMac(s)]));
  for (const [ns, ops] of underlayNeighbourOps(plan.nodes, uplinkMac, switchMac, underlayNs))
    await kernel.apply(namedNetns(ns), ops);
}

/** The embedded store on a UNIX socket, or etcd on the underlay; returns how agents reach it. */
async function startDatastore(up: LabUp): Promise<LabAgentDatastore> {
  const datastore = up.spec.datastore === "embedded" ? await startEmbeddedStore(up) : await startEtcd(up);
  up.save({ ...up.state, agentDatastoreArgs: datastoreArgv(datastore) });
  return datastore;
}

async function startEmbeddedStore(up: LabUp): Promise<LabAgentDatastore> {
  const socket = labEmbeddedSocket;
  await up.step("starting the embedded datastore", async () => {
    const store = up.start("datastore", embeddedDatastoreArgv(up.paths), join(labDir, "datastore.log"));
    await waitWhileRunning(store, () => socketAccepts(socket), "the datastore socket", {
      timeoutMs: 60_000,
      signal: up.signal,
    });
  });
  return { kind: "embedded", socket };
}

/**
 * etcd serves https on the underlay namespace's address, reachable from every node (and pod), and
 * answers only clients with a certificate of the lab's CA: the agents have one, pods do not.
 */
async function startEtcd(up: LabUp): Promise<LabAgentDatastore> {
  const url = "https://192.168.10.1:2379";
  const pki = await up.step("making the lab's etcd CA and certificates", () =>
    makeEtcdPki(join(labDir, "pki"), { serverIps: ["192.168.10.1"] }),
  );
  up.save({ ...up.state, etcdPki: pki, etcdEndpoint: url });
  await up.step("starting etcd on the underlay (TLS, client certificates)", async () => {
    const argv = [
      ...["ip", "netns", "exec", underlayNs, "etcd", "--name", "lab", "--data-dir", join(labDir, "etcd")],
      ...["--listen-client-urls", url, "--advertise-client-urls", url],
      // One member: peer traffic stays on the etcd namespace's loopback, out of pods' reach.
      ...["--listen-peer-urls", "http://127.0.0.1:2380"],
      ...["--initial-advertise-peer-urls", "http://127.0.0.1:2380"],
      ...["--initial-cluster", "lab=http://127.0.0.1:2380"],
      ...etcdServerTlsArgs(pki),
    ];
    const log = join(labDir, "etcd.log");
    const etcd = up.start("datastore", argv, log);
    await waitWhileRunning(etcd, () => etcdReady(log, 0), "etcd to serve", {
      timeoutMs: 60_000,
      signal: up.signal,
    });
  });
  return { kind: "etcd", url, ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
}

/** BGP sessions of the lab are signed (TCP-MD5) with a fresh key when the addon is built. */
async function writeBgpKey({ spec }: LabUp): Promise<string | undefined> {
  if (spec.model !== "bgp" || !tcpSecurityAvailable()) return undefined;
  const file = join(labDir, "bgp-mesh.key");
  await writeFile(file, `${randomBytes(24).toString("base64")}\n`, { mode: 0o600 });
  return file;
}

/** bgp on l3: the router namespace reflects for every node (the top-of-rack design). */
async function startRouterSpeaker(up: LabUp, bgpKey: string | undefined): Promise<void> {
  if (up.spec.model !== "bgp" || up.spec.underlay !== "l3") return;
  await up.step("starting the router's BGP speaker (route reflector for every node)", async () => {
    const flags = routerSpeakerArgs(up.plan.nodes, labAgentClusterCidr(up.spec), bgpKey);
    up.start(
      "router",
      ["ip", "netns", "exec", underlayNs, up.paths.nodePath, up.paths.cliScript, "bgp-speaker", ...flags],
      join(labDir, "router-bgp.log"),
    );
  });
}

/** Pure: does every node of this lab get one proto-147 route per other node's pod subnet? */
export function routesToEveryPeer(spec: Pick<LabSpec, "model" | "underlay">): boolean {
  if (spec.model === "host-gw") return spec.underlay === "l2";
  return spec.model === "bgp" || spec.model === "vxlan" || spec.model === "vxlan-crosssubnet";
}

/**
 * One agent per node, started in a window sized to the CPU (agent-waves.ts): the next starts when
 * one has leased its subnet (recorded in the state). Each has `leaseTimeoutMs` from its own start.
 * Past a handful of nodes the agents share processes (agent-hosts.ts): the hosts start first, then
 * each agent is started inside its host by a request on the host's control socket, in the same window.
 */
function startAgents(
  up: LabUp,
  datastore: LabAgentDatastore,
  bgpKey: string | undefined,
  { window, leaseTimeoutMs }: { window: number; leaseTimeoutMs: number },
): Promise<void> {
  const { spec, plan, paths } = up;
  const perProcess = agentsPerProcess(spec, spec.agentsPerProcess, availableParallelism(), openFilesLimit());
  const hostPlan = planAgentHosts(
    plan.nodes.map((n) => n.name),
    perProcess,
  );
  const shared = hostPlan.length > 0 ? `, ${perProcess} per process in ${hostPlan.length} agent hosts` : "";
  return up.step(
    `starting ${spec.nodes} strata agents (${spec.model}, ${window} at a time${shared})`,
    async () => {
      const args = new Map<string, string[]>();
      for (const n of plan.nodes) {
        await mkdir(join(labDir, n.name), { recursive: true });
        args.set(
          n.name,
          agentArgv({
            node: n.name,
            backend: spec.model,
            clusterCidr: labAgentClusterCidr(spec),
            datastore,
            underlayDev: "eth0",
            stateDir: join(labDir, n.name),
            heartbeatTtlSeconds: 10,
            // --attach: Strata's macvlan is served from up.bin; Debian's reference plugins are on the
            // agent's path too, for --attach-plugin macvlan (or any other type the meta plugin calls).
            cniBinDir: spec.attach?.length ? `${up.bin}:${referencePluginDir}` : up.bin,
            ...(spec.podAttachment ? { podAttachment: spec.podAttachment } : {}),
            ...(spec.model === "bgp" ? { bgp: bgpAgentOptions(spec, n, bgpKey) } : {}),
            // A lab node does a node's work for a handful of pods: 2 helpers, not 8 (× 200 nodes).
            spawnHelpers: 2,
          }),
        );
      }
      const hostOf = await startAgentHosts(up, hostPlan, args);
      await inWindow(plan.nodes, window, async (n) => {
        up.signal?.throwIfAborted();
        const stateDir = join(labDir, n.name);
        const argv = args.get(n.name) ?? [];
        const log = join(stateDir, "agent.log");
        const host = hostOf.get(n.name);
        let agent: LabProcess;
        if (host) {
          await askHost(controlOf(host), { op: "start", node: n.name });
          agent = {
            role: "agent",
            node: n.name,
            host: host.host,
            argv: host.argv,
            log,
            ...(host.running ? { running: host.running } : {}),
          };
          up.save(withProcess(up.state, agent));
        } else {
          // nsenter, not `ip netns exec`: the agent keeps the host's mount namespace and so its
          // /sys/fs/bpf, where the tc-BPF tunnel datapath pins what must outlive an agent restart
          // (`ip netns exec` mounts a private /sys, whose bpffs would die with the agent).
          const cmd = [
            ...["nsenter", `--net=/run/netns/${n.ns}`, paths.nodePath, ...labAgentNodeFlags],
            ...agentEntryArgv(paths.agentEntry ?? { kind: "cli", script: paths.cliScript }),
            ...argv,
          ];
          agent = up.start("agent", cmd, log, n.name);
        }
        const file = join(stateDir, "subnet.json");
        // An agent waits out a datastore that is slow to answer; one that exits ends `up` at once.
        let failed: string | undefined;
        await waitWhileRunning(
          agent,
          async () => {
            if (existsSync(file)) return true;
            if (!host) return false;
            const st = await hostedAgentStatus(host, n.name);
            failed = st?.phase === "failed" ? (st.error ?? "failed") : undefined;
            return failed !== undefined;
          },
          `${n.name}'s subnet lease`,
          { timeoutMs: leaseTimeoutMs, signal: up.signal },
        );
        if (failed !== undefined)
          throw new StrataError(
            "exited",
            `${describeProcess(agent)} failed before its subnet lease: ${failed}`,
          );
        const s = JSON.parse(await readFile(file, "utf8")) as {
          subnet: string;
          subnet6?: string;
          mtu: number;
        };
        const leased = { subnet: s.subnet, podMtu: s.mtu, ...(s.subnet6 ? { subnet6: s.subnet6 } : {}) };
        up.save({
          ...up.state,
          nodes: up.state.nodes.map((x) => (x.name === n.name ? { ...x, ...leased } : x)),
        });
      });
    },
  );
}

/**
 * Start the agent hosts (none when every agent has its own process), each serving its control
 * socket before this returns; its agents are not started yet. Returns each hosted node's host.
 */
async function startAgentHosts(
  up: LabUp,
  hostPlan: readonly HostPlan[],
  args: ReadonlyMap<string, readonly string[]>,
): Promise<Map<string, LabProcess>> {
  const hostOf = new Map<string, LabProcess>();
  for (const h of hostPlan) {
    const agents = h.nodes.map((name) => ({
      node: name,
      netns: up.plan.nodes.find((n) => n.name === name)?.ns ?? "",
      // agentArgv's first word is the command ("agent"); the host runs the agent itself.
      args: (args.get(name) ?? []).slice(1),
      log: join(labDir, name, "agent.log"),
    }));
    const files = hostFiles(h.id);
    const spec = await writeHostSpec(h.id, { agents });
    const argv = [
      up.paths.nodePath,
      up.paths.cliScript,
      ...["agent-host", "--spec", spec, "--control", files.control],
    ];
    const proc: LabProcess = { ...spawnLabProcess("agent-host", argv, files.log), host: h.id };
    up.save(withProcess(up.state, proc));
    for (const node of h.nodes) hostOf.set(node, proc);
  }
  for (const proc of new Set(hostOf.values()))
    await waitWhileRunning(proc, () => socketAccepts(controlOf(proc)), `${describeProcess(proc)} to serve`, {
      timeoutMs: 60_000,
      signal: up.signal,
    });
  return hostOf;
}

/**
 * Wait until every node routes (proto 147) to every other node's pod subnet: at scale the last
 * agents lease while the first are still adding their peers, and a check run then fails on routes
 * that are merely late. Models whose per-peer routes this lab knows: bgp, vxlan, host-gw on l2.
 */
async function waitForRoutes(up: LabUp): Promise<void> {
  const { kernel, spec, step, signal } = up;
  if (!routesToEveryPeer(spec)) return;
  const how = spec.model === "bgp" ? "BGP" : spec.model;
  await step(`waiting for ${how}: every node routes to every other node's pods`, async () => {
    const nodes = up.state.nodes;
    // A full mesh of n nodes opens n(n−1)/2 sessions: more nodes, more time for the last node. At
    // 100 nodes on 2 shared cores the mesh's last routes came ~95 s after the last lease, with every
    // session up and the routes learned, the kernel behind (bench/README.md): 1 s a node for it.
    const mesh = spec.model === "bgp" && spec.underlay === "l2" && !(spec.routeReflectors ?? 0);
    const timeoutMs = 20_000 + (mesh ? 1_000 : 250) * nodes.length;
    for (const node of nodes) {
      const others = nodes.filter((x) => x !== node);
      let missing: string[] = [];
      await waitForWithin(
        timeoutMs,
        async () => {
          const routes = await observeRoutes(kernel, namedNetns(node.ns), labRouteFamilies(node));
          const have = new Set(routes.filter((r) => r.proto === strataRouteProto).map((r) => r.dst));
          missing = others
            .filter((o) => !have.has(o.subnet) || (node.subnet6 && o.subnet6 && !have.has(o.subnet6)))
            .map((o) => o.name);
          return missing.length === 0;
        },
        `${node.name}'s routes to every other node's pods`,
        signal,
      ).catch((err) => {
        if (signal?.aborted) throw err;
        const some = missing.slice(0, 5).join(", ") + (missing.length > 5 ? ", …" : "");
        throw new StrataError(
          "timeout",
          `timed out after ${timeoutMs / 1000} s waiting for ${node.name}'s routes: none yet to the pods of ${missing.length} of ${others.length} nodes (${some})`,
        );
      });
    }
  });
}

/** Each pod: a namespace attached through the installed CNI plugin, as a runtime would call it. */
async function attachPods(up: LabUp): Promise<void> {
  const { plan } = up;
  if (plan.pods.length === 0) return;
  const secondary = planSecondaryNetworks(up.spec.attach ?? []);
  if (secondary.length > 0) await createSecondaryNetworks(up, secondary);
  const how =
    secondary.length > 0 ? `strata-multi (+ ${secondary.map((n) => n.name).join(", ")})` : "the CNI plugin";
  await up.step(`attaching ${plan.pods.length} pods through ${how}`, async () => {
    // Pods are attached as a runtime would, several at once (kubelets on many nodes do): one after
    // another, 400 pods took 39 s.
    const attached: LabPodState[] = [];
    const plugins = pluginSpawner(up.paths, podWindow);
    try {
      await inWindow(plan.pods, podWindow, async (p) => {
        up.signal?.throwIfAborted();
        attached.push(await attachPod(up, p, secondary, plugins.spawn));
        // Recorded in batches (pod-saves.ts): a failed up removes every pod by its namespace anyway.
        if (podStateWriteDue(attached.length, plan.pods.length))
          up.save({ ...up.state, pods: [...attached] });
      });
    } finally {
      plugins.close();
    }
    // In the plan's order, whichever finished first.
    const order = new Map(plan.pods.map((p, i) => [p.name, i]));
    up.save({
      ...up.state,
      pods: [...attached].sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0)),
    });
  });
}

/** One pod: its namespace (made in-process by the rtnetlink driver), then ADD through the plugin. */
async function attachPod(
  up: LabUp,
  p: LabPlan["pods"][number],
  secondary: readonly SecondaryNetwork[],
  spawn: PluginSpawn | undefined,
): Promise<LabPodState> {
  const { kernel, plan } = up;
  await kernel.netns.create(p.ns);
  const node = plan.nodes.find((n) => n.name === p.node);
  const strataList = JSON.parse(
    await readFile(join(labDir, p.node, "10-strata.conflist"), "utf8"),
  ) as ConfList;
  let list = strataList;
  if (secondary.length > 0) {
    list = multiConfList(p.node, strataList.cniVersion, up.state.agentDatastoreArgs);
    await writeFile(multiConfListPath(p.node), JSON.stringify(list, null, 2));
    await labCli(up, node?.ns ?? "", [
      ...["pod", "annotate", `${labPodNamespace}/${p.name}`],
      `${networksAnnotation}=${secondary.map((n) => n.name).join(",")}`,
    ]);
  }
  const nodeNs = node?.ns ?? "";
  const result = (await addNetworkList(
    list,
    {
      containerId: p.containerId,
      netns: `/run/netns/${p.ns}`,
      ifName: "eth0",
      args: { K8S_POD_NAMESPACE: labPodNamespace, K8S_POD_NAME: p.name },
    },
    {
      cniPath: [up.bin, referencePluginDir],
      ...(spawn
        ? { spawn: (argv, o) => spawn(argv, { ...o, netns: `${netnsRunDir}/${nodeNs}` }) }
        : { execPrefix: ["ip", "netns", "exec", nodeNs] }),
    },
  )) as { ips: { address: string }[] };
  const ip6 = result.ips.find((x) => x.address.includes(":"))?.address.split("/")[0];
  const addresses = [];
  for (const n of secondary) {
    const a = (await kernel.addresses(namedNetns(p.ns), n.ifName)).find((x) => x.family === 4);
    addresses.push({ network: n.name, ifName: n.ifName, ip: a?.cidr.split("/")[0] ?? "" });
  }
  return {
    name: p.name,
    ns: p.ns,
    node: p.node,
    ip: result.ips.find((x) => !x.address.includes(":"))?.address.split("/")[0] ?? "",
    ...(ip6 ? { ip6 } : {}),
    ...(addresses.length > 0 ? { secondary: addresses } : {}),
  };
}

/** CNI ADDs in flight at once while the lab attaches its pods. */
const podWindow = 8;

/**
 * `--attach`: one NetworkAttachmentDefinition per name, applied with `strata net-attach-def apply`
 * from the first node (etcd listens on the underlay, so the lab's own namespace cannot reach it).
 */
async function createSecondaryNetworks(up: LabUp, nets: readonly SecondaryNetwork[]): Promise<void> {
  const plugin = up.spec.attachPlugin ?? "strata-macvlan";
  await up.step(
    `creating ${nets.length} NetworkAttachmentDefinitions (${plugin} over the underlay)`,
    async () => {
      const file = join(labDir, "attach-nads.json");
      const nads = nets.map((n) => secondaryNad(n, plugin, up.state.agentDatastoreArgs));
      await writeFile(file, JSON.stringify(nads, null, 2));
      await labCli(up, up.plan.nodes[0]?.ns ?? "", ["net-attach-def", "apply", "-f", file]);
    },
  );
}

/** Run `strata …` inside a node, against the lab's datastore (the agents' flags). */
async function labCli(up: LabUp, ns: string, argv: readonly string[]): Promise<void> {
  const r = await up.kernel.exec(namedNetns(ns), [
    up.paths.nodePath,
    up.paths.cliScript,
    ...argv,
    ...up.state.agentDatastoreArgs,
  ]);
  if (r.code !== 0)
    throw new StrataError(
      "lab.attach",
      `strata ${argv.slice(0, 2).join(" ")} in ${ns}: ${r.stderr.trim() || r.stdout.trim()}`,
    );
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

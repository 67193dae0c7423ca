import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { strataRouteProto } from "../agent/reconcile-plan.js";
import { tcpSecurityAvailable } from "../bgp/speaker/tcp-security.js";
import { installCniPlugins } from "../cni/install.js";
import { addNetworkList, type ConfList } from "../cni/runtime-client.js";
import { eventually } from "../common/eventually.js";
import { type EtcdPki, makeEtcdPki } from "../datastore/etcd/pki.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import { removeNamespaces } from "../kernel/remove-namespaces.js";
import { pluginTypes } from "../plugins/catalog.js";
import {
  bgpAgentArgs,
  type LabPlan,
  type LabSpec,
  labPrefix,
  planLab,
  routerSpeakerArgs,
  underlayNs,
} from "./topology.js";

/** Everything the lab writes lives here (removed by `lab down`). */
export const labDir = "/run/strata-lab";
/** The embedded store's socket, in a directory of its own that only root can enter. */
export const labEmbeddedSocket = join(labDir, "datastore", "kv.sock");

export interface LabPaths {
  readonly root: string;
  readonly cliScript: string;
  readonly nodePath: string;
  readonly shimPath: string;
  readonly entryDir: string;
}

export interface LabPodState {
  readonly name: string;
  readonly ns: string;
  readonly node: string;
  readonly ip: string;
}

export interface LabState {
  readonly spec: LabSpec;
  readonly nodes: { name: string; ns: string; ip: string; subnet: string; podMtu: number; pid: number }[];
  readonly pods: LabPodState[];
  readonly datastorePid?: number;
  /** How the datastore was started, so it can be restarted (outage tests). */
  readonly datastoreArgv?: string[];
  /** The agent flags that reach the datastore (--datastore and, for etcd, the TLS files). */
  readonly agentDatastoreArgs: string[];
  /** etcd mode: the lab's CA, etcd's and the agents' certificates (root-only, in the lab dir). */
  readonly etcdPki?: EtcdPki;
  readonly etcdEndpoint?: string;
  /** bgp on l3: the router's speaker. */
  readonly routerPid?: number;
}

/** Lab processes (Node, etcd) can take a while to start on a busy 2-core machine. */
const waitFor = (cond: () => Promise<boolean>, what: string) => eventually(cond, what, { timeoutMs: 20_000 });

/** Start a long-running process detached from this command, output to a log file. */
function daemon(argv: string[], log: string): number {
  const out = openSync(log, "a");
  const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ["ignore", out, out] });
  child.unref();
  return child.pid ?? -1;
}

export async function labDown(kernel: Kernel): Promise<void> {
  try {
    const state = JSON.parse(await readFile(join(labDir, "state.json"), "utf8")) as LabState;
    for (const pid of [...state.nodes.map((n) => n.pid), state.datastorePid, state.routerPid]) {
      if (pid && pid > 0) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  } catch {
    // no state (crashed mid-way): fall through to removing by name
  }
  // Processes started by a lab that crashed before writing state run inside lab namespaces.
  await removeNamespaces(kernel, labPrefix);
  await rm(labDir, { recursive: true, force: true });
}

export async function labUp(
  kernel: Kernel,
  spec: LabSpec,
  paths: LabPaths,
  step: <T>(label: string, fn: () => Promise<T>) => Promise<T>,
): Promise<LabState> {
  const plan: LabPlan = planLab(spec);
  await step("removing an earlier lab", () => labDown(kernel));
  await mkdir(labDir, { recursive: true });
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
  let datastorePid: number | undefined;
  let datastoreArgv: string[] = [];
  let agentDatastoreArgs: string[];
  let etcdPki: EtcdPki | undefined;
  let etcdEndpoint: string | undefined;
  if (spec.datastore === "embedded") {
    const socket = labEmbeddedSocket;
    datastorePid = await step("starting the embedded datastore", async () => {
      datastoreArgv = [
        paths.nodePath,
        paths.cliScript,
        "datastore",
        "--socket",
        socket,
        "--dir",
        join(labDir, "datastore", "log"),
      ];
      const pid = daemon(datastoreArgv, join(labDir, "datastore.log"));
      await waitFor(async () => existsSync(socket), "the datastore socket");
      return pid;
    });
    agentDatastoreArgs = ["--datastore", `embedded:${socket}`];
  } else {
    // etcd serves https on the underlay namespace's address, reachable from every node (and pod),
    // and answers only clients with a certificate of the lab's CA: the agents have one, pods do not.
    const url = "https://192.168.10.1:2379";
    const pki = await step("making the lab's etcd CA and certificates", () =>
      makeEtcdPki(join(labDir, "pki"), { serverIps: ["192.168.10.1"] }),
    );
    etcdPki = pki;
    etcdEndpoint = url;
    datastorePid = await step("starting etcd on the underlay (TLS, client certificates)", async () => {
      datastoreArgv = [
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
        "--client-cert-auth",
        "--trusted-ca-file",
        pki.ca,
        "--cert-file",
        pki.serverCert,
        "--key-file",
        pki.serverKey,
      ];
      const pid = daemon(datastoreArgv, join(labDir, "etcd.log"));
      await waitFor(
        async () =>
          (await readFile(join(labDir, "etcd.log"), "utf8").catch(() => "")).includes(
            "ready to serve client requests",
          ),
        "etcd",
      );
      return pid;
    });
    agentDatastoreArgs = [
      ...["--datastore", `etcd:${url}`, "--etcd-ca", pki.ca],
      ...["--etcd-cert", pki.clientCert, "--etcd-key", pki.clientKey],
    ];
  }
  const backend = spec.model;
  // BGP sessions of the lab are signed (TCP-MD5) with a fresh key when the addon is built.
  const bgpKey = backend === "bgp" && tcpSecurityAvailable() ? join(labDir, "bgp-mesh.key") : undefined;
  if (bgpKey) await writeFile(bgpKey, `${randomBytes(24).toString("base64")}\n`, { mode: 0o600 });
  let routerPid: number | undefined;
  if (backend === "bgp" && spec.underlay === "l3") {
    routerPid = await step("starting the router's BGP speaker (route reflector for every node)", async () =>
      daemon(
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
      ),
    );
  }
  const nodes: LabState["nodes"] = [];
  await step(`starting ${spec.nodes} strata agents (${backend})`, async () => {
    for (const n of plan.nodes) {
      const stateDir = join(labDir, n.name);
      await mkdir(stateDir, { recursive: true });
      const pid = daemon(
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
      );
      nodes.push({ name: n.name, ns: n.ns, ip: n.ip, subnet: "", podMtu: 0, pid });
    }
    for (const node of nodes) {
      const file = join(labDir, node.name, "subnet.json");
      await waitFor(async () => existsSync(file), `${node.name}'s subnet lease`);
      const s = JSON.parse(await readFile(file, "utf8")) as { subnet: string; mtu: number };
      node.subnet = s.subnet;
      node.podMtu = s.mtu;
    }
  });
  if (backend === "bgp") {
    await step("waiting for BGP: every node routes to every other node's pods", async () => {
      for (const node of nodes) {
        const others = nodes.filter((x) => x !== node).map((x) => x.subnet);
        await waitFor(async () => {
          const routes = await kernel.routes(namedNetns(node.ns), { family: 4 });
          return others.every((s) => routes.some((r) => r.dst === s && r.proto === strataRouteProto));
        }, `${node.name}'s BGP routes`);
      }
    });
  }
  const pods: LabPodState[] = [];
  if (plan.pods.length > 0) {
    await step(`attaching ${plan.pods.length} pods through the CNI plugin`, async () => {
      for (const p of plan.pods) {
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
        pods.push({ name: p.name, ns: p.ns, node: p.node, ip: result.ips[0]?.address.split("/")[0] ?? "" });
      }
    });
  }
  const state: LabState = {
    spec,
    nodes,
    pods,
    datastorePid,
    datastoreArgv,
    agentDatastoreArgs,
    ...(etcdPki ? { etcdPki, etcdEndpoint } : {}),
    routerPid,
  };
  await writeFile(join(labDir, "state.json"), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

/** Kill the lab's datastore (an outage); returns a function that starts it again. */
export function stopDatastore(state: LabState): () => Promise<number> {
  if (state.datastorePid) process.kill(state.datastorePid, "SIGKILL");
  return async () => {
    const log = join(labDir, state.spec.datastore === "etcd" ? "etcd.log" : "datastore.log");
    const pid = daemon(state.datastoreArgv ?? [], log);
    // Recorded, so `lab down` ends the new process too (the embedded store runs outside the
    // lab's namespaces, where removing them would not reach it).
    await writeFile(
      join(labDir, "state.json"),
      `${JSON.stringify({ ...state, datastorePid: pid }, null, 2)}\n`,
    );
    return pid;
  };
}

export async function readLabState(): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(join(labDir, "state.json"), "utf8")) as LabState;
  } catch {
    return undefined;
  }
}

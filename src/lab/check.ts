import { type Kernel, namedNetns } from "../kernel/api.js";
import { checkUnderlayEncrypted } from "./encryption-check.js";
import type { LabState } from "./runner.js";
import { checkSourceGuard } from "./source-guard-check.js";
import { outsideIp } from "./topology.js";

export interface CheckResult {
  readonly kind:
    | "same node"
    | "cross node"
    | "pod→node"
    | "pod→outside (masquerade)"
    | "MTU (DF, full size)"
    | "datastore refuses pods"
    | "datastore refuses non-root"
    | "spoofed source dropped"
    | "encrypted on the underlay"
    | "secondary network";
  readonly from: string;
  readonly to: string;
  readonly ok: boolean;
}

/** Pure: which probes make up the connectivity matrix of a lab. */
export function planChecks(
  state: LabState,
): { kind: CheckResult["kind"]; fromNs: string; from: string; to: string; size?: number }[] {
  const probes: { kind: CheckResult["kind"]; fromNs: string; from: string; to: string; size?: number }[] = [];
  const firstOf = (node: string) => state.pods.find((p) => p.node === node);
  for (const n of state.nodes) {
    const mine = state.pods.filter((p) => p.node === n.name);
    const a = mine[0];
    if (!a) continue;
    if (mine[1]) probes.push({ kind: "same node", fromNs: a.ns, from: a.name, to: mine[1].ip });
    for (const other of state.nodes) {
      if (other.name === n.name) continue;
      const b = firstOf(other.name);
      if (b) {
        probes.push({ kind: "cross node", fromNs: a.ns, from: a.name, to: b.ip });
        probes.push({
          kind: "MTU (DF, full size)",
          fromNs: a.ns,
          from: a.name,
          to: b.ip,
          size: n.podMtu - 28,
        });
      }
    }
    // --attach: the secondary networks, on one node and across nodes (macvlan over the underlay).
    const peers = [mine[1], ...state.nodes.filter((o) => o.name !== n.name).map((o) => firstOf(o.name))];
    for (const b of peers)
      for (const [i, s] of (a.secondary ?? []).entries()) {
        const t = b?.secondary?.[i];
        if (s.ip && t?.ip) probes.push({ kind: "secondary network", fromNs: a.ns, from: a.name, to: t.ip });
      }
    probes.push({ kind: "pod→node", fromNs: a.ns, from: a.name, to: n.ip });
    probes.push({ kind: "pod→outside (masquerade)", fromNs: a.ns, from: a.name, to: outsideIp });
  }
  return probes;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

/**
 * etcd mode: a pod writes a forged lease to etcd over plain http and over https without a client
 * certificate — both refused — while the same pod with the agents' certificate reads (the path is
 * open; only the certificate decides) and finds the forged key absent. Embedded mode: a non-root
 * user on a node cannot connect to the store's socket; root can.
 */
export async function checkDatastoreBoundary(
  kernel: Kernel,
  state: LabState,
): Promise<CheckResult | undefined> {
  const pod = state.pods[0];
  const node = state.nodes[0];
  if (state.etcdEndpoint && state.etcdPki && pod) {
    const ep = state.etcdEndpoint;
    const pki = state.etcdPki;
    const key = "/strata/subnets/203.0.113.0-24";
    const forged = JSON.stringify({ key: b64(key), value: b64('{"node":"pod","subnet":"203.0.113.0/24"}') });
    const curl = (...args: string[]) =>
      kernel.exec(namedNetns(pod.ns), ["curl", "-sS", "-f", "--max-time", "3", "-X", "POST", ...args]);
    const plain = await curl(`${ep.replace("https:", "http:")}/v3/kv/put`, "-d", forged);
    const noCert = await curl("--cacert", pki.ca, `${ep}/v3/kv/put`, "-d", forged);
    const withCert = await curl(
      ...["--cacert", pki.ca, "--cert", pki.clientCert, "--key", pki.clientKey],
      ...[`${ep}/v3/kv/range`, "-d", JSON.stringify({ key: b64(key) })],
    );
    const absent = withCert.code === 0 && !/"kvs"/.test(withCert.stdout);
    return {
      kind: "datastore refuses pods",
      from: pod.name,
      to: `${ep} (no client certificate)`,
      ok: plain.code !== 0 && noCert.code !== 0 && absent,
    };
  }
  if (state.spec.datastore === "embedded" && node) {
    const socket = /^embedded:(.+)$/.exec(state.agentDatastoreArgs[1] ?? "")?.[1] ?? "";
    const script = `const s=require("net").connect(${JSON.stringify(socket)});
      s.on("error",()=>process.exit(2));
      s.on("connect",()=>s.write('{"id":1,"op":"list","args":["/strata/"]}\\n'));
      s.on("data",d=>process.exit(/"ok":true/.test(d)?0:3));`;
    const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    const nobody = await kernel.exec(namedNetns(node.ns), [...asNobody, process.execPath, "-e", script]);
    const root = await kernel.exec(namedNetns(node.ns), [process.execPath, "-e", script]);
    return {
      kind: "datastore refuses non-root",
      from: `${node.name} uid 65534`,
      to: socket,
      ok: nobody.code === 2 && root.code === 0,
    };
  }
  return undefined;
}

export async function runChecks(kernel: Kernel, state: LabState): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const boundary = await checkDatastoreBoundary(kernel, state);
  if (boundary) results.push(boundary);
  const guard = await checkSourceGuard(kernel, state);
  if (guard) results.push(guard);
  const encrypted = await checkUnderlayEncrypted(kernel, state);
  if (encrypted) results.push(encrypted);
  for (const p of planChecks(state)) {
    const argv = [
      "ping",
      "-c",
      "1",
      "-W",
      "2",
      "-q",
      ...(p.size ? ["-M", "do", "-s", String(p.size)] : []),
      p.to,
    ];
    const r = await kernel.exec(namedNetns(p.fromNs), argv);
    results.push({
      kind: p.kind,
      from: p.from,
      to: p.size ? `${p.to} (${p.size + 28} B)` : p.to,
      ok: r.code === 0,
    });
  }
  return results;
}

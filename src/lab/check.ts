import { inWindow } from "../common/in-window.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import { checkUnderlayEncrypted } from "./encryption-check.js";
import { labNodeIp6, outsideIp6 } from "./ip-family.js";
import type { LabState } from "./runner.js";
import { checkSourceGuard } from "./source-guard-check.js";
import { labNodeSegment, outsideIp } from "./topology.js";

export interface CheckResult {
  readonly kind:
    | "same node"
    | "cross node"
    | "same node (IPv6)"
    | "cross node (IPv6)"
    | "MTU IPv6 (DF, full)"
    | "pod→node (IPv6)"
    | "pod→outside (masquerade, IPv6)"
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
    // IPv4 probes between pods that have IPv4 addresses (none in an IPv6-only lab).
    if (mine[1]?.ip && a.ip) probes.push({ kind: "same node", fromNs: a.ns, from: a.name, to: mine[1].ip });
    for (const other of state.nodes) {
      if (other.name === n.name) continue;
      const b = firstOf(other.name);
      if (b?.ip && a.ip) {
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
    probes.push(...ipv6Probes(state, n.name, n.podMtu));
    if (a.ip) {
      probes.push({ kind: "pod→node", fromNs: a.ns, from: a.name, to: n.ip });
      probes.push({ kind: "pod→outside (masquerade)", fromNs: a.ns, from: a.name, to: outsideIp });
    }
    // Dual stack and IPv6-only: the node's IPv6 address, and outside the cluster (masqueraded by
    // the node's ip6 table: the outside namespace has no route back to pod addresses).
    if (a.ip6) {
      probes.push({
        kind: "pod→node (IPv6)",
        fromNs: a.ns,
        from: a.name,
        to: labNodeIp6({ name: n.name, segment: labNodeSegment(state.spec, n.name) }),
      });
      probes.push({ kind: "pod→outside (masquerade, IPv6)", fromNs: a.ns, from: a.name, to: outsideIp6 });
    }
  }
  return probes;
}

/**
 * Pure: a dual-stack lab's IPv6 probes from `node`'s first pod: every other pod's IPv6 address
 * (on its node, and on every other node), and the first pod of each other node at full size.
 */
function ipv6Probes(
  state: LabState,
  node: string,
  podMtu: number,
): { kind: CheckResult["kind"]; fromNs: string; from: string; to: string; size?: number }[] {
  const a = state.pods.find((p) => p.node === node);
  if (!a?.ip6) return [];
  const out: ReturnType<typeof ipv6Probes> = [];
  const firsts = new Set(state.nodes.map((n) => state.pods.find((p) => p.node === n.name)));
  for (const b of state.pods) {
    if (b === a || !b.ip6) continue;
    const kind = b.node === node ? "same node (IPv6)" : "cross node (IPv6)";
    out.push({ kind, fromNs: a.ns, from: a.name, to: b.ip6 });
    // 40 bytes of IPv6 header and 8 of ICMPv6 around the payload.
    if (b.node !== node && firsts.has(b))
      out.push({ kind: "MTU IPv6 (DF, full)", fromNs: a.ns, from: a.name, to: b.ip6, size: podMtu - 48 });
  }
  return out;
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

/**
 * One shell per source namespace runs that source's pings, 32 at a time: `ip netns exec` per probe
 * costs more than the ping (it sets up a mount namespace), and a 50-node lab plans ~5,000 probes.
 * Each probe comes in as one argument `INDEX:ADDRESS:SIZE` (SIZE 0: a plain ping; else DF set; an
 * IPv6 ADDRESS has colons of its own, so SIZE is the last field and ADDRESS what lies between),
 * and its outcome goes out as one line `INDEX EXITCODE`.
 */
export const pingBatchScript = [
  "n=0",
  'for p in "$@"; do',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not JS
  "  i=${p%%:*}; r=${p#*:}; to=${r%:*}; size=${r##*:}",
  '  if [ "$size" = 0 ]; then set -- -c 1 -W 2 -q "$to"; else set -- -c 1 -W 2 -q -M do -s "$size" "$to"; fi',
  '  case "$to" in *:*) set -- -6 "$@" ;; esac',
  '  (ping "$@" >/dev/null 2>&1; echo "$i $?") &',
  "  n=$((n + 1)); if [ $n -ge 32 ]; then wait; n=0; fi",
  "done",
  "wait",
].join("\n");

/** Pure: the probe arguments of pingBatchScript. */
export const pingBatchArgs = (probes: readonly { index: number; to: string; size?: number }[]): string[] =>
  probes.map((p) => `${p.index}:${p.to}:${p.size ?? 0}`);

/** Pure: pingBatchScript's output into the probes that answered (exit 0). */
export function answeredProbes(stdout: string): Set<number> {
  const ok = new Set<number>();
  for (const line of stdout.split("\n")) {
    const m = /^(\d+) 0$/.exec(line.trim());
    if (m) ok.add(Number(m[1]));
  }
  return ok;
}

/** Source namespaces pinging at once. */
const sourcesAtOnce = 4;

export async function runChecks(kernel: Kernel, state: LabState): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const boundary = await checkDatastoreBoundary(kernel, state);
  if (boundary) results.push(boundary);
  const guard = await checkSourceGuard(kernel, state);
  if (guard) results.push(guard);
  const encrypted = await checkUnderlayEncrypted(kernel, state);
  if (encrypted) results.push(encrypted);
  const probes = planChecks(state).map((p, index) => ({ ...p, index }));
  const bySource = new Map<string, typeof probes>();
  for (const p of probes) bySource.set(p.fromNs, [...(bySource.get(p.fromNs) ?? []), p]);
  const answered = new Set<number>();
  const pingFrom = async ([ns, mine]: [string, typeof probes]) => {
    const script = ["sh", "-c", pingBatchScript, "ping-batch", ...pingBatchArgs(mine)];
    const r = await kernel.exec(namedNetns(ns), script);
    for (const i of answeredProbes(r.stdout)) answered.add(i);
  };
  await inWindow([...bySource], sourcesAtOnce, pingFrom);
  // A probe lost in a burst (a 2-core machine busy with 50 agents) gets one more try, one source at
  // a time: a broken path fails twice, and `lab check` reports it.
  const retry = new Map<string, typeof probes>();
  for (const p of probes.filter((x) => !answered.has(x.index)))
    retry.set(p.fromNs, [...(retry.get(p.fromNs) ?? []), p]);
  await inWindow([...retry], 1, pingFrom);
  for (const p of probes)
    results.push({
      kind: p.kind,
      from: p.from,
      // The packet's size: payload, ICMP header and IPv4's 20 or IPv6's 40 bytes of header.
      to: p.size ? `${p.to} (${p.size + (p.to.includes(":") ? 48 : 28)} B)` : p.to,
      ok: answered.has(p.index),
    });
  return results;
}

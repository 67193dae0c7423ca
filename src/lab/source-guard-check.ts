import { type Kernel, namedNetns } from "../kernel/api.js";
import { readSpoofCounts } from "../plugins/strata/source-guard.js";
import type { CheckResult } from "./check.js";
import type { LabState } from "./runner.js";

/** The pod's own nftables table that forges the source of its pings (removed again afterwards). */
export const forgeTable = "strata-lab-forge";

/**
 * The commands, run inside the pod (which is root in its namespace, as an attacker would be), that
 * rewrite the source of its echo requests to `target` into `forged` after routing: the packet
 * leaves the pod exactly as a raw socket would send it. ARP for the gateway still uses the pod's
 * own address (the forged one is not local), so only the forged IPv4 packets meet the guard.
 */
export const forgeRules = (forged: string, target: string) => {
  // An IPv6-only lab's pods: the same over ip6 and ICMPv6 (neighbour discovery keeps the pod's own
  // or link-local source, so again only the forged echo requests meet the guard).
  const [t, ip, icmp] = target.includes(":") ? ["ip6", "ip6", "icmpv6"] : ["ip", "ip", "icmp"];
  return [
    `add table ${t} ${forgeTable}`,
    `add chain ${t} ${forgeTable} out { type filter hook output priority 0; }`,
    `add rule ${t} ${forgeTable} out ${ip} daddr ${target} ${icmp} type echo-request ${ip} saddr set ${forged}`,
  ].join("; ");
};

/** A pod's address to probe: IPv4, or IPv6 in an IPv6-only lab (whose pods have no IPv4 one). */
const podAddress = (p: { ip: string; ip6?: string }): string | undefined => p.ip || p.ip6;

/**
 * A pod sends packets with another pod's address as source toward a pod on another node: the
 * node's source guard must drop every one of them (its counter rises by exactly that many).
 * Only `nft` and `ping` are needed, which the lab needs anyway (no python3, no raw socket).
 */
export async function checkSourceGuard(kernel: Kernel, state: LabState): Promise<CheckResult | undefined> {
  const a = state.pods[0];
  const node = state.nodes.find((n) => n.name === a?.node);
  const targetPod = state.pods.find((p) => p.node !== a?.node);
  const target = targetPod && { ip: podAddress(targetPod) ?? "" };
  const v6 = !a?.ip && Boolean(a?.ip6);
  // A neighbour pod's address when there is one, else another node's (IPv4 only: an IPv6-only
  // lab forges a neighbour pod's IPv6 address).
  const neighbour = state.pods.find((p) => p !== a && p.node === a?.node);
  const forged =
    (neighbour && podAddress(neighbour)) ??
    (v6 ? undefined : state.nodes.find((n) => n.name !== a?.node)?.ip);
  if (!a || !node || !target?.ip || !forged) return undefined;
  const onNode = (argv: readonly string[]) => kernel.exec(namedNetns(node.ns), argv);
  const inPod = (argv: readonly string[]) => kernel.exec(namedNetns(a.ns), argv);
  const sent = 5;
  let ok = false;
  try {
    // An honest ping first: the pod's gateway is resolved and answering (right after `lab up` an
    // IPv6 gateway address may still be tentative, and queued echo requests would not reach the
    // guard before the counters are read again).
    if (v6) await inPod(["ping", "-6", "-q", "-n", "-c", "1", "-W", "2", target.ip]);
    const before = await readSpoofCounts(onNode);
    const forge = await inPod(["nft", forgeRules(forged, target.ip)]);
    // No reply can come (the guard drops the request), so wait only briefly for one.
    const r = await inPod(["ping", "-q", "-n", "-c", String(sent), "-i", "0.01", "-W", "0.2", target.ip]);
    const after = await readSpoofCounts(onNode);
    const transmitted = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    ok =
      forge.code === 0 &&
      Number(transmitted?.[1]) === sent &&
      Number(transmitted?.[2]) === 0 &&
      (v6 ? after.ipv6 - before.ipv6 : after.ipv4 - before.ipv4) === sent;
  } catch {
    ok = false;
  } finally {
    await inPod(["nft", "delete", "table", v6 ? "ip6" : "ip", forgeTable]).catch(() => undefined);
  }
  return { kind: "spoofed source dropped", from: a.name, to: `${target.ip} (as ${forged})`, ok };
}

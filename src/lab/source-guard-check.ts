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
export const forgeRules = (forged: string, target: string) =>
  [
    `add table ip ${forgeTable}`,
    `add chain ip ${forgeTable} out { type filter hook output priority 0; }`,
    `add rule ip ${forgeTable} out ip daddr ${target} icmp type echo-request ip saddr set ${forged}`,
  ].join("; ");

/**
 * A pod sends packets with another pod's address as source toward a pod on another node: the
 * node's source guard must drop every one of them (its counter rises by exactly that many).
 * Only `nft` and `ping` are needed, which the lab needs anyway (no python3, no raw socket).
 */
export async function checkSourceGuard(kernel: Kernel, state: LabState): Promise<CheckResult | undefined> {
  const a = state.pods[0];
  const node = state.nodes.find((n) => n.name === a?.node);
  const target = state.pods.find((p) => p.node !== a?.node);
  // A neighbour pod's address when there is one, else another node's.
  const forged =
    state.pods.find((p) => p !== a && p.node === a?.node)?.ip ??
    state.nodes.find((n) => n.name !== a?.node)?.ip;
  if (!a || !node || !target || !forged) return undefined;
  const onNode = (argv: readonly string[]) => kernel.exec(namedNetns(node.ns), argv);
  const inPod = (argv: readonly string[]) => kernel.exec(namedNetns(a.ns), argv);
  const sent = 5;
  let ok = false;
  try {
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
      after.ipv4 - before.ipv4 === sent;
  } catch {
    ok = false;
  } finally {
    await inPod(["nft", "delete", "table", "ip", forgeTable]).catch(() => undefined);
  }
  return { kind: "spoofed source dropped", from: a.name, to: `${target.ip} (as ${forged})`, ok };
}

import { parseCidr } from "../common/cidr.js";
import { formatIp, parseIp } from "../ipam/address.js";

/**
 * Pure: the node subnet to lease from the cluster CIDR (Flannel-style): the preferred one when it
 * is free (a restarting node keeps its subnet), else the lowest free one. undefined: full.
 */
export function pickSubnet(
  clusterCidr: string,
  subnetLen: number,
  taken: ReadonlySet<string>,
  preferred?: string,
): string | undefined {
  if (preferred && !taken.has(preferred)) return preferred;
  for (const subnet of freeSubnets(clusterCidr, subnetLen, taken)) return subnet;
  return undefined;
}

/**
 * Pure but for `random`: one of the `among` lowest free subnets, chosen at random. What a node
 * picks after losing a race: nodes that start together all see the same lowest free subnet, and
 * with first-fit only one of them wins each round (a window of 16 starting agents needs 16
 * rounds). Spread over many free subnets, most of them win the next round. undefined: full.
 */
export function pickSubnetSpread(
  clusterCidr: string,
  subnetLen: number,
  taken: ReadonlySet<string>,
  among: number,
  random: () => number,
): string | undefined {
  const candidates: string[] = [];
  for (const subnet of freeSubnets(clusterCidr, subnetLen, taken)) {
    candidates.push(subnet);
    if (candidates.length >= among) break;
  }
  if (candidates.length === 0) return undefined;
  return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))];
}

/** Pure: the cluster CIDR's free /subnetLen subnets, lowest first (the first one skipped, as Flannel does). */
function* freeSubnets(clusterCidr: string, subnetLen: number, taken: ReadonlySet<string>): Generator<string> {
  const { addr, prefix } = parseCidr(clusterCidr);
  const family = addr.kind() === "ipv4" ? 4 : 6;
  if (subnetLen < prefix)
    throw new RangeError(`subnet length /${subnetLen} is shorter than the cluster CIDR /${prefix}`);
  const bits = family === 4 ? 32 : 128;
  const step = 1n << BigInt(bits - subnetLen);
  const count = 1n << BigInt(subnetLen - prefix);
  const base = parseIp(addr.toString()).value & ~((1n << BigInt(bits - prefix)) - 1n);
  // Skip the first subnet like Flannel does (it holds the cluster's network address).
  for (let i = count > 1n ? 1n : 0n; i < count; i++) {
    const subnet = `${formatIp({ family, value: base + i * step })}/${subnetLen}`;
    if (!taken.has(subnet)) yield subnet;
  }
}

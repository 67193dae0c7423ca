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
  const { addr, prefix } = parseCidr(clusterCidr);
  const family = addr.kind() === "ipv4" ? 4 : 6;
  if (subnetLen < prefix)
    throw new RangeError(`subnet length /${subnetLen} is shorter than the cluster CIDR /${prefix}`);
  if (preferred && !taken.has(preferred)) return preferred;
  const bits = family === 4 ? 32 : 128;
  const step = 1n << BigInt(bits - subnetLen);
  const count = 1n << BigInt(subnetLen - prefix);
  const base = parseIp(addr.toString()).value & ~((1n << BigInt(bits - prefix)) - 1n);
  // Skip the first subnet like Flannel does (it holds the cluster's network address).
  for (let i = count > 1n ? 1n : 0n; i < count; i++) {
    const subnet = `${formatIp({ family, value: base + i * step })}/${subnetLen}`;
    if (!taken.has(subnet)) return subnet;
  }
  return undefined;
}

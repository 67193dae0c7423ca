import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeError } from "../common/errors.js";
import { DiskReservationStore } from "../ipam/disk-store.js";
import { hostVethName } from "../plugins/strata/names.js";
import type { IpamReservation, StateDirFacts } from "./facts.js";

interface ConflistShape {
  name?: string;
  plugins?: { type?: string; mtu?: number; vethPrefix?: string; ipam?: { dataDir?: string } }[];
}

const readJson = async <T>(path: string): Promise<T | undefined> => {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
};

/** The agent's state directory: subnet.json, the CNI conflist and the IPAM reservations it names. */
export async function gatherStateDir(dir: string): Promise<StateDirFacts> {
  const errors: string[] = [];
  const read = async <T>(name: string): Promise<T | undefined> => {
    try {
      const v = await readJson<T>(join(dir, name));
      if (v === undefined)
        errors.push(`${join(dir, name)} does not exist (is this the agent's --state-dir?)`);
      return v;
    } catch (err) {
      errors.push(`${join(dir, name)}: ${describeError(err)}`);
      return undefined;
    }
  };
  const subnet = await read<{
    subnet: string;
    mtu: number;
    clusterCidr?: string;
    subnet6?: string;
    clusterCidr6?: string;
  }>("subnet.json");
  const conflist = await read<ConflistShape>("10-strata.conflist");
  const plugin = conflist?.plugins?.find((p) => p.type === "strata");
  const reservations: IpamReservation[] = [];
  const dataDir = plugin?.ipam?.dataDir ?? "/var/lib/cni/networks";
  if (conflist?.name) {
    try {
      const prefix = plugin?.vethPrefix ?? "veth";
      for (const r of await new DiskReservationStore(dataDir, conflist.name).list())
        reservations.push({
          ip: r.ip,
          containerId: r.containerId,
          ifName: r.ifName,
          hostVeth: hostVethName(prefix, r.containerId, r.ifName),
        });
    } catch (err) {
      errors.push(`IPAM reservations in ${join(dataDir, conflist.name)}: ${describeError(err)}`);
    }
  }
  return { dir, subnet, conflistMtu: plugin?.mtu, reservations, errors };
}

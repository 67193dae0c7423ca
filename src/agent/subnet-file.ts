import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { PreviousSubnet } from "../cluster/subnet-leases.js";
import { StrataError } from "../common/errors.js";

/** The state directory's record of the node's subnet (written last: it says the node takes pods). */
export const subnetFileName = "subnet.json";

export class StateFileError extends StrataError {
  constructor(file: string, what: string) {
    super("agent.state-file", `${file}: ${what} (fix it, or remove it if this node has no pods)`);
  }
}

/**
 * The subnet a previous run of the agent leased, from `<stateDir>/subnet.json`; undefined when
 * there is none (a new node). A file that is there but unreadable stops the agent: guessing could
 * renumber the node under its pods.
 */
export async function readPreviousSubnet(stateDir: string): Promise<PreviousSubnet | undefined> {
  const file = join(stateDir, subnetFileName);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StateFileError(file, `cannot be read: ${(err as Error).message}`);
  }
  let subnet: unknown;
  let subnet6: unknown;
  try {
    ({ subnet, subnet6 } = JSON.parse(text) as { subnet?: unknown; subnet6?: unknown });
  } catch {
    throw new StateFileError(file, "is not JSON");
  }
  if (typeof subnet !== "string" || !/^[0-9a-f.:]+\/\d{1,3}$/i.test(subnet))
    throw new StateFileError(file, 'has no "subnet" such as "10.244.1.0/24"');
  // Dual stack: the IPv6 subnet the node's pods hold addresses from too (absent before dual stack).
  if (subnet6 !== undefined && (typeof subnet6 !== "string" || !/^[0-9a-f:]+\/\d{1,3}$/i.test(subnet6)))
    throw new StateFileError(file, 'has a "subnet6" that is not an IPv6 CIDR such as "fd00:10:244:1::/64"');
  return { subnet, ...(subnet6 !== undefined ? { subnet6: subnet6 as string } : {}), source: file };
}

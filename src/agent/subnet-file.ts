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
  try {
    subnet = (JSON.parse(text) as { subnet?: unknown }).subnet;
  } catch {
    throw new StateFileError(file, "is not JSON");
  }
  if (typeof subnet !== "string" || !/^[0-9a-f.:]+\/\d{1,3}$/i.test(subnet))
    throw new StateFileError(file, 'has no "subnet" such as "10.244.1.0/24"');
  return { subnet, source: file };
}

import { statSync } from "node:fs";
import { currentNetns, type Kernel } from "./api.js";

/** The namespace's identity (nsfs device and inode) as a path shows it; undefined when gone. */
function netnsId(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Delete every namespace whose name starts with `prefix`, killing what still runs inside first
 * (daemons a crashed run left). Returns the names removed.
 *
 * Only processes inside the namespace are killed: `ip netns pids` runs from this namespace (run
 * inside, it would list itself, a PID that is gone a moment later and may be reused), and each PID's
 * network namespace is compared with the one being removed right before the signal.
 */
export async function removeNamespaces(kernel: Kernel, prefix: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await kernel.netns.list()) {
    if (!name.startsWith(prefix)) continue;
    const ns = netnsId(`/run/netns/${name}`);
    const pids = await kernel.exec(currentNetns, ["ip", "netns", "pids", name]).catch(() => undefined);
    for (const pid of (pids?.stdout ?? "").split("\n").filter((p) => /^\d+$/.test(p))) {
      if (ns === undefined || netnsId(`/proc/${pid}/ns/net`) !== ns) continue;
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone
      }
    }
    await kernel.netns.delete(name, { ifPresent: true });
    removed.push(name);
  }
  return removed;
}

import type { Kernel } from "./api.js";

/**
 * Delete every namespace whose name starts with `prefix`, killing what still runs inside first
 * (daemons a crashed run left). Returns the names removed.
 */
export async function removeNamespaces(kernel: Kernel, prefix: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await kernel.netns.list()) {
    if (!name.startsWith(prefix)) continue;
    const pids = await kernel
      .exec({ kind: "named", name }, ["ip", "netns", "pids", name])
      .catch(() => undefined);
    for (const pid of (pids?.stdout ?? "").split("\n").filter(Boolean)) {
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

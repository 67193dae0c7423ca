import { readFileSync } from "node:fs";

/** Pure: the soft "Max open files" of a /proc/PID/limits text; undefined when unlimited or absent. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
}

/**
 * How many descriptors a process started from this one may open (the soft RLIMIT_NOFILE, which
 * children inherit); undefined when unlimited or unreadable. An agent host of a BGP full mesh holds
 * a socket per session: 100 agents of a 200-node mesh are 19,900 sockets.
 */
export function openFilesLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync("/proc/self/limits", "utf8"));
  } catch {
    return undefined;
  }
}

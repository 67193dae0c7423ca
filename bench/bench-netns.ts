import { execFileSync } from "node:child_process";

/** Run a command, its output discarded; a failure throws. */
export function sh(cmd: string, argv: string[]): void {
  execFileSync(cmd, argv, { stdio: "ignore" });
}

/** Delete every namespace whose name starts with `prefix` (a bench's own, left by an earlier run). */
export function removeBenchNamespaces(prefix: string): void {
  // `ip netns list` complains on stderr about namespaces deleted while it lists them.
  const list = execFileSync("ip", ["netns", "list"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0];
    if (name?.startsWith(prefix)) sh("ip", ["netns", "del", name]);
  }
}

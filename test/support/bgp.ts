import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./cni.js";
import type { TestNamespaces } from "./netns.js";

/** Two fresh namespaces joined by a veth ("eth0" on both), addressed a/24 and b/24. */
export function linkedPair(
  nss: TestNamespaces,
  labels: [string, string],
  addrs: [string, string],
): [string, string] {
  const a = nss.create(labels[0]);
  const b = nss.create(labels[1]);
  const sh = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args]);
  sh(a, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b);
  sh(a, "addr", "add", `${addrs[0]}/24`, "dev", "eth0");
  sh(b, "addr", "add", `${addrs[1]}/24`, "dev", "eth0");
  sh(a, "link", "set", "eth0", "up");
  sh(b, "link", "set", "eth0", "up");
  return [a, b];
}

export interface PeerEvent {
  readonly event: string;
  readonly state?: string;
  readonly nlri?: string[];
  readonly attributes?: Record<string, unknown>;
}

/** Run `strata bgp-peer` inside `ns`; its JSON-line events collect into `events`. */
export function startBgpPeer(ns: string, args: string[]): { proc: ChildProcess; events: PeerEvent[] } {
  const proc = spawn(
    "ip",
    ["netns", "exec", ns, process.execPath, join(repoRoot, "bin/strata.js"), "bgp-peer", ...args],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const events: PeerEvent[] = [];
  proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
    for (const line of d.split("\n").filter(Boolean)) events.push(JSON.parse(line) as PeerEvent);
  });
  return { proc, events };
}

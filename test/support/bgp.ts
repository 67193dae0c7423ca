import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "../../src/common/eventually.js";
import { repoRoot } from "./cni.js";
import type { TestNamespaces } from "./netns.js";

const ip = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args]);

/** Two fresh namespaces joined by a veth ("eth0" on both), addressed a/24 and b/24. */
export function linkedPair(
  nss: TestNamespaces,
  labels: [string, string],
  addrs: [string, string],
): [string, string] {
  const a = nss.create(labels[0]);
  const b = nss.create(labels[1]);
  ip(a, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b);
  ip(a, "addr", "add", `${addrs[0]}/24`, "dev", "eth0");
  ip(b, "addr", "add", `${addrs[1]}/24`, "dev", "eth0");
  for (const ns of [a, b]) {
    ip(ns, "link", "set", "eth0", "up");
    ip(ns, "link", "set", "lo", "up");
  }
  return [a, b];
}

/** Namespaces on one switch (a bridge in its own namespace); member i gets `${net}.${i + 1}/24`. */
export interface LanMember {
  readonly ns: string;
  readonly ip: string;
}

export function lan<const L extends readonly string[]>(
  nss: TestNamespaces,
  labels: L,
  net: string,
): { [K in keyof L]: LanMember } {
  const sw = nss.create(`${labels[0]}-sw`);
  ip(sw, "link", "add", "br0", "type", "bridge");
  ip(sw, "link", "set", "br0", "up");
  return labels.map((label, i): LanMember => {
    const ns = nss.create(label);
    const addr = `${net}.${i + 1}`;
    ip(ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", sw);
    ip(sw, "link", "set", `p${i}`, "master", "br0", "up");
    ip(ns, "addr", "add", `${addr}/24`, "dev", "eth0");
    ip(ns, "link", "set", "eth0", "up");
    ip(ns, "link", "set", "lo", "up");
    return { ns, ip: addr };
  }) as { [K in keyof L]: LanMember };
}

export interface SpeakerLine {
  readonly event: string;
  readonly state?: string;
  readonly peer?: string;
  readonly prefix?: string;
  readonly nextHop?: string;
  readonly reason?: string;
  readonly attributes?: Record<string, unknown>;
}

/** `strata bgp-speaker` inside `ns`; its JSON lines collect into `events`. */
export function startStrataSpeaker(
  ns: string,
  args: string[],
): { proc: ChildProcess; events: SpeakerLine[] } {
  const proc = spawn(
    "ip",
    ["netns", "exec", ns, process.execPath, join(repoRoot, "bin/strata.js"), "bgp-speaker", ...args],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const events: SpeakerLine[] = [];
  let rest = "";
  proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
    const lines = (rest + d).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines.filter(Boolean)) events.push(JSON.parse(line) as SpeakerLine);
  });
  return { proc, events };
}

/**
 * `ip route show PREFIX` in `ns`, in the prefix's family ("" when there is none): without -6
 * iproute2 lists only IPv4 routes, so an IPv6 prefix would never be found.
 */
export const kernelRoute = (ns: string, prefix: string): string =>
  execFileSync("ip", ["-n", ns, prefix.includes(":") ? "-6" : "-4", "route", "show", prefix], {
    encoding: "utf8",
  }).trim();

/** Strata as an iBGP client of the reflector at `rrIp`, announcing `announce`, installing what it learns. */
export const startStrataClient = (m: LanMember, rrIp: string, announce: string, extra: string[] = []) =>
  startStrataSpeaker(m.ns, [
    ...["--asn", "64512", "--router-id", m.ip, "--peer", `${rrIp},as=64512`, "--hold", "9"],
    ...["--connect-retry", "1", "--announce", announce, "--install-routes", ...extra],
  ]);

/** The route to `prefix` Strata last reported (undefined: none, or withdrawn). */
export function lastRoute(events: readonly SpeakerLine[], prefix: string): SpeakerLine | undefined {
  const last = events.filter((e) => e.event === "route" && e.prefix === prefix).at(-1);
  return last?.nextHop ? last : undefined;
}

/** A BIRD 2 daemon in `ns` with its own control socket and pid file under `dir`. */
export class Bird {
  readonly ctl: string;
  readonly #pidFile: string;
  readonly #conf: string;

  constructor(
    readonly ns: string,
    dir: string,
    name: string,
    conf: string,
  ) {
    this.ctl = join(dir, `${name}.ctl`);
    this.#pidFile = join(dir, `${name}.pid`);
    this.#conf = join(dir, `${name}.conf`);
    writeFileSync(this.#conf, conf);
  }

  start(): void {
    execFileSync("ip", [
      "netns",
      "exec",
      this.ns,
      "bird",
      "-c",
      this.#conf,
      "-s",
      this.ctl,
      "-P",
      this.#pidFile,
    ]);
  }

  birdc(...args: string[]): string {
    return execFileSync("birdc", ["-s", this.ctl, ...args], { encoding: "utf8" });
  }

  kill(): void {
    try {
      process.kill(Number(readFileSync(this.#pidFile, "utf8")), "SIGKILL");
    } catch {
      // not running
    }
  }
}

/** A gobgpd in `ns` (API on the namespace's own loopback). */
export class GoBgp {
  #proc: ChildProcess | undefined;
  readonly #conf: string;

  constructor(
    readonly ns: string,
    dir: string,
    name: string,
    toml: string,
  ) {
    this.#conf = join(dir, `${name}.toml`);
    writeFileSync(this.#conf, toml);
  }

  /** Start and wait until the API answers. */
  async start(): Promise<void> {
    this.#proc = spawn(
      "ip",
      ["netns", "exec", this.ns, "gobgpd", "-f", this.#conf, "--api-hosts", "127.0.0.1:50051"],
      { stdio: "ignore" },
    );
    await eventually(() => this.cli("global").includes("AS"), "gobgpd API up");
  }

  cli(...args: string[]): string {
    return execFileSync(
      "ip",
      ["netns", "exec", this.ns, "gobgp", "-u", "127.0.0.1", "-p", "50051", ...args],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
  }

  kill(): void {
    this.#proc?.kill("SIGKILL");
  }
}

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "../../src/common/eventually.js";

/** Where Debian's frr package puts the daemon. */
export const frrBgpd = "/usr/lib/frr/bgpd";
export const hasFrr = (): boolean => existsSync(frrBgpd) && existsSync("/usr/bin/vtysh");

/**
 * FRR's bgpd alone in `ns` (no zebra: -Z; no kernel routes: -n; no TCP vty: -P 0), its config,
 * pid file, vty socket and log all under its own directory; ended by its PID.
 */
export class Frr {
  readonly dir: string;

  constructor(
    readonly ns: string,
    parent: string,
    name: string,
    conf: string,
  ) {
    this.dir = join(parent, name);
    mkdirSync(this.dir, { recursive: true });
    // bgpd drops to the frr user for its vty socket and log: it must be able to write here.
    chmodSync(this.dir, 0o777);
    writeFileSync(join(this.dir, "bgpd.conf"), `hostname ${name}\nlog file ${this.log}\n${conf}`);
  }

  get log(): string {
    return join(this.dir, "bgpd.log");
  }

  /** Start (daemonised) and wait until its vty answers; `extra` e.g. ["-K"]: a graceful restart. */
  async start(extra: readonly string[] = []): Promise<void> {
    execFileSync("ip", [
      ...["netns", "exec", this.ns, frrBgpd, "-d", "-Z", "-S", "-n", "-P", "0", ...extra],
      ...["-f", join(this.dir, "bgpd.conf"), "-i", join(this.dir, "bgpd.pid"), "--vty_socket", this.dir],
    ]);
    await eventually(() => this.#tryVtysh("show bgp summary") !== undefined, "FRR bgpd's vty up");
  }

  #tryVtysh(cmd: string): string | undefined {
    try {
      return this.vtysh(cmd);
    } catch {
      return undefined;
    }
  }

  vtysh(cmd: string): string {
    return execFileSync("vtysh", ["--vty_socket", this.dir, "-d", "bgpd", "-c", cmd], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  /** `show ... json` parsed (undefined while bgpd cannot answer). */
  json<T = Record<string, unknown>>(cmd: string): T | undefined {
    const out = this.#tryVtysh(`${cmd} json`);
    try {
      return out ? (JSON.parse(out) as T) : undefined;
    } catch {
      return undefined;
    }
  }

  /** FRR's paths to `prefix` in `afi` ("ipv4"/"ipv6") unicast; [] when it has none. */
  paths(afi: "ipv4" | "ipv6", prefix: string): FrrPath[] {
    const r = this.json<{ routes?: Record<string, FrrPath[]> }>(`show bgp ${afi} unicast`);
    return r?.routes?.[prefix] ?? [];
  }

  /** The one detailed path to `prefix` (`show bgp ... PREFIX json`). */
  detail(afi: "ipv4" | "ipv6", prefix: string): FrrPathDetail | undefined {
    return this.json<{ paths?: FrrPathDetail[] }>(`show bgp ${afi} unicast ${prefix}`)?.paths?.[0];
  }

  /** The neighbour's state as FRR sees it ("Established", "Active", ...). */
  state(peer: string): string | undefined {
    const n = this.json<Record<string, { bgpState?: string }>>(`show bgp neighbors ${peer}`);
    return n?.[peer]?.bgpState;
  }

  logText(): string {
    return existsSync(this.log) ? readFileSync(this.log, "utf8") : "";
  }

  /** Replace its configuration file (read at the next start). */
  rewrite(name: string, conf: string): void {
    writeFileSync(join(this.dir, "bgpd.conf"), `hostname ${name}\nlog file ${this.log}\n${conf}`);
  }

  kill(): void {
    try {
      process.kill(Number(readFileSync(join(this.dir, "bgpd.pid"), "utf8")), "SIGKILL");
    } catch {
      // not running
    }
  }
}

export interface FrrPath {
  readonly valid?: boolean;
  readonly bestpath?: boolean;
  readonly path?: string;
  readonly metric?: number;
  readonly nexthops?: readonly { readonly ip: string; readonly scope?: string }[];
}

export interface FrrPathDetail {
  readonly aspath?: { readonly string: string };
  readonly metric?: number;
  readonly originatorId?: string;
  readonly clusterList?: { readonly list: readonly string[] };
  readonly nexthops?: readonly { readonly ip: string; readonly scope?: string }[];
}

import { randomBytes } from "node:crypto";
import { access, readFile, writeFile } from "node:fs/promises";
import type { ProgramRunner } from "../../process/run-program.js";
import { runProgram as run } from "../../process/run-program.js";
import type {
  Address,
  ExecResult,
  FdbEntry,
  Kernel,
  KernelCapabilities,
  KernelOp,
  Link,
  LinkKind,
  Neighbour,
  Netns,
  NetnsControl,
  Route,
  RouteQuery,
  TcpSession,
  TcpSessionQuery,
} from "../api.js";
import { KernelError, tolerated } from "../errors.js";
import { queryPort } from "../tcp-sessions.js";
import { classifyError } from "./classify.js";
import { ipNetnsArgs, netnsPath, netnsRunDir } from "./netns-args.js";
import { parseAddresses, parseFdb, parseLinks, parseNeighbours, parseRoutes } from "./parse.js";
import { parseSsTcp } from "./parse-ss.js";
import { batchLine, type Rendered, renderOp, sysctlPath, type Tool } from "./render.js";

export interface Iproute2Options {
  /** How programs are started; a resident agent passes a SpawnPool's runner (see process/spawn-pool.ts). */
  readonly runner?: ProgramRunner;
  readonly ip?: string;
  readonly bridge?: string;
  readonly nsenter?: string;
  readonly ethtool?: string;
}

interface Step {
  readonly opIndex: number;
  readonly cmd: Rendered;
}

const describeOp = (op: KernelOp, cmd: Rendered) =>
  `${op.op} (${cmd.tool === "sysctl" ? `write ${cmd.args.join(" = ")}` : `${cmd.tool} ${cmd.args.join(" ")}`})`;

/**
 * Which steps may share one batch. `ip neigh` exits on a failure without the batch's "Command
 * failed -:LINE", so the line that failed cannot be read: `neigh replace` lines (idempotent) batch
 * only with each other and, after such a failure, run again one at a time to find it; `neigh del`
 * (not idempotent) runs alone. The rtnetlink driver carries neighbours where its addon is built.
 */
function batchClass(s: Step): string {
  if (s.cmd.tool !== "ip" || s.cmd.args[0] !== "neigh") return s.cmd.tool;
  return s.cmd.args[1] === "replace" ? "ip neigh replace" : "alone";
}

/**
 * The Kernel interface over iproute2. Writes run as `ip -batch -` (one process for a run of ip
 * ops; measured in bench/kernel-driver.ts), reads as `ip -json`. Namespaces are addressed per call.
 */
export function createIproute2Kernel(opts: Iproute2Options = {}): Kernel {
  const ip = opts.ip ?? "ip";
  const bridge = opts.bridge ?? "bridge";
  const nsenter = opts.nsenter ?? "nsenter";
  const ethtool = opts.ethtool ?? "ethtool";
  const exe: ProgramRunner = opts.runner ?? ((argv, o) => run(argv, o));
  let capabilities: Promise<KernelCapabilities> | undefined;

  const inNs = (ns: Netns, argv: readonly string[]): string[] => {
    const path = netnsPath(ns);
    return path === undefined ? [...argv] : [nsenter, `--net=${path}`, ...argv];
  };

  async function read(ns: Netns, tool: "ip" | "bridge", args: readonly string[]): Promise<ExecResult> {
    return exe([tool === "ip" ? ip : bridge, ...ipNetnsArgs(ns), ...args]);
  }

  async function readOrThrow(ns: Netns, tool: "ip" | "bridge", args: readonly string[]): Promise<string> {
    const r = await read(ns, tool, args);
    if (r.code !== 0)
      throw new KernelError(classifyError(r.stderr), `${tool} ${args.join(" ")}`, r.stderr.trim());
    return r.stdout;
  }

  /** Run a group of same-tool steps in one process; returns the index (in `steps`) that failed. */
  async function runGroup(
    ns: Netns,
    tool: Tool,
    steps: readonly Step[],
  ): Promise<{ failed: number; stderr: string } | undefined> {
    if (tool === "sysctl") {
      const path = netnsPath(ns);
      for (const [i, s] of steps.entries()) {
        const [file, value] = s.cmd.args as [string, string];
        if (path === undefined) {
          try {
            await writeFile(file, value);
          } catch (err) {
            return { failed: i, stderr: String((err as Error).message) };
          }
        }
      }
      if (path === undefined) return undefined;
      // One process writes every value; it stops at the first failure and names it on stderr.
      const script =
        'i=0; while [ $# -gt 0 ]; do printf "%s" "$2" > "$1" || { echo "FAILED $i" >&2; exit 1; }; i=$((i+1)); shift 2; done';
      const r = await exe([
        nsenter,
        `--net=${path}`,
        "sh",
        "-c",
        script,
        "sh",
        ...steps.flatMap((s) => s.cmd.args),
      ]);
      if (r.code === 0) return undefined;
      const m = /FAILED (\d+)/.exec(r.stderr);
      return { failed: m ? Number(m[1]) : 0, stderr: r.stderr };
    }
    if (tool === "ethtool") {
      // ethtool has no batch mode: one `ethtool -K` per op, run inside the namespace.
      for (const [i, s] of steps.entries()) {
        const r = await exe(inNs(ns, [ethtool, ...s.cmd.args]));
        if (r.code !== 0) return { failed: i, stderr: r.stderr.trim() || r.stdout };
      }
      return undefined;
    }
    const bin = tool === "ip" ? ip : bridge;
    if (steps.length === 1) {
      const r = await exe([bin, ...ipNetnsArgs(ns), ...(steps[0] as Step).cmd.args]);
      return r.code === 0 ? undefined : { failed: 0, stderr: r.stderr };
    }
    const input = `${steps.map((s) => batchLine(s.cmd.args)).join("\n")}\n`;
    const r = await exe([bin, ...ipNetnsArgs(ns), "-batch", "-"], { input });
    if (r.code === 0) return undefined;
    // iproute2 stops at the first failing line and reports "Command failed -:LINE".
    const m = /Command failed -:(\d+)/.exec(r.stderr);
    if (m) return { failed: Number(m[1]) - 1, stderr: r.stderr };
    if (batchClass(steps[0] as Step) === "ip neigh replace")
      for (const [i, s] of steps.entries()) {
        const one = await exe([bin, ...ipNetnsArgs(ns), ...s.cmd.args]);
        if (one.code !== 0) return { failed: i, stderr: one.stderr };
      }
    return { failed: 0, stderr: r.stderr };
  }

  async function apply(ns: Netns, ops: readonly KernelOp[]): Promise<void> {
    const steps: Step[] = ops.flatMap((op, opIndex) => renderOp(op).map((cmd) => ({ opIndex, cmd })));
    let i = 0;
    while (i < steps.length) {
      const tool = (steps[i] as Step).cmd.tool;
      const cls = batchClass(steps[i] as Step);
      let j = i + 1;
      if (cls !== "alone") while (j < steps.length && batchClass(steps[j] as Step) === cls) j++;
      const group = steps.slice(i, j);
      const failure = await runGroup(ns, tool, group);
      if (!failure) {
        i = j;
        continue;
      }
      const step = group[failure.failed] ?? (group[0] as Step);
      const op = ops[step.opIndex] as KernelOp;
      const stderr = failure.stderr.replace(/Command failed -:\d+\s*/g, "").trim();
      const kind = classifyError(stderr);
      if (!tolerated(op, kind)) {
        const detail =
          kind === "unsupported" && op.op === "link.add"
            ? `this kernel has no "${op.spec.kind}" link type (and no loadable modules): ${stderr}`
            : stderr;
        throw new KernelError(kind, describeOp(op, step.cmd), detail, { failedOpIndex: step.opIndex });
      }
      // Skip the rest of the tolerated op's commands, continue with the next op.
      let next = i + failure.failed + 1;
      while (next < steps.length && (steps[next] as Step).opIndex === step.opIndex) next++;
      i = next;
    }
  }

  const netns: NetnsControl = {
    async create(name, o) {
      const r = await exe([ip, "netns", "add", name]);
      if (r.code === 0) return;
      const kind = classifyError(r.stderr);
      if (kind === "exists" && o?.ifAbsent) return;
      throw new KernelError(kind, `ip netns add ${name}`, r.stderr.trim());
    },
    async delete(name, o) {
      const r = await exe([ip, "netns", "del", name]);
      if (r.code === 0) return;
      const kind = classifyError(r.stderr);
      if (kind === "not-found" && o?.ifPresent) return;
      throw new KernelError(kind, `ip netns del ${name}`, r.stderr.trim());
    },
    async list() {
      const r = await exe([ip, "-json", "netns", "list"]);
      if (r.code !== 0) throw new KernelError(classifyError(r.stderr), "ip netns list", r.stderr.trim());
      if (!r.stdout.trim()) return [];
      return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
    },
    async exists(ns) {
      const path = netnsPath(ns);
      if (path === undefined) return true;
      try {
        await access(path);
        return true;
      } catch {
        return false;
      }
    },
  };

  async function links(ns: Netns): Promise<Link[]> {
    return parseLinks(await readOrThrow(ns, "ip", ["-json", "-details", "link", "show"]));
  }

  async function link(ns: Netns, name: string): Promise<Link | undefined> {
    const r = await read(ns, "ip", ["-json", "-details", "link", "show", "dev", name]);
    if (r.code === 0) return parseLinks(r.stdout)[0];
    const kind = classifyError(r.stderr);
    if (kind === "not-found" && !/network namespace/i.test(r.stderr)) return undefined;
    throw new KernelError(kind, `ip link show dev ${name}`, r.stderr.trim());
  }

  async function addresses(ns: Netns, dev?: string): Promise<Address[]> {
    return parseAddresses(
      await readOrThrow(ns, "ip", ["-json", "addr", "show", ...(dev ? ["dev", dev] : [])]),
    );
  }

  async function routes(ns: Netns, q: RouteQuery = {}): Promise<Route[]> {
    const families = q.family ? [q.family] : ([4, 6] as const);
    const out: Route[] = [];
    for (const f of families) {
      const args = [
        `-${f}`,
        "-json",
        "route",
        "show",
        ...(q.table !== undefined ? ["table", String(q.table)] : []),
        ...(q.dev ? ["dev", q.dev] : []),
      ];
      const text = await readOrThrow(ns, "ip", args);
      // `dev X` filters drop the dev field from the output; put it back.
      out.push(...parseRoutes(text, f).map((r) => (q.dev && !r.dev ? { ...r, dev: q.dev } : r)));
    }
    return out;
  }

  async function neighbours(ns: Netns, dev?: string): Promise<Neighbour[]> {
    const text = await readOrThrow(ns, "ip", ["-json", "neigh", "show", ...(dev ? ["dev", dev] : [])]);
    return parseNeighbours(text).map((n) => (dev && !n.dev ? { ...n, dev } : n));
  }

  async function fdb(ns: Netns, dev?: string): Promise<FdbEntry[]> {
    const text = await readOrThrow(ns, "bridge", ["-json", "fdb", "show", ...(dev ? ["dev", dev] : [])]);
    // Like `ip`, `bridge` leaves out the field it was asked to filter on.
    return parseFdb(text).map((e) => (dev && !e.dev ? { ...e, dev } : e));
  }

  async function sysctl(ns: Netns, key: string): Promise<string> {
    const file = sysctlPath(key);
    const path = netnsPath(ns);
    if (path === undefined) return (await readFile(file, "utf8")).trim();
    const r = await exe([nsenter, `--net=${path}`, "cat", file]);
    if (r.code !== 0) throw new KernelError(classifyError(r.stderr), `read ${file}`, r.stderr.trim());
    return r.stdout.trim();
  }

  /** `ss -Htn state established`, with a port filter at either end (a process a call). */
  async function tcpSessions(ns: Netns, q: TcpSessionQuery = {}): Promise<TcpSession[]> {
    const port = queryPort(q);
    const args = [
      ...["ss", "-Htn", "state", "established"],
      ...(port === undefined ? [] : [`( sport = :${port} or dport = :${port} )`]),
    ];
    const r = await exe(inNs(ns, args));
    if (r.code !== 0) throw new KernelError(classifyError(r.stderr), args.join(" "), r.stderr.trim());
    return parseSsTcp(r.stdout);
  }

  async function exec(
    ns: Netns,
    argv: readonly string[],
    o: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    // Callers of exec may need env or a timeout, which only a direct spawn offers.
    return o.env || o.timeoutMs ? run(inNs(ns, argv), o) : exe(inNs(ns, argv), o);
  }

  async function probeOnce(): Promise<KernelCapabilities> {
    const name = `strata-probe-${process.pid}-${randomBytes(3).toString("hex")}`;
    await netns.create(name);
    const ns: Netns = { kind: "named", name };
    try {
      await apply(ns, [{ op: "link.add", spec: { kind: "veth", name: "pv0", peer: { name: "pv1" } } }]);
      const tries: Record<LinkKind, KernelOp> = {
        veth: { op: "link.add", spec: { kind: "veth", name: "t-veth", peer: { name: "t-veth1" } } },
        bridge: { op: "link.add", spec: { kind: "bridge", name: "t-bridge" } },
        vxlan: {
          op: "link.add",
          spec: { kind: "vxlan", name: "t-vxlan", vni: 42, port: 4789, learning: false, device: "pv0" },
        },
        macvlan: {
          op: "link.add",
          spec: { kind: "macvlan", name: "t-macvlan", parent: "pv0", mode: "bridge" },
        },
        ipvlan: { op: "link.add", spec: { kind: "ipvlan", name: "t-ipvlan", parent: "pv0", mode: "l2" } },
        tun: { op: "link.add", spec: { kind: "tun", name: "t-tun" } },
        tap: { op: "link.add", spec: { kind: "tap", name: "t-tap" } },
        ipip: {
          op: "link.add",
          spec: { kind: "ipip", name: "t-ipip", remote: "192.0.2.1", local: "192.0.2.2" },
        },
        gre: {
          op: "link.add",
          spec: { kind: "gre", name: "t-gre", remote: "192.0.2.1", local: "192.0.2.2" },
        },
        vlan: { op: "link.add", spec: { kind: "vlan", name: "t-vlan", parent: "pv0", id: 7 } },
        wireguard: { op: "link.add", spec: { kind: "wireguard", name: "t-wg" } },
        geneve: { op: "link.add", spec: { kind: "geneve", name: "t-geneve", vni: 7, remote: "192.0.2.1" } },
        dummy: { op: "link.add", spec: { kind: "dummy", name: "t-dummy" } },
        vrf: { op: "link.add", spec: { kind: "vrf", name: "t-vrf", table: 10 } },
      };
      const linkKinds = {} as Record<LinkKind, boolean>;
      for (const [kind, op] of Object.entries(tries) as [LinkKind, KernelOp][]) {
        try {
          await apply(ns, [op]);
          linkKinds[kind] = true;
        } catch {
          linkKinds[kind] = false;
        }
      }
      const nft = await exec(ns, ["nft", "list", "ruleset"]).catch(() => ({ code: 1 }));
      const ipt = await exec(ns, ["iptables", "-w", "-t", "nat", "-L", "-n"]).catch(() => ({ code: 1 }));
      return { linkKinds, nftables: nft.code === 0, iptables: ipt.code === 0 };
    } finally {
      await netns.delete(name, { ifPresent: true });
    }
  }

  return {
    netns,
    apply,
    links,
    link,
    addresses,
    routes,
    neighbours,
    fdb,
    sysctl,
    tcpSessions,
    exec,
    probe() {
      capabilities ??= probeOnce();
      return capabilities;
    },
  };
}

export { netnsRunDir };

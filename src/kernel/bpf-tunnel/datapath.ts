/**
 * The BPF tunnel datapath's I/O: loads tunnel.bpf.o with bpftool (programs and maps pinned under
 * /sys/fs/bpf/strata/<netns>/<device>/), attaches it with tc clsact in direct-action mode inside
 * the node's namespace, and keeps the peer maps equal to the wanted peers by diff, one
 * `bpftool batch` per change. Every tc and bpftool call names its namespace (Kernel.exec; nsenter
 * --net keeps the mount namespace, so the pins under /sys/fs/bpf stay visible — `ip netns exec`
 * would mount a fresh /sys over them).
 *
 * Restart-safe: programs and maps live as long as their pins and filters, not as long as the
 * agent. `ensure` from a fresh process finds the pins, checks that the attached filters run the
 * pinned programs and that the config map is right, and writes nothing when all is in place, so
 * traffic never stops.
 */
import { access, mkdir, readdir, readFile, rm, rmdir, stat } from "node:fs/promises";
import { isIpv4 } from "../../common/cidr.js";
import { KeyedMutex } from "../../common/keyed-mutex.js";
import type { Kernel, Netns } from "../api.js";
import {
  type BpfTunnelConfig,
  type BpfTunnelCounters,
  type BpfTunnelDatapath,
  DROP_REASONS,
  type TunnelPeer,
  tunnelOverhead,
} from "./api.js";
import { BpfTunnelError } from "./errors.js";
import { COUNTER_SLOTS, encodeConfig, hexArg, parseMapDump, sumPerCpu } from "./map-codec.js";
import { decodePeerMaps, type MapWrite, planPeerMaps } from "./peer-maps-plan.js";
import {
  bpffsMount,
  type PinnedMap,
  pinDir,
  pinnedMaps,
  pinnedPrograms,
  strataPinRoot,
} from "./pin-paths.js";

/** tc filter priorities: the tunnel device's egress is ours alone; on the underlay's ingress the
 * priority is the IP protocol number, so an ipip and a gre datapath can share one underlay (each
 * program passes what is not its own on with TC_ACT_UNSPEC). */
const EGRESS_PREF = 1;
const ingressPref = (config: BpfTunnelConfig): number => (config.proto === "ipip" ? 4 : 47);
const FILTER_HANDLE = "1";

const notBuilt = "bpf datapath not built (install clang)";

/** IFNAMSIZ − 1, and the characters the kernel refuses in a link name. */
const validIfname = (name: string): boolean => /^[^\s/:]{1,15}$/.test(name) && name !== "." && name !== "..";

export function validateTunnelConfig(config: BpfTunnelConfig): void {
  const bad = (what: string) => {
    throw new BpfTunnelError("invalid-config", what);
  };
  if (config.proto !== "ipip" && config.proto !== "gre") bad(`proto "${config.proto}": use "ipip" or "gre"`);
  if (config.greKey !== undefined) {
    if (config.proto !== "gre") bad("greKey is for proto gre only: leave it out for ipip");
    if (!Number.isInteger(config.greKey) || config.greKey < 0 || config.greKey > 0xffffffff)
      bad(`greKey ${config.greKey}: an integer from 0 to 4294967295 (RFC 2890 §2.1, 32 bits)`);
  }
  if (!validIfname(config.tunnelDev))
    bad(`tunnelDev "${config.tunnelDev}": a link name of 1 to 15 characters`);
  if (!validIfname(config.underlayDev))
    bad(`underlayDev "${config.underlayDev}": a link name of 1 to 15 characters`);
  if (!isIpv4(config.localIp))
    bad(`localIp "${config.localIp}": an IPv4 address (the node's underlay address)`);
  if (!Number.isInteger(config.mtu) || config.mtu < 68 || config.mtu > 65535)
    bad(`mtu ${config.mtu}: an integer from 68 to 65535`);
}

export function createBpfTunnelDatapath(opts: { objectPath: string; kernel: Kernel }): BpfTunnelDatapath {
  const { objectPath, kernel } = opts;
  const mutex = new KeyedMutex();
  let availability: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;

  async function run(ns: Netns, argv: readonly string[], input?: string): Promise<string> {
    const r = await kernel.exec(ns, argv, input === undefined ? undefined : { input });
    if (r.code !== 0) {
      // bpftool warns about libbpf strict mode on every load; keep only what explains the failure.
      const detail = (r.stderr || r.stdout)
        .split("\n")
        .filter((l) => l.trim() && !/strict mode|--legacy option/.test(l))
        .slice(-12)
        .join("\n");
      throw new BpfTunnelError("failed", `${argv.join(" ")} (exit ${r.code}): ${detail}`);
    }
    return r.stdout;
  }

  async function probe(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await access(objectPath);
    } catch {
      return {
        ok: false,
        reason: `${notBuilt}: ${objectPath} is missing; install clang, then npm run build`,
      };
    }
    const filesystems = await readFile("/proc/filesystems", "utf8").catch(() => "");
    if (!/\sbpf$/m.test(filesystems))
      return { ok: false, reason: "this kernel has no BPF filesystem (CONFIG_BPF_SYSCALL)" };
    const tools: [string[], string][] = [
      [["bpftool", "version"], "bpftool not found (install bpftool)"],
      [["tc", "-V"], "tc not found (install iproute2)"],
    ];
    for (const [argv, reason] of tools) {
      const r = await kernel.exec({ kind: "current" }, argv).catch(() => ({ code: 127 }));
      if (r.code !== 0) return { ok: false, reason };
    }
    return { ok: true };
  }

  async function requireAvailable(): Promise<void> {
    const a = await available();
    if (!a.ok) throw new BpfTunnelError("unavailable", a.reason);
  }

  function available() {
    availability ??= probe();
    return availability;
  }

  /** A stable id of `ns` for its pin directory: the name of a named namespace, else its inode. */
  async function netnsId(ns: Netns): Promise<string> {
    if (ns.kind === "named") return ns.name;
    const path = ns.kind === "path" ? ns.path : "/proc/self/ns/net";
    return `ino-${(await stat(path)).ino}`;
  }

  async function dirOf(ns: Netns, config: BpfTunnelConfig): Promise<string> {
    return pinDir(await netnsId(ns), config.tunnelDev);
  }

  /** Mount bpffs at /sys/fs/bpf unless one is there (pins outlive processes only on bpffs). */
  async function ensureBpffs(ns: Netns): Promise<void> {
    const mounts = await readFile("/proc/self/mounts", "utf8");
    if (mounts.split("\n").some((l) => l.split(" ")[1] === bpffsMount && l.split(" ")[2] === "bpf")) return;
    await run(ns, ["mount", "-t", "bpf", "bpf", bpffsMount]);
  }

  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );

  /** Load the object and pin it, unless every pin is already there (then the loaded state is re-used). */
  async function ensurePins(ns: Netns, dir: string): Promise<"reused" | "loaded"> {
    const pins = [...pinnedPrograms, ...pinnedMaps].map((p) => `${dir}/${p}`);
    if ((await Promise.all(pins.map(exists))).every(Boolean)) return "reused";
    // Partial pins (a load that died half way): start over; nothing can be attached to them yet
    // that ensure would not re-attach below.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      await run(ns, ["bpftool", "prog", "loadall", objectPath, dir, "type", "classifier", "pinmaps", dir]);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw new BpfTunnelError(
        "failed",
        `loading ${objectPath} failed (the verifier's log follows): ${(err as Error).message}`,
        { cause: err },
      );
    }
    return "loaded";
  }

  async function ensureTunnelDevice(ns: Netns, config: BpfTunnelConfig) {
    const link = await kernel.link(ns, config.tunnelDev);
    if (!link) {
      await kernel.apply(ns, [
        { op: "link.add", spec: { kind: "tun", name: config.tunnelDev, mtu: config.mtu } },
        { op: "link.set", name: config.tunnelDev, mtu: config.mtu, up: true },
      ]);
    } else if (link.kind !== "tun" || link.tun?.type !== "tun") {
      throw new BpfTunnelError(
        "invalid-config",
        `tunnelDev ${config.tunnelDev} exists and is ${link.kind ? `a ${link.kind}` : "not a TUN"} device: the BPF datapath attaches to a TUN device of its own; delete it or pick another name`,
      );
    } else if (link.mtu !== config.mtu || !link.up) {
      await kernel.apply(ns, [{ op: "link.set", name: config.tunnelDev, mtu: config.mtu, up: true }]);
    }
    const now = await kernel.link(ns, config.tunnelDev);
    if (!now)
      throw new BpfTunnelError("failed", `tunnelDev ${config.tunnelDev} vanished while it was set up`);
    return now;
  }

  async function ensureUnderlay(ns: Netns, config: BpfTunnelConfig) {
    const link = await kernel.link(ns, config.underlayDev);
    if (!link)
      throw new BpfTunnelError(
        "invalid-config",
        `underlayDev ${config.underlayDev} does not exist in this namespace`,
      );
    const overhead = tunnelOverhead(config.proto, config.greKey);
    if (config.mtu > link.mtu - overhead)
      throw new BpfTunnelError(
        "invalid-config",
        `mtu ${config.mtu} is over ${config.underlayDev}'s ${link.mtu} − ${overhead} (${config.proto}${config.greKey !== undefined ? " with key" : ""}): encapsulated packets would not fit; use at most ${link.mtu - overhead}`,
      );
    const addrs = await kernel.addresses(ns, config.underlayDev);
    if (!addrs.some((a) => a.cidr.split("/")[0] === config.localIp))
      throw new BpfTunnelError(
        "invalid-config",
        `localIp ${config.localIp} is not an address of ${config.underlayDev}: peers would answer to an address this node does not hold`,
      );
    return link;
  }

  async function pinnedProgId(ns: Netns, path: string): Promise<number> {
    const out = JSON.parse(await run(ns, ["bpftool", "-j", "prog", "show", "pinned", path])) as {
      id?: number;
    };
    if (typeof out.id !== "number")
      throw new BpfTunnelError("failed", `bpftool prog show pinned ${path}: no id`);
    return out.id;
  }

  /** The program id our filter at (dev, direction, pref) runs, if there is one. */
  async function attachedProgId(ns: Netns, dev: string, dir: "ingress" | "egress", pref: number) {
    const out = await kernel.exec(ns, ["tc", "-j", "filter", "show", "dev", dev, dir, "pref", String(pref)]);
    if (out.code !== 0 || !out.stdout.trim()) return undefined;
    const filters = JSON.parse(out.stdout) as { kind?: string; options?: { prog?: { id?: number } } }[];
    return filters.find((f) => f.kind === "bpf" && f.options?.prog?.id !== undefined)?.options?.prog?.id;
  }

  async function ensureClsact(ns: Netns, dev: string): Promise<void> {
    const out = JSON.parse(await run(ns, ["tc", "-j", "qdisc", "show", "dev", dev])) as { kind?: string }[];
    if (!out.some((q) => q.kind === "clsact")) await run(ns, ["tc", "qdisc", "add", "dev", dev, "clsact"]);
  }

  /** Attach `prog` at (dev, direction, pref) unless it runs there already; `replace` swaps atomically. */
  async function ensureFilter(ns: Netns, dev: string, dir: "ingress" | "egress", pref: number, prog: string) {
    const want = await pinnedProgId(ns, prog);
    if ((await attachedProgId(ns, dev, dir, pref)) === want) return;
    await ensureClsact(ns, dev);
    await run(ns, [
      ...["tc", "filter", "replace", "dev", dev, dir, "pref", String(pref), "handle", FILTER_HANDLE],
      ...["bpf", "direct-action", "object-pinned", prog],
    ]);
  }

  const lookupZero = ["key", "hex", "00", "00", "00", "00"];

  async function ensureConfigMap(ns: Netns, dir: string, want: readonly number[]): Promise<void> {
    const r = await kernel.exec(ns, [
      "bpftool",
      "-j",
      "map",
      "lookup",
      "pinned",
      `${dir}/config`,
      ...lookupZero,
    ]);
    if (r.code === 0) {
      const have = parseMapDump(`[${r.stdout}]`)[0]?.value;
      if (have && have.length === want.length && have.every((b, i) => b === want[i])) return;
    }
    await run(ns, [
      "bpftool",
      "map",
      "update",
      "pinned",
      `${dir}/config`,
      ...lookupZero,
      "value",
      ...hexArg(want).split(" "),
    ]);
  }

  async function ensure(ns: Netns, config: BpfTunnelConfig): Promise<void> {
    validateTunnelConfig(config);
    await requireAvailable();
    const dir = await dirOf(ns, config);
    await mutex.run(dir, async () => {
      await ensureBpffs(ns);
      const underlay = await ensureUnderlay(ns, config);
      const tunnel = await ensureTunnelDevice(ns, config);
      await ensurePins(ns, dir);
      // Config before the filters: until it is written the egress program drops (it never sends
      // a packet unencapsulated) and the ingress program passes everything on.
      await ensureConfigMap(
        ns,
        dir,
        encodeConfig({
          localIp: config.localIp,
          underlayIfindex: underlay.index,
          tunnelIfindex: tunnel.index,
          proto: config.proto,
          ...(config.greKey !== undefined ? { greKey: config.greKey } : {}),
        }),
      );
      await ensureFilter(ns, config.tunnelDev, "egress", EGRESS_PREF, `${dir}/tunnel_egress`);
      await ensureFilter(ns, config.underlayDev, "ingress", ingressPref(config), `${dir}/tunnel_ingress`);
    });
  }

  async function dumpMap(ns: Netns, dir: string, map: PinnedMap) {
    return parseMapDump(await run(ns, ["bpftool", "-j", "map", "dump", "pinned", `${dir}/${map}`]));
  }

  async function requirePins(dir: string, ns: Netns, config: BpfTunnelConfig): Promise<void> {
    if (!(await exists(`${dir}/peer_cidrs`)))
      throw new BpfTunnelError(
        "failed",
        `no BPF ${config.proto} datapath for ${config.tunnelDev} in ${JSON.stringify(ns)} (${dir} is missing): call ensure first`,
      );
  }

  const batchLine = (dir: string, w: MapWrite): string =>
    w.op === "update"
      ? `map update pinned ${dir}/${w.map} key ${hexArg(w.key)} value ${hexArg(w.value)}`
      : `map delete pinned ${dir}/${w.map} key ${hexArg(w.key)}`;

  async function syncPeers(ns: Netns, config: BpfTunnelConfig, peers: readonly TunnelPeer[]) {
    validateTunnelConfig(config);
    const dir = await dirOf(ns, config);
    return mutex.run(dir, async () => {
      await requirePins(dir, ns, config);
      const current = decodePeerMaps(
        await dumpMap(ns, dir, "peer_cidrs"),
        await dumpMap(ns, dir, "peer_nodes"),
      );
      const plan = planPeerMaps(current, peers);
      if (plan.writes.length > 0)
        await run(
          ns,
          ["bpftool", "batch", "file", "-"],
          `${plan.writes.map((w) => batchLine(dir, w)).join("\n")}\n`,
        );
      return { added: plan.added, removed: plan.removed, changed: plan.changed };
    });
  }

  async function counters(ns: Netns, config: BpfTunnelConfig): Promise<BpfTunnelCounters> {
    validateTunnelConfig(config);
    const dir = await dirOf(ns, config);
    await requirePins(dir, ns, config);
    const bySlot = new Map<string, number>();
    for (const e of await dumpMap(ns, dir, "counters")) {
      const slot = (e.key[0] ?? 0) | ((e.key[1] ?? 0) << 8);
      const name = COUNTER_SLOTS[slot];
      if (name) bySlot.set(name, sumPerCpu(e.values ?? (e.value ? [e.value] : [])));
    }
    return {
      encapsulated: bySlot.get("encapsulated") ?? 0,
      decapsulated: bySlot.get("decapsulated") ?? 0,
      dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, bySlot.get(r) ?? 0])),
    };
  }

  /** Remove an empty directory and its empty parents up to the pin root (which goes too when empty). */
  async function pruneEmpty(dir: string): Promise<void> {
    for (let d = dir; d.startsWith(strataPinRoot); d = d.slice(0, d.lastIndexOf("/"))) {
      const left = await readdir(d).catch(() => undefined);
      if (left === undefined) continue;
      if (left.length > 0) return;
      await rmdir(d).catch(() => undefined);
    }
  }

  async function remove(ns: Netns, config: BpfTunnelConfig): Promise<void> {
    validateTunnelConfig(config);
    const dir = await dirOf(ns, config);
    await mutex.run(dir, async () => {
      const pref = ingressPref(config);
      if (await kernel.link(ns, config.underlayDev)) {
        if ((await attachedProgId(ns, config.underlayDev, "ingress", pref)) !== undefined)
          await run(ns, ["tc", "filter", "del", "dev", config.underlayDev, "ingress", "pref", String(pref)]);
        // The clsact qdisc goes when nothing else uses it (ensure added it if it was missing).
        const left = await Promise.all(
          (["ingress", "egress"] as const).map((d) =>
            kernel.exec(ns, ["tc", "-j", "filter", "show", "dev", config.underlayDev, d]),
          ),
        );
        const empty = left.every(
          (r) => r.code === 0 && (JSON.parse(r.stdout || "[]") as unknown[]).length === 0,
        );
        if (empty) await kernel.exec(ns, ["tc", "qdisc", "del", "dev", config.underlayDev, "clsact"]);
      }
      const tunnel = await kernel.link(ns, config.tunnelDev);
      if (tunnel?.kind === "tun")
        await kernel.apply(ns, [{ op: "link.delete", name: config.tunnelDev, ifPresent: true }]);
      await rm(dir, { recursive: true, force: true });
      await pruneEmpty(dir.slice(0, dir.lastIndexOf("/")));
    });
  }

  return { available, ensure, syncPeers, counters, remove };
}

import { closeSync, existsSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { endianness } from "node:os";
import { resolve } from "node:path";
import type {
  Address,
  Kernel,
  KernelOp,
  Link,
  Netns,
  Route,
  RouteQuery,
  TcpSession,
  TcpSessionQuery,
} from "../api.js";
import { KernelError, tolerated } from "../errors.js";
import { classifyError } from "../iproute2/classify.js";
import { netnsPath, netnsRunDir } from "../iproute2/netns-args.js";
import { renderOp, sysctlPath } from "../iproute2/render.js";
import { queryPort } from "../tcp-sessions.js";
import { af, attrs, ifaddrmsg, ifinfomsg, ifla, message, nlm, rtm, rtmsg, splitMessages } from "./codec.js";
import { decodeLinkNames, decodeRoutes } from "./decode.js";
import { decodeAddresses } from "./decode-addresses.js";
import { decodeLinks, linkReferences } from "./decode-links.js";
import { carriedOps, changesLinks, encodeOp, MissingDevice, MissingNetns } from "./encode-ops.js";
import { type EthtoolSetResult, ethtoolSetArgs, offloadError, offloadSettings } from "./offload.js";
import { decodeTcpSessions, tcpBothFamiliesRequest, tcpDumpRequest, tcpEstablished } from "./sock-diag.js";
import { type SysctlFailure, sysctlError } from "./sysctl-failure.js";

/**
 * The Kernel interface with routes, neighbours, FDB entries, addresses and the common links (veth
 * pairs, bridges; up/down, MTU, MAC, master) written — and routes, links and addresses read — over
 * rtnetlink from inside the agent's process, and sysctls in a named namespace read and written
 * natively, and links' offload features set with the ethtool ioctl (`link.offload`, no `ethtool`
 * process; src/kernel/rtnetlink/rtnetlink.c does the socket and file work), everything else
 * through the iproute2 driver it wraps. A pass of route changes is then one system call per route
 * instead of an `ip -batch` process: the per-pass cost that dominated an emulated node's CPU, and
 * a pod's veth pair and addresses cost no process either (bench/README.md, issue 16). Ops keep
 * their order across the two paths, and failures mean what the iproute2 driver's mean (same error
 * kinds, same failedOpIndex).
 */

interface RtnetlinkAddon {
  apply(
    nsPath: string | null,
    messages: Buffer,
  ): { done: number; errno: number; error: string; message: string };
  dump(nsPath: string | null, request: Buffer): Buffer;
  sysctlRead(nsPath: string | null, file: string): SysctlFailure & { value?: string };
  sysctlWrite(nsPath: string | null, pairs: readonly string[]): SysctlFailure & { done: number };
  /** dump on a NETLINK_SOCK_DIAG socket (absent in an addon built before it had it). */
  sockDiagDump?(nsPath: string | null, request: Buffer): Buffer;
  /** `ip netns add NAME` in-process (absent in an addon built before it had it). */
  createNetns?(dir: string, name: string): void;
  /** Offload features set with SIOCETHTOOL: [dev, tso, gso, gro, ...] (absent in an older addon). */
  ethtoolSet?(nsPath: string | null, settings: readonly (string | number)[]): EthtoolSetResult;
  /** One nf_tables batch on a NETLINK_NETFILTER socket (absent in an older addon; nftables/apply.ts). */
  nfApply?(nsPath: string | null, batch: Buffer): unknown;
}

/** The addon's error for a request the kernel answered with an error (errno). */
const answered = (err: unknown, errno: number) =>
  (err as { answer?: boolean }).answer === true && (err as { errno?: number }).errno === errno;
const ENODEV = 19;
/** IFNAMSIZ: a name the kernel could hold has at most 15 octets. */
const validLinkName = (name: string) => name !== "" && !name.includes("\0") && Buffer.byteLength(name) < 16;

/** Where the build puts the addon (dist/native/, from dist/src/kernel/rtnetlink/). */
export const rtnetlinkAddonPath = resolve(import.meta.dirname, "../../../native/strata-rtnetlink.node");

let addon: RtnetlinkAddon | null | undefined;
/** The addon, loaded on first use (the lab's agents start from a snapshot that cannot hold it). */
export function loadRtnetlinkAddon(path = rtnetlinkAddonPath): RtnetlinkAddon | undefined {
  if (addon === undefined) {
    addon = null;
    if (endianness() === "LE" && existsSync(path))
      addon = createRequire(import.meta.url)(path) as RtnetlinkAddon;
  }
  return addon ?? undefined;
}

const describe = (op: KernelOp) =>
  `${op.op} (${renderOp(op)
    .map((c) => (c.tool === "sysctl" ? `write ${c.args.join(" = ")}` : `${c.tool} ${c.args.join(" ")}`))
    .join("; ")})`;

/**
 * `base` with rtnetlink for the ops it carries; `base` itself when the addon is not built (or the
 * machine is big-endian), so a build without a C compiler still runs.
 */
export function withRtnetlink(base: Kernel, nl: RtnetlinkAddon | undefined = loadRtnetlinkAddon()): Kernel {
  if (!nl) return base;
  let seq = Math.floor(Math.random() * 0x7fffffff);
  const next = () => {
    seq = (seq + 1) >>> 0;
    return seq;
  };
  const nsArg = (ns: Netns) => netnsPath(ns) ?? null;
  /** The addon's own failures (no such namespace, no socket) as KernelErrors. */
  const kernelError = (what: string, err: unknown) => {
    const text = String((err as Error).message ?? err);
    return new KernelError(classifyError(text), what, text, { cause: err });
  };
  const io = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw kernelError(what, err);
    }
  };

  function linkNames(ns: Netns): Map<number, string> {
    const req = message(rtm.getLink, nlm.request | nlm.dump, next(), ifinfomsg(af.unspec), Buffer.alloc(0));
    return decodeLinkNames(io("rtnetlink link dump", () => nl?.dump(nsArg(ns), req) as Buffer));
  }

  /**
   * Apply one run of ops of the kinds this driver carries; op indexes are `offset`-based in the
   * caller's list. An op the encoder does not carry as given (a protocol name it does not know,
   * say) goes to the wrapped driver in its place. After an op that makes or removes a link, the
   * names are looked up again (a route may name the device the op before it made).
   */
  async function applyRun(ns: Netns, run: readonly KernelOp[], offset: number): Promise<void> {
    // Each name the run uses, got by name once (not a dump of every link: a node's route batch
    // names one device, and a dump fills every link's attributes and statistics under RTNL).
    let byName: Map<string, number | undefined> | undefined;
    const ifindex = (name: string) => {
      byName ??= new Map();
      if (!byName.has(name)) {
        const reply = linkMessage(ns, name);
        const found = reply ? [...decodeLinkNames(reply)].find(([, n]) => n === name) : undefined;
        byName.set(name, found?.[0]);
      }
      return byName.get(name);
    };
    // A veth peer's namespace, open while the run is applied (its descriptor is in the message).
    const fds = new Map<string, number>();
    const nsFd = (target: Netns) => {
      const path = netnsPath(target);
      if (path === undefined) return undefined;
      let fd = fds.get(path);
      if (fd === undefined) {
        try {
          fd = openSync(path, "r");
        } catch (err) {
          throw new MissingNetns(path, (err as Error).message.replace(/^[A-Z]+: /, "").split(",")[0] ?? "");
        }
        fds.set(path, fd);
      }
      return fd;
    };
    try {
      let i = 0;
      while (i < run.length) {
        const msgs: Buffer[] = [];
        /** The run's index of each message's op (an op may be more than one message). */
        const opOf: number[] = [];
        let stop: { at: number; missing?: MissingDevice } | undefined;
        let end = i;
        let linksChanged = false;
        for (; end < run.length; end++) {
          const op = run[end] as KernelOp;
          let m: Buffer | undefined;
          try {
            m = encodeOp(op, ifindex, next, nsFd);
          } catch (err) {
            if (!(err instanceof MissingDevice)) throw err;
            stop = { at: end, missing: err };
            break;
          }
          if (!m) {
            stop = { at: end };
            break;
          }
          msgs.push(m);
          for (let k = splitMessages(m).length; k > 0; k--) opOf.push(end);
          if (changesLinks(op)) {
            linksChanged = true;
            end++;
            break;
          }
        }
        const r =
          msgs.length > 0
            ? io("rtnetlink apply", () => nl?.apply(nsArg(ns), Buffer.concat(msgs)))
            : undefined;
        if (linksChanged) byName = undefined;
        if (r && r.errno !== 0) {
          const at = opOf[r.done] ?? i;
          const op = run[at] as KernelOp;
          // iproute2's words for the same answer, so it classifies alike: the kernel's text when
          // it gave one, else the errno's.
          const detail = r.message ? `Error: ${r.message}.` : `RTNETLINK answers: ${r.error}`;
          const kind = classifyError(detail);
          if (!tolerated(op, kind))
            throw new KernelError(kind, describe(op), detail, { failedOpIndex: offset + at });
          i = at + 1;
          continue;
        }
        if (!stop) {
          i = end;
          continue;
        }
        const op = run[stop.at] as KernelOp;
        if (stop.missing === undefined) {
          await applyThroughBase(ns, [op], offset + stop.at);
          byName = undefined;
        } else if (!tolerated(op, stop.missing.kind))
          throw new KernelError(stop.missing.kind, describe(op), stop.missing.message, {
            failedOpIndex: offset + stop.at,
          });
        i = stop.at + 1;
      }
    } finally {
      for (const fd of fds.values()) closeSync(fd);
    }
  }

  /**
   * Which path an op takes: rtnetlink, a native sysctl write (in a named namespace), the ethtool
   * ioctl (a name the kernel could hold; others, and an addon without it, go to ethtool), the base.
   */
  const pathOf = (ns: Netns, op: KernelOp) =>
    carriedOps.has(op.op)
      ? "netlink"
      : op.op === "sysctl.set" && netnsPath(ns) !== undefined
        ? "sysctl"
        : op.op === "link.offload" && nl.ethtoolSet && validLinkName(op.name)
          ? "ethtool"
          : "base";

  async function apply(ns: Netns, ops: readonly KernelOp[]): Promise<void> {
    // As the iproute2 driver does: a key that is not one is refused before anything is applied.
    for (const op of ops) if (op.op === "sysctl.set") sysctlPath(op.key);
    let i = 0;
    while (i < ops.length) {
      const path = pathOf(ns, ops[i] as KernelOp);
      let j = i + 1;
      while (j < ops.length && pathOf(ns, ops[j] as KernelOp) === path) j++;
      const run = ops.slice(i, j);
      if (path === "netlink") await applyRun(ns, run, i);
      else if (path === "sysctl") writeSysctls(ns, run, i);
      else if (path === "ethtool") setOffloads(ns, run, i);
      else await applyThroughBase(ns, run, i);
      i = j;
    }
  }

  /** A run of sysctl.set ops in a named namespace: every file opened there at once, then written. */
  function writeSysctls(ns: Netns, run: readonly KernelOp[], offset: number): void {
    const nsPath = netnsPath(ns) as string;
    const pairs = run.flatMap((op) => (op.op === "sysctl.set" ? [sysctlPath(op.key), op.value] : []));
    const r = io("sysctl write", () => nl?.sysctlWrite(nsPath, pairs)) as SysctlFailure & { done: number };
    if (r.errno === 0) return;
    const op = run[r.done] as KernelOp;
    throw sysctlError("write", pairs[2 * r.done] as string, nsPath, r, {
      operation: describe(op),
      failedOpIndex: offset + r.done,
    });
  }

  /** A run of link.offload ops: one socket in the namespace, a get and a set of each device's features. */
  function setOffloads(ns: Netns, run: readonly KernelOp[], offset: number): void {
    const settings = offloadSettings(run);
    if (settings.length === 0) return;
    const r = io("ethtool ioctl", () =>
      nl?.ethtoolSet?.(nsArg(ns), ethtoolSetArgs(settings)),
    ) as EthtoolSetResult;
    if (r.stage === "") return;
    const s = settings[r.done] ?? (settings[0] as (typeof settings)[number]);
    throw offloadError(s, netnsPath(ns), r, {
      operation: describe(run[s.opIndex] as KernelOp),
      failedOpIndex: offset + s.opIndex,
    });
  }

  /** A run for the wrapped driver; a failure's op index is made the caller's. */
  async function applyThroughBase(ns: Netns, run: readonly KernelOp[], offset: number): Promise<void> {
    try {
      await base.apply(ns, run);
    } catch (err) {
      if (!(err instanceof KernelError) || err.failedOpIndex === undefined || offset === 0) throw err;
      const prefix = `${err.operation}: `;
      const detail = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
      throw new KernelError(err.kind, err.operation, detail, {
        cause: err,
        failedOpIndex: offset + err.failedOpIndex,
      });
    }
  }

  async function routes(ns: Netns, q: RouteQuery = {}): Promise<Route[]> {
    const names = linkNames(ns);
    if (q.dev !== undefined && ![...names.values()].includes(q.dev))
      throw new KernelError("not-found", `ip route show dev ${q.dev}`, `Cannot find device "${q.dev}"`);
    const out: Route[] = [];
    for (const f of q.family ? [q.family] : ([4, 6] as const)) {
      const req = message(
        rtm.getRoute,
        nlm.request | nlm.dump,
        next(),
        rtmsg({
          family: f === 6 ? af.inet6 : af.inet,
          dstLen: 0,
          table: 0,
          protocol: 0,
          scope: 0,
          type: 0,
          flags: 0,
        }),
        Buffer.alloc(0),
      );
      const dump = io("rtnetlink route dump", () => nl?.dump(nsArg(ns), req) as Buffer);
      out.push(...decodeRoutes(dump, names, { table: q.table, dev: q.dev }));
    }
    return out;
  }

  /** One link by name (a get, not a dump); undefined when there is none. */
  function linkMessage(ns: Netns, name: string): Buffer | undefined {
    if (!validLinkName(name)) return undefined;
    const req = message(
      rtm.getLink,
      nlm.request | nlm.ack,
      next(),
      ifinfomsg(af.unspec),
      attrs([{ type: ifla.ifname, data: Buffer.from(`${name}\0`) }]),
    );
    try {
      return nl?.dump(nsArg(ns), req);
    } catch (err) {
      if (answered(err, ENODEV)) return undefined;
      throw kernelError("rtnetlink link get", err);
    }
  }

  /** Names of links by index, one get each (a link `ip` names that is gone is left out). */
  function namesOf(ns: Netns, indexes: readonly number[]): Map<number, string> {
    const out = new Map<number, string>();
    for (const index of indexes) {
      const req = message(
        rtm.getLink,
        nlm.request | nlm.ack,
        next(),
        ifinfomsg(af.unspec, { index }),
        Buffer.alloc(0),
      );
      let reply: Buffer | undefined;
      try {
        reply = nl?.dump(nsArg(ns), req);
      } catch (err) {
        if (!answered(err, ENODEV)) throw err;
      }
      for (const [i, n] of reply ? decodeLinkNames(reply) : []) out.set(i, n);
    }
    return out;
  }

  async function links(ns: Netns): Promise<Link[]> {
    const req = message(rtm.getLink, nlm.request | nlm.dump, next(), ifinfomsg(af.unspec), Buffer.alloc(0));
    return decodeLinks(io("rtnetlink link dump", () => nl?.dump(nsArg(ns), req) as Buffer));
  }

  async function link(ns: Netns, name: string): Promise<Link | undefined> {
    const reply = linkMessage(ns, name);
    if (!reply) return undefined;
    const names = io("rtnetlink link get", () => namesOf(ns, linkReferences(reply)));
    return decodeLinks(reply, names)[0];
  }

  async function addresses(ns: Netns, dev?: string): Promise<Address[]> {
    let names: Map<number, string>;
    if (dev === undefined) names = linkNames(ns);
    else {
      const reply = linkMessage(ns, dev);
      names = reply ? decodeLinkNames(reply) : new Map();
      if (names.size === 0)
        throw new KernelError(
          "not-found",
          `ip -json addr show dev ${dev}`,
          `Device "${dev}" does not exist.`,
        );
    }
    const req = message(
      rtm.getAddr,
      nlm.request | nlm.dump,
      next(),
      ifaddrmsg({ family: af.unspec, prefixLen: 0, flags: 0, scope: 0, ifindex: 0 }),
      Buffer.alloc(0),
    );
    return decodeAddresses(
      io("rtnetlink address dump", () => nl?.dump(nsArg(ns), req) as Buffer),
      names,
    );
  }

  async function sysctl(ns: Netns, key: string): Promise<string> {
    const nsPath = netnsPath(ns);
    // The caller's own namespace: the base reads the file itself, no process.
    if (nsPath === undefined) return base.sysctl(ns, key);
    const file = sysctlPath(key);
    const r = io("sysctl read", () => nl?.sysctlRead(nsPath, file)) as SysctlFailure & { value?: string };
    if (r.errno !== 0) throw sysctlError("read", file, nsPath, r, { operation: `read ${file}` });
    return (r.value ?? "").trim();
  }

  /** Whether the kernel refused TCPDIAG_GETSOCK once (then every read asks a family at a time). */
  let perFamilyOnly = false;
  /**
   * Established TCP connections from inet_diag (NETLINK_SOCK_DIAG, a socket opened in the
   * namespace): one TCPDIAG_GETSOCK dump of both families (one walk of the kernel's connection
   * table, shared by all namespaces: the cost of a read), or a SOCK_DIAG_BY_FAMILY dump a family
   * where the kernel refuses it. The kernel keeps only the established ones (idiag_states), the
   * decoder the port: no bytecode filter, as a namespace's established sockets are a few (a
   * node's BGP sessions and its datastore connections) and the table walk costs the same with
   * one. The base's `ss` with an addon built before sockDiagDump.
   */
  async function tcpSessions(ns: Netns, q: TcpSessionQuery = {}): Promise<TcpSession[]> {
    const port = queryPort(q);
    const diag = nl?.sockDiagDump;
    if (!diag) return base.tcpSessions(ns, q);
    const o = { state: tcpEstablished, port };
    const what = "sock_diag TCP dump";
    if (!perFamilyOnly) {
      try {
        return decodeTcpSessions(diag(nsArg(ns), tcpBothFamiliesRequest(1 << tcpEstablished, next())), o);
      } catch (err) {
        if ((err as { answer?: boolean }).answer !== true) throw kernelError(what, err);
        perFamilyOnly = true;
      }
    }
    return ([4, 6] as const).flatMap((family) =>
      decodeTcpSessions(
        io(what, () => diag(nsArg(ns), tcpDumpRequest(family, 1 << tcpEstablished, next()))),
        o,
      ),
    );
  }

  /**
   * Named namespaces made in-process (the addon's createNetns: what `ip netns add` does, without
   * a process per pod of a lab); names iproute2 would judge, and an older addon, go to it.
   */
  const netns: Kernel["netns"] = {
    ...base.netns,
    async create(name, o) {
      const make = nl.createNetns;
      if (!make || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(name)) return base.netns.create(name, o);
      try {
        make(netnsRunDir, name);
      } catch (err) {
        const text = String((err as Error).message ?? err);
        const kind = classifyError(text);
        if (kind === "exists" && o?.ifAbsent) return;
        throw new KernelError(kind, `ip netns add ${name}`, text, { cause: err });
      }
    },
  };

  return { ...base, apply, routes, links, link, addresses, sysctl, tcpSessions, netns };
}

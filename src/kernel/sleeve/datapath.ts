/**
 * The sleeve datapath's I/O: starts the native helper (`native/sleeve.c`) in the node's namespace,
 * feeds it the peer table by diff over its stdin, reads its counters, and restarts it when it
 * exits on its own (with backoff), handing the new process the whole table again.
 *
 * Lifetime: the helper dies with the agent (stdin EOF, PR_SET_PDEATHSIG). The TUN device and the
 * routes into it are kernel state and stay; while no helper holds the device, packets routed into
 * it are dropped, until the restarted agent's first pass starts a new helper (see the README's
 * Sleeve section for the gap measured).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { access } from "node:fs/promises";
import type { Logger } from "pino";
import { isIpv4 } from "../../common/cidr.js";
import type { Netns } from "../api.js";
import {
  fastestSleeveFeatures,
  SLEEVE_DROP_REASONS,
  type SleeveConfig,
  type SleeveCounters,
  type SleeveDatapath,
  type SleeveFeatures,
  type SleevePeer,
  type SleeveProcessStatus,
} from "./api.js";
import { SleeveError } from "./errors.js";
import { planSleevePeers, type SleevePeerTable } from "./peer-plan.js";

const validIfname = (name: string): boolean => /^[^\s/:]{1,15}$/.test(name) && name !== "." && name !== "..";

export function validateSleeveConfig(config: SleeveConfig): void {
  const bad = (what: string) => {
    throw new SleeveError("invalid-config", what);
  };
  if (!validIfname(config.tunDev)) bad(`tunDev "${config.tunDev}": a link name of 1 to 15 characters`);
  if (!isIpv4(config.localIp))
    bad(`localIp "${config.localIp}": an IPv4 address (the node's underlay address)`);
  const [addr, prefix] = config.localCidr.split("/");
  if (!addr || !isIpv4(addr) || !/^\d{1,2}$/.test(prefix ?? "") || Number(prefix) > 32)
    bad(`localCidr "${config.localCidr}": this node's IPv4 pod subnet, e.g. 10.244.1.0/24`);
  if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535)
    bad(`port ${config.port}: 1 to 65535 (--sleeve-port)`);
  if (!Number.isInteger(config.mtu) || config.mtu < 68 || config.mtu > 65499)
    bad(`mtu ${config.mtu}: an integer from 68 to 65499`);
  const b = config.features?.batch;
  if (b !== undefined && (!Number.isInteger(b) || b < 1 || b > 64)) bad(`batch ${b}: 1 to 64`);
}

/** The helper's command line for `config` in `ns`. */
export function sleeveHelperArgs(ns: Netns, config: SleeveConfig): string[] {
  const f = config.features ?? fastestSleeveFeatures;
  const netns = ns.kind === "named" ? `/run/netns/${ns.name}` : ns.kind === "path" ? ns.path : undefined;
  return [
    ...(netns ? ["--netns", netns] : []),
    ...["--tun", config.tunDev, "--port", String(config.port)],
    ...["--local-ip", config.localIp, "--local-cidr", config.localCidr],
    // a chunk's payload is one TUN-MTU packet: the datagram is MTU + the 8-byte chunk header
    ...["--max-datagram", String(config.mtu + 8), "--batch", String(f.batch)],
    ...(f.offload ? [] : ["--no-offload"]),
    ...(f.udpGso ? [] : ["--no-udp-gso"]),
    ...(f.udpGro ? [] : ["--no-udp-gro"]),
  ];
}

/** Pure: the helper's `stats {…}` reply as counters. */
export function parseSleeveStats(line: string): SleeveCounters {
  const m = /^stats (\{.*\})$/.exec(line.trim());
  if (!m?.[1]) throw new SleeveError("failed", `the sleeve helper answered "${line}" to stats`);
  const raw = JSON.parse(m[1]) as Record<string, number>;
  const n = (k: string) => (typeof raw[k] === "number" ? raw[k] : 0);
  return {
    encapsulated: n("encapsulated"),
    decapsulated: n("decapsulated"),
    datagramsOut: n("datagramsOut"),
    datagramsIn: n("datagramsIn"),
    dropped: Object.fromEntries(SLEEVE_DROP_REASONS.map((r) => [r, n(r)])) as SleeveCounters["dropped"],
  };
}

interface Helper {
  readonly child: ChildProcessWithoutNullStreams;
  readonly key: string;
  readonly features: SleeveFeatures;
  readonly ask: (line: string) => Promise<string>;
  table: SleevePeerTable;
}

const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 5000;

export function createSleeveDatapath(opts: { helperPath: string; logger?: Logger }): SleeveDatapath {
  const { helperPath, logger } = opts;
  let helper: Helper | undefined;
  let starting: Promise<Helper> | undefined;
  let want: { ns: Netns; config: SleeveConfig } | undefined;
  let wantedPeers: readonly SleevePeer[] = [];
  let restarts = 0;
  let lastExit: string | undefined;
  let stopped = false;
  let backoff = RESTART_MIN_MS;
  let restartTimer: NodeJS.Timeout | undefined;
  /** Serialises table changes: one diff at a time against the table the helper holds. */
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  async function available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await access(helperPath);
    } catch {
      return {
        ok: false,
        reason: `sleeve helper not built: ${helperPath} is missing; install a C compiler (cc), then npm run build`,
      };
    }
    try {
      await access("/dev/net/tun");
    } catch {
      return { ok: false, reason: "/dev/net/tun is missing: this kernel has no TUN driver (CONFIG_TUN)" };
    }
    return { ok: true };
  }

  function start(ns: Netns, config: SleeveConfig): Promise<Helper> {
    const key = JSON.stringify([ns, config]);
    return new Promise<Helper>((resolve, reject) => {
      const child = spawn(helperPath, sleeveHelperArgs(ns, config), { stdio: ["pipe", "pipe", "pipe"] });
      const pending: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
      let stderr = "";
      let buf = "";
      let ready = false;
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr = (stderr + d).slice(-2000);
      });
      const ask = (line: string) =>
        new Promise<string>((res, rej) => {
          if (child.exitCode !== null || child.signalCode !== null || !child.stdin.writable)
            return rej(
              new SleeveError("failed", `the sleeve helper is not running (${lastExit ?? "exited"})`),
            );
          pending.push({ resolve: res, reject: rej });
          child.stdin.write(`${line}\n`);
        });
      child.stdin.on("error", () => undefined); // EPIPE when it died: the exit handler reports it
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!ready) {
            const m = /^ready (\{.*\})$/.exec(line);
            if (!m?.[1]) continue;
            ready = true;
            const h: Helper = {
              child,
              key,
              features: JSON.parse(m[1]) as SleeveFeatures,
              ask,
              table: new Map(),
            };
            resolve(h);
            continue;
          }
          pending.shift()?.resolve(line);
        }
      });
      child.on("error", (err) =>
        reject(new SleeveError("failed", `cannot start ${helperPath}: ${err.message}`)),
      );
      child.on("exit", (code, signal) => {
        const why = `${signal ? `killed by ${signal}` : `exit ${code}`}${stderr.trim() ? `: ${stderr.trim().split("\n").slice(-2).join("; ")}` : ""}`;
        for (const p of pending.splice(0))
          p.reject(new SleeveError("failed", `the sleeve helper ended (${why})`));
        if (!ready) {
          reject(new SleeveError("failed", `the sleeve helper did not start (${why})`));
          return;
        }
        lastExit = why;
        if (helper?.child === child) {
          helper = undefined;
          if (!stopped) {
            logger?.warn({ exit: why, restartInMs: backoff }, "sleeve helper exited; restarting it");
            scheduleRestart();
          }
        }
      });
    });
  }

  /** start(), remembered so stop() can wait for a start under way. */
  function startTracked(ns: Netns, config: SleeveConfig): Promise<Helper> {
    const p = start(ns, config);
    starting = p;
    return p.finally(() => {
      starting = undefined;
    });
  }

  function scheduleRestart(): void {
    clearTimeout(restartTimer);
    restartTimer = setTimeout(() => {
      if (stopped || helper || !want) return;
      restarts++;
      const w = want;
      serial(async () => {
        helper = await startTracked(w.ns, w.config);
        await pushPeers(wantedPeers);
        backoff = RESTART_MIN_MS;
      }).catch((err: Error) => {
        backoff = Math.min(backoff * 2, RESTART_MAX_MS);
        logger?.warn({ err: err.message, retryInMs: backoff }, "sleeve helper restart failed");
        scheduleRestart();
      });
    }, backoff);
    restartTimer.unref();
  }

  async function ensure(ns: Netns, config: SleeveConfig): Promise<void> {
    validateSleeveConfig(config);
    const a = await available();
    if (!a.ok) throw new SleeveError("unavailable", a.reason);
    stopped = false;
    want = { ns, config };
    const key = JSON.stringify([ns, config]);
    await serial(async () => {
      if (helper?.key === key) return;
      if (helper) await endHelper(helper); // the config changed: a new helper, the table again
      helper = await startTracked(ns, config);
      await pushPeers(wantedPeers);
    });
  }

  /** Send the commands that make the helper's table `peers`; the caller holds `serial`. */
  async function pushPeers(peers: readonly SleevePeer[]) {
    const h = helper;
    if (!h) return { added: 0, removed: 0, changed: 0 };
    const plan = planSleevePeers(h.table, peers);
    for (const cmd of plan.commands) {
      const r = await h.ask(cmd);
      if (r !== "ok") throw new SleeveError("invalid-peers", `the sleeve helper refused "${cmd}": ${r}`);
    }
    h.table = plan.table;
    return { added: plan.added, removed: plan.removed, changed: plan.changed };
  }

  function syncPeers(peers: readonly SleevePeer[]) {
    planSleevePeers(new Map(), peers); // validates before anything is sent
    wantedPeers = peers;
    return serial(() => pushPeers(peers));
  }

  async function counters(): Promise<SleeveCounters | undefined> {
    const h = helper;
    if (!h) return undefined;
    return parseSleeveStats(await h.ask("stats"));
  }

  function endHelper(h: Helper): Promise<void> {
    if (h.child.exitCode !== null || h.child.signalCode !== null) return Promise.resolve();
    if (helper === h) helper = undefined;
    return new Promise((resolve) => {
      h.child.once("exit", () => resolve());
      h.child.stdin.end(); // EOF: the helper ends itself
      setTimeout(() => h.child.kill("SIGKILL"), 2000).unref();
    });
  }

  async function stop(): Promise<void> {
    stopped = true;
    clearTimeout(restartTimer);
    await starting?.catch(() => undefined);
    const h = helper;
    helper = undefined;
    if (h) await endHelper(h);
  }

  const status = (): SleeveProcessStatus => ({
    running: helper !== undefined,
    ...(helper?.child.pid !== undefined ? { pid: helper.child.pid } : {}),
    ...(helper ? { features: helper.features } : {}),
    restarts,
    ...(lastExit ? { lastExit } : {}),
  });

  return { available, ensure, syncPeers, counters, status, stop };
}

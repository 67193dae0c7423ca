import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { describeError, StrataError } from "../../common/errors.js";
import type { Netns } from "../../kernel/api.js";
import { netnsPath } from "../../kernel/iproute2/netns-args.js";
import { hasEnded, type ProcessIdentity, statStartTime } from "../../process/process-identity.js";
import { uapiRequest } from "./uapi-client.js";
import { encodeGet } from "./uapi-codec.js";

/**
 * wireguard-go, run and supervised by the agent. wireguard-go puts its UAPI socket at the fixed
 * path /var/run/wireguard/<ifname>.sock, and every lab node shares the host's mount namespace:
 * two nodes with the same device name would take each other's socket. So each runs in a private
 * mount namespace of its own (`unshare --mount --propagation private`) with this node's run
 * directory bound over /var/run/wireguard: the socket appears at `<runDir>/<ifname>.sock` for the
 * agent (and nowhere else), and every node keeps the same device name.
 */

/** Pure: the command line that starts wireguard-go for `dev` in namespace `netns` (a path; undefined: this one). */
export function wireguardGoArgv(netns: string | undefined, runDir: string, dev: string): string[] {
  return [
    ...(netns ? ["nsenter", `--net=${netns}`] : []),
    ...["unshare", "--mount", "--propagation", "private"],
    "sh",
    "-c",
    // exec: the PID the agent watches is wireguard-go's own.
    'mkdir -p /var/run/wireguard && mount --bind "$1" /var/run/wireguard && exec wireguard-go -f "$2"',
    "strata-wireguard-go",
    runDir,
    dev,
  ];
}

/** Where a node's wireguard-go answers (the socket inside its run directory). */
export const uapiSocketPath = (runDir: string, dev: string) => join(runDir, `${dev}.sock`);

export class WireguardGoError extends StrataError {
  constructor(message: string) {
    super("backend.wireguard-go", message);
  }
}

export interface WireguardGoOptions {
  readonly netns: Netns;
  readonly dev: string;
  readonly runDir: string;
  readonly logFile: string;
  readonly logger: Logger;
  /** Aborted when the agent stops: supervision ends, wireguard-go keeps running (traffic flows). */
  readonly signal: AbortSignal;
  /** wireguard-go answers on its socket (after a start, an adoption or a restart): configure it. */
  readonly onReady: (how: "started" | "adopted" | "restarted") => Promise<void>;
}

export interface WireguardGoStatus {
  pid?: number;
  restarts: number;
  lastExit?: { at: string; code: number | null; signal: string | null };
  adopted: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The identity of a process just spawned, from its stat line alone: while nsenter, unshare and sh
 * exec one another its command line is briefly empty (process-identity's identify() would take
 * that for an exiting process), but its PID and start time stay the same through every exec.
 */
function spawnedIdentity(pid: number): ProcessIdentity | undefined {
  try {
    const startTime = statStartTime(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return startTime ? { pid, startTime } : undefined;
  } catch {
    return undefined;
  }
}

/** Does a UAPI socket answer a get? */
async function answers(socket: string): Promise<boolean> {
  return uapiRequest(socket, encodeGet(), 1_000).then(
    () => true,
    () => false,
  );
}

/**
 * Starts wireguard-go (or adopts the one a previous agent left running: its socket answers and
 * its PID file's process is alive), restarts it whenever it ends, and calls onReady each time it
 * answers again. The process is detached: an agent restart leaves it, and the traffic, in place.
 */
export class WireguardGoSupervisor {
  readonly status: WireguardGoStatus = { restarts: 0, adopted: false };
  #identity: ProcessIdentity | undefined;
  #poll: NodeJS.Timeout | undefined;
  #restarting = false;

  constructor(private readonly o: WireguardGoOptions) {}

  get socket(): string {
    return uapiSocketPath(this.o.runDir, this.o.dev);
  }

  get #pidFile(): string {
    return join(this.o.runDir, "wireguard-go.pid.json");
  }

  /** Resolves once wireguard-go answers and onReady has run; a failure to start at all throws. */
  async start(): Promise<void> {
    mkdirSync(this.o.runDir, { recursive: true, mode: 0o700 });
    const previous = await this.#previous();
    if (previous && (await answers(this.socket))) {
      this.#identity = previous;
      this.status.adopted = true;
      this.status.pid = previous.pid;
      this.o.logger.info({ pid: previous.pid, socket: this.socket }, "wireguard-go already running: adopted");
      await this.o.onReady("adopted");
    } else {
      await this.#spawn();
      await this.o.onReady("started");
    }
    // One watch for both a child and an adopted process: its /proc start time (no pidfd in Node).
    this.#poll = setInterval(() => void this.#check(), 250);
    this.o.signal.addEventListener("abort", () => clearInterval(this.#poll), { once: true });
  }

  /** Stop supervising (the agent stops); wireguard-go keeps running. */
  stop(): void {
    clearInterval(this.#poll);
  }

  async #previous(): Promise<ProcessIdentity | undefined> {
    try {
      const p = JSON.parse(await readFile(this.#pidFile, "utf8")) as ProcessIdentity;
      return typeof p.pid === "number" && typeof p.startTime === "string" && !hasEnded(p) ? p : undefined;
    } catch {
      return undefined;
    }
  }

  async #spawn(): Promise<void> {
    const argv = wireguardGoArgv(netnsPath(this.o.netns), this.o.runDir, this.o.dev);
    const log = openSync(this.o.logFile, "a", 0o600);
    const child = spawn(argv[0] as string, argv.slice(1), {
      detached: true,
      stdio: ["ignore", log, log],
      env: { ...process.env, LOG_LEVEL: "error", WG_PROCESS_FOREGROUND: "1" },
    });
    closeSync(log);
    const spawnError = new Promise<never>((_, reject) =>
      child.once("error", (err) => reject(new WireguardGoError(`cannot start wireguard-go: ${err.message}`))),
    );
    child.unref();
    const pid = child.pid;
    const identity = pid ? spawnedIdentity(pid) : undefined;
    if (!identity) {
      await Promise.race([spawnError, sleep(100)]);
      throw new WireguardGoError(`wireguard-go ended at once (see ${this.o.logFile})`);
    }
    child.once("exit", (code, signal) => {
      this.status.lastExit = { at: new Date().toISOString(), code, signal };
    });
    this.#identity = identity;
    this.status.pid = identity.pid;
    this.status.adopted = false;
    await writeFile(this.#pidFile, `${JSON.stringify(identity)}\n`, { mode: 0o600 });
    for (let waited = 0; ; waited += 50) {
      if (await answers(this.socket)) return;
      if (hasEnded(identity))
        throw new WireguardGoError(
          `wireguard-go exited before it answered on ${this.socket} (see ${this.o.logFile})`,
        );
      if (waited > 10_000)
        throw new WireguardGoError(`wireguard-go did not answer on ${this.socket} within 10 s`);
      await sleep(50);
    }
  }

  async #check(): Promise<void> {
    if (this.#restarting || this.o.signal.aborted || !this.#identity || !hasEnded(this.#identity)) return;
    this.#restarting = true;
    try {
      this.o.logger.warn(
        { pid: this.#identity.pid, exit: this.status.lastExit },
        "wireguard-go ended: restarting it (routes and peers are applied again)",
      );
      for (let delay = 100; !this.o.signal.aborted; delay = Math.min(delay * 2, 5_000)) {
        try {
          await this.#spawn();
          this.status.restarts++;
          await this.o.onReady("restarted");
          return;
        } catch (err) {
          this.o.logger.error({ err: describeError(err), retryInMs: delay }, "wireguard-go restart failed");
          await sleep(delay);
        }
      }
    } finally {
      this.#restarting = false;
    }
  }
}

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { StrataError } from "../../common/errors.js";
import { currentNetns, type Kernel } from "../../kernel/api.js";
import { probeScript } from "./probe-script.js";
import type { Sighting, TracePacket } from "./trace-model.js";

/**
 * The proven path (I/O): one marked probe, captured in every namespace of the path at once.
 *
 * How it captures, and why: one Python process opens an AF_PACKET socket in each namespace and
 * sends the probe itself (probe-script.ts). Measured with bench/trace.ts on this 2-core machine
 * (shared, load ~8), one probe over the 5 namespaces of a cross-node VXLAN path, p50: this process
 * 112 ms in all (87 ms of it is Python starting), every namespace seen; a tcpdump per namespace
 * with a tight BPF filter 288 ms (174 ms until all of them listen, which must happen before the
 * probe may leave, then stopping and parsing them); nft counting rules 563 ms (a write, a read and
 * a delete per namespace) and they show neither the device nor the outer header. AF_PACKET is also
 * the most exact: it sees every device in both directions, before any firewall (a packet the
 * source guard drops is still seen arriving), and reads the outer VXLAN header as sent.
 */

export class TraceProbeError extends StrataError {
  constructor(message: string) {
    super("lab.trace.probe", message);
  }
}

export interface ProbeRequest {
  readonly packet: TracePacket;
  readonly srcNs: string;
  /** Namespaces to capture in. */
  readonly capture: readonly string[];
  /** The destination's namespace: the probe is done when it arrives there. */
  readonly doneNs: string;
  readonly timeoutMs: number;
}

export interface ProbeResult {
  readonly marker: string;
  /** The sender's kernel refused the packet (e.g. EMSGSIZE: larger than the route's MTU). */
  readonly sendError?: string;
  readonly sightings: readonly Sighting[];
  readonly doneAtUs: number;
}

/**
 * The system's Python, not a version manager's shim on PATH (a pyenv shim is a shell script that
 * costs ~0.6 s per start here, more than the whole rest of a trace).
 */
export const probePython = (): string =>
  ["/usr/bin/python3", "/usr/local/bin/python3"].find((p) => existsSync(p)) ?? "python3";

/** Send one marked probe and capture it along the way. */
export async function sendProbe(kernel: Kernel, req: ProbeRequest): Promise<ProbeResult> {
  const marker = `STRATA-TRACE-${randomBytes(6).toString("hex")}`;
  const args = {
    capture: [...new Set(req.capture)],
    srcNs: req.srcNs,
    src: req.packet.src,
    dst: req.packet.dst,
    proto: req.packet.proto,
    port: req.packet.port ?? 0,
    size: req.packet.size,
    ident: randomBytes(2).readUInt16BE(0),
    marker,
    doneNs: req.doneNs,
    timeoutMs: req.timeoutMs,
  };
  const r = await kernel.exec(
    currentNetns,
    [probePython(), "-I", "-S", "-c", probeScript, JSON.stringify(args)],
    {
      timeoutMs: req.timeoutMs + 10_000,
    },
  );
  if (r.code !== 0) throw new TraceProbeError(`the probe failed: ${r.stderr.trim().split("\n").pop()}`);
  return { marker, ...parseProbeOutput(r.stdout) };
}

/** Pure: decode the probe's one JSON line. */
export function parseProbeOutput(stdout: string): Omit<ProbeResult, "marker"> {
  const o = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as {
    error?: string | null;
    sightings?: Sighting[];
    doneAtUs?: number;
  };
  return {
    ...(o.error ? { sendError: o.error } : {}),
    sightings: o.sightings ?? [],
    doneAtUs: o.doneAtUs ?? 0,
  };
}

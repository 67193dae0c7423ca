import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { defaultWireguardPort } from "../backends/wireguard/wireguard-peers.js";
import { type Kernel, namedNetns } from "../kernel/api.js";
import type { CheckResult } from "./check.js";
import type { LabState } from "./runner.js";
import { underlayNs } from "./topology.js";

/** Models whose node-to-node traffic must be encrypted on the underlay, with the UDP port they use. */
const encryptedModels: Readonly<Record<string, number>> = { wireguard: defaultWireguardPort };

/** One tcpdump of ours (by its PID) printing headers and payload (-A) while `traffic` runs. */
async function capture(
  ns: string,
  argv: readonly string[],
  traffic: () => Promise<unknown>,
): Promise<string> {
  const dump = spawn("ip", ["netns", "exec", ns, "tcpdump", "-n", "-l", "-A", "-s", "0", ...argv], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  dump.stdout.on("data", (d) => (out += d));
  dump.stderr.on("data", (d) => (err += d));
  for (let waited = 0; !/listening on/.test(err); waited += 50) {
    if (waited > 10_000 || dump.exitCode !== null)
      throw new Error(`tcpdump in ${ns} did not start: ${err.trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await traffic();
  } finally {
    dump.kill("SIGINT");
    await once(dump, "close");
  }
  return out;
}

/**
 * Pure: the verdict on an underlay capture (tcpdump -n -A) of the traffic between nodes: every
 * packet is UDP to or from `port`, at least one was seen, and the marker never appears in
 * plaintext. Returns what is wrong, or undefined.
 */
export function judgeUnderlayCapture(text: string, port: number, marker: string): string | undefined {
  const headers = text.split("\n").filter((l) => / IP \S+ > \S+: /.test(l));
  const onPort = new RegExp(`^\\S+\\.${port}$`);
  const other = headers.filter((l) => {
    const m = / IP (\S+) > (\S+): (UDP|\S+)/.exec(l);
    return (
      !m ||
      !/UDP/.test(l) ||
      !(onPort.test(m[1] as string) || onPort.test((m[2] as string).replace(/:$/, "")))
    );
  });
  if (text.includes(marker) || text.replaceAll("\n", "").includes(marker))
    return `the marker "${marker}" crossed the underlay in plaintext`;
  if (other.length > 0)
    return `${other.length} packet(s) between nodes not UDP port ${port}: ${other[0]?.trim()}`;
  if (headers.length === 0) return `no UDP port ${port} packet seen between the nodes`;
  return undefined;
}

/**
 * For an encrypting model: a pod pings a pod on another node with a marker string as payload
 * (`ping -p`); a capture in the sending pod sees the marker (the probe carries it), and a capture
 * on the underlay sees only UDP to or from the model's port between the nodes, and never the marker.
 */
export async function checkUnderlayEncrypted(
  kernel: Kernel,
  state: LabState,
): Promise<CheckResult | undefined> {
  const port = encryptedModels[state.spec.model];
  const a = state.pods[0];
  const b = state.pods.find((p) => p.node !== a?.node);
  if (port === undefined || !a || !b) return undefined;
  const marker = `S3CR3T-${randomBytes(4).toString("hex")}!`;
  const hex = Buffer.from(marker).toString("hex");
  const hosts = state.nodes.map((n) => n.ip);
  const filter = `ip and (${hosts.map((h) => `src host ${h}`).join(" or ")}) and (${hosts.map((h) => `dst host ${h}`).join(" or ")})`;
  const traffic = () =>
    kernel.exec(namedNetns(a.ns), [
      "ping",
      "-c",
      "10",
      "-i",
      "0.05",
      "-W",
      "2",
      "-q",
      "-s",
      "200",
      "-p",
      hex,
      b.ip,
    ]);
  let inPod = "";
  const onUnderlay = await capture(underlayNs, ["-i", "any", filter], async () => {
    inPod = await capture(a.ns, ["-i", "eth0", "icmp"], traffic);
  });
  const problem = inPod.includes(marker)
    ? judgeUnderlayCapture(onUnderlay, port, marker)
    : "the probe's marker was not seen leaving the pod (capture broken?)";
  return {
    kind: "encrypted on the underlay",
    from: a.name,
    to: `${b.ip} (only UDP/${port} between nodes${problem ? `: ${problem}` : ""})`,
    ok: problem === undefined,
  };
}

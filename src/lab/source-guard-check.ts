import { type Kernel, namedNetns } from "../kernel/api.js";
import { readSpoofCounts } from "../plugins/strata/source-guard.js";
import type { CheckResult } from "./check.js";
import type { LabState } from "./runner.js";

/** UDP packets with a forged IPv4 source, from a raw socket (a pod has CAP_NET_RAW in its namespace). */
const sendSpoofed = `
import socket, struct, sys
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload = b"strata-lab-spoof"
udp = struct.pack("!HHHH", 40000, 40001, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(count):
    s.sendto(ip + udp, (dst, 0))
`;

/**
 * A pod sends packets with another pod's address as source toward a pod on another node: the
 * node's source guard must drop every one of them (its counter rises by exactly that many).
 */
export async function checkSourceGuard(kernel: Kernel, state: LabState): Promise<CheckResult | undefined> {
  const a = state.pods[0];
  const node = state.nodes.find((n) => n.name === a?.node);
  const target = state.pods.find((p) => p.node !== a?.node);
  // A neighbour pod's address when there is one, else another node's.
  const forged =
    state.pods.find((p) => p !== a && p.node === a?.node)?.ip ??
    state.nodes.find((n) => n.name !== a?.node)?.ip;
  if (!a || !node || !target || !forged) return undefined;
  const onNode = (argv: readonly string[]) => kernel.exec(namedNetns(node.ns), argv);
  const sent = 5;
  let ok = false;
  try {
    const before = await readSpoofCounts(onNode);
    const r = await kernel.exec(namedNetns(a.ns), [
      "python3",
      "-c",
      sendSpoofed,
      forged,
      target.ip,
      String(sent),
    ]);
    const after = await readSpoofCounts(onNode);
    ok = r.code === 0 && after.ipv4 - before.ipv4 === sent;
  } catch {
    ok = false;
  }
  return { kind: "spoofed source dropped", from: a.name, to: `${target.ip} (as ${forged})`, ok };
}

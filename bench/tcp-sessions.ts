/**
 * What counting a lab's BGP sessions costs (src/lab/bgp-status.ts: every namespace in turn, as
 * `strata lab up` does at its end and bench/lab-convergence.ts after every restart): N throwaway
 * namespaces, each holding 3 established port-179 connections on its loopback (IPv4, IPv6 and an
 * IPv4 peer of a dual-stack listener: 6 ends) and one on port 8080, then `tcpSessions(ns,
 * { port: 179 })` over all N, one after another, through the iproute2 driver (`ss` under nsenter,
 * a process a namespace: the reference) and the rtnetlink driver (inet_diag dumps, in-process),
 * alternated in the same run; and the rtnetlink driver on a kernel refusing the both-families
 * request (one dump a family: two walks of the kernel's connection table instead of one). The connections are made by one python3 process that enters each
 * namespace in turn (setns), so the bench itself holds no process per namespace.
 * Usage: node dist/bench/tcp-sessions.js [--sizes 50,200] [--rounds 5]   (root; under both locks)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type Kernel, namedNetns } from "../src/kernel/api.js";
import { createIproute2Kernel } from "../src/kernel/iproute2/index.js";
import { loadRtnetlinkAddon, withRtnetlink } from "../src/kernel/rtnetlink/driver.js";
import { median } from "./stats.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const sizes = (arg("--sizes") ?? "50,200").split(",").map(Number);
const rounds = Number(arg("--rounds")) || 5;
const prefix = `strata-b-tcps-${process.pid}-`;

const holder = `
import ctypes, os, resource, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
def pair(listener, family, host, port):
    c = socket.create_connection((host, port))
    s, _ = listener.accept()
    held.extend([c, s])
for name in sys.argv[1:]:
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns " + name)
    os.close(fd)
    bgp = socket.socket(socket.AF_INET6)
    bgp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    bgp.bind(("::", 179)); bgp.listen(8)
    other = socket.socket(); other.bind(("127.0.0.1", 8080)); other.listen(8)
    held.extend([bgp, other])
    pair(bgp, 6, "::1", 179)
    pair(bgp, 6, "127.0.0.1", 179)
    pair(bgp, 6, "::ffff:127.0.0.1", 179)
    pair(other, 4, "127.0.0.1", 8080)
print("ready", flush=True)
sys.stdin.read()
`;

function startHolder(names: readonly string[]): Promise<ChildProcess> {
  const child = spawn("python3", ["-c", holder, ...names], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => d.toString().includes("ready") && resolve(child));
    child.on("exit", (code) => reject(new Error(`the connection holder exited (${code})`)));
  });
}

/** All namespaces in turn, as countBgpSessions does: ms, and the ends counted. */
async function countAll(k: Kernel, names: readonly string[]): Promise<[number, number]> {
  const t = performance.now();
  let ends = 0;
  for (const n of names) ends += (await k.tcpSessions(namedNetns(n), { port: 179 })).length;
  return [performance.now() - t, ends];
}

const addon = loadRtnetlinkAddon();
if (!addon?.sockDiagDump)
  throw new Error("the rtnetlink addon (with sockDiagDump) is not built: npm run build");
const ip = createIproute2Kernel();
const nl = withRtnetlink(createIproute2Kernel(), addon);
/** The same driver on a kernel refusing TCPDIAG_GETSOCK: one SOCK_DIAG_BY_FAMILY dump a family. */
const diag = addon.sockDiagDump.bind(addon);
const perFamily = withRtnetlink(createIproute2Kernel(), {
  ...addon,
  sockDiagDump: (p: string | null, r: Buffer) => {
    if (r.readUInt16LE(4) === 18) throw Object.assign(new Error("refused"), { errno: 22, answer: true });
    return diag(p, r);
  },
});
const made: string[] = [];
let child: ChildProcess | undefined;
const f = (n: number) => n.toFixed(1).padStart(9);
try {
  console.log(`tcpSessions(ns, { port: 179 }) over N namespaces in turn, ms (median of ${rounds} rounds)`);
  console.log(
    `${"N".padStart(4)} ${"ends".padStart(6)} ${"ss (iproute2)".padStart(14)} ${"inet_diag".padStart(10)} ${"per family".padStart(11)}  ss/inet_diag  per ns: ss / inet_diag / per family`,
  );
  for (const n of sizes) {
    const names = Array.from({ length: n }, (_, i) => `${prefix}${made.length + i}`);
    for (const name of names) {
      await nl.netns.create(name);
      made.push(name);
      await nl.apply(namedNetns(name), [{ op: "link.set", name: "lo", up: true }]);
    }
    child = await startHolder(names);
    await countAll(nl, names); // warm up
    await countAll(perFamily, names);
    await countAll(ip, names.slice(0, 5));
    const times: Record<"ss" | "diag" | "fam", number[]> = { ss: [], diag: [], fam: [] };
    for (let r = 0; r < rounds; r++) {
      const [tIp, eIp] = await countAll(ip, names);
      const [tNl, eNl] = await countAll(nl, names);
      const [tFam, eFam] = await countAll(perFamily, names);
      if (eIp !== 6 * n || eNl !== 6 * n || eFam !== 6 * n)
        throw new Error(`ends counted: ss ${eIp}, inet_diag ${eNl} / ${eFam}, want ${6 * n}`);
      times.fam.push(tFam);
      times.ss.push(tIp);
      times.diag.push(tNl);
    }
    const [s, d, pf] = [median(times.ss), median(times.diag), median(times.fam)];
    console.log(
      `${String(n).padStart(4)} ${String(6 * n).padStart(6)} ${f(s).padStart(14)} ${f(d).padStart(10)} ${f(pf).padStart(11)}  ${`${(s / d).toFixed(0)}×`.padStart(12)}  ${(s / n).toFixed(2)} / ${(d / n).toFixed(3)} / ${(pf / n).toFixed(3)}`,
    );
    child.stdin?.end();
    child.kill();
    child = undefined;
  }
} finally {
  if (child?.pid !== undefined) child.kill();
  for (const name of made) await ip.netns.delete(name, { ifPresent: true });
}

/**
 * Records what src/kernel/rtnetlink/decode-links.test.ts decodes: a namespace with one device of
 * each kind the agent reads (veth pairs, one to another namespace, a bridge with a port, VXLAN with
 * IPv4 and IPv6 sources, macvlans, one whose parent is in another namespace, tun and tap) and IPv4
 * and IPv6 addresses; its RTM_GETLINK and RTM_GETADDR dumps (hex) beside what `ip -json` prints
 * of the same state. Run as root, after a build:
 *   node dist/test/support/capture-rtnetlink.js > test/fixtures/rtnetlink/devices.json
 */
import { execFileSync } from "node:child_process";
import { af, ifaddrmsg, ifinfomsg, message, nlm, rtm } from "../../src/kernel/rtnetlink/codec.js";
import { loadRtnetlinkAddon } from "../../src/kernel/rtnetlink/driver.js";
import { TestNamespaces } from "./netns.js";

const addon = loadRtnetlinkAddon();
if (!addon) throw new Error("the rtnetlink addon is not built: run npm run build");
const nss = new TestNamespaces("capture");
try {
  const a = nss.create("a");
  const b = nss.create("b");
  const ip = (...args: string[]) => execFileSync("ip", ["-n", a, ...args], { encoding: "utf8" });
  const ipB = (line: string) => execFileSync("ip", ["-n", b, ...line.split(" ")]);
  for (const line of [
    "link add u0 type veth peer name u1",
    `link add p0 type veth peer name p1 netns ${b}`,
    // A macvlan whose parent (p1) is in the other namespace.
    () => ipB(`link add mv1 link p1 type macvlan mode bridge`),
    () => ipB(`link set mv1 netns ${a}`),
    "link add br0 type bridge",
    "link set u1 master br0",
    "link add vx0 type vxlan id 5 dstport 8472 local 192.168.5.1 nolearning dev u0",
    "link add vx1 type vxlan id 6 dstport 4789 local fd00::1 learning",
    "link add mv0 link u0 type macvlan mode private",
    "tuntap add t0 mode tun",
    "tuntap add t1 mode tap",
    "link set u0 up",
    "link set mv0 up",
    "link set u1 up",
    "link set br0 up",
    "link set mtu 1400 dev p0",
    "addr add 192.168.5.1/24 dev u0",
    "addr add 192.168.6.1/24 dev u0",
    "addr add fd00:5::1/64 dev u0 nodad",
    "addr add 10.0.0.1/32 peer 10.0.0.2 dev u0",
    "addr add 10.1.0.1/16 dev br0 scope link",
    "addr add fd00:6::1/64 dev br0 nodad",
  ])
    if (typeof line === "string") ip(...line.split(" "));
    else line();
  // Link-local IPv6 addresses come with a link that is up; let them be there in both reads.
  execFileSync("sleep", ["1"]);
  const dump = (type: number, fixed: Buffer) =>
    addon.dump(`/run/netns/${a}`, message(type, nlm.request | nlm.dump, 1, fixed, Buffer.alloc(0)));
  const out = {
    captured: `${execFileSync("uname", ["-r"], { encoding: "utf8" }).trim()}; ${execFileSync("ip", ["-V"], { encoding: "utf8" }).trim()}`,
    linkDump: dump(rtm.getLink, ifinfomsg(af.unspec)).toString("hex"),
    addrDump: dump(
      rtm.getAddr,
      ifaddrmsg({ family: af.unspec, prefixLen: 0, flags: 0, scope: 0, ifindex: 0 }),
    ).toString("hex"),
    ipLinks: ip("-json", "-details", "link", "show"),
    ipAddrs: ip("-json", "addr", "show"),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  nss.cleanup();
}

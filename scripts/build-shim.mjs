// Compiles the CNI shim (src/shim/cni-shim.c) with this machine's Node and this checkout's
// compiled plugin entries baked in. Without a C compiler the shim is skipped and install-cni
// falls back to shell wrappers (slower, same behaviour).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const out = resolve(root, "dist/shim/strata-cni-shim");
mkdirSync(resolve(root, "dist/shim"), { recursive: true });
const entryDir = resolve(root, "dist/src/plugins");
const args = [
  "-O2",
  "-Wall",
  "-Wextra",
  `-DSTRATA_NODE="${process.execPath}"`,
  `-DSTRATA_ENTRY_DIR="${entryDir}"`,
  "-o",
  out,
  resolve(root, "src/shim/cni-shim.c"),
];
const cc = spawnSync("cc", args, { stdio: "inherit" });
if (cc.error || cc.status !== 0) {
  console.warn("build-shim: no C compiler or compile failed; install-cni will write shell wrappers instead");
}
// The agent's spawn helper (src/shim/spawn-helper.c); without it the agent forks itself (slower).
const helper = spawnSync(
  "cc",
  [
    "-O2",
    "-Wall",
    "-Wextra",
    "-o",
    resolve(root, "dist/shim/strata-spawn-helper"),
    resolve(root, "src/shim/spawn-helper.c"),
  ],
  { stdio: "inherit" },
);
if (helper.error || helper.status !== 0)
  console.warn("build-shim: spawn helper not built; the agent will spawn directly");

// The BGP speaker's socket-option addon (src/bgp/native/tcp-sockopt.c: TCP-MD5, GTSM), against
// this Node's own N-API headers. Without it, peers configured with a password or ttl-security
// refuse to start (they never run unprotected); everything else works.
const nodeVersion = process.versions.node;
const headerDirs = [
  resolve(process.execPath, "../../include/node"),
  resolve(process.env.HOME ?? "/root", ".cache/node-gyp", nodeVersion, "include/node"),
  "/usr/include/node",
].filter((d) => existsSync(resolve(d, "node_api.h")));
mkdirSync(resolve(root, "dist/native"), { recursive: true });
const addon = resolve(root, "dist/native/strata-tcp-sockopt.node");
const built =
  headerDirs.length > 0 &&
  spawnSync(
    "cc",
    [
      ...["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", `-I${headerDirs[0]}`],
      ...["-o", addon, resolve(root, "src/bgp/native/tcp-sockopt.c")],
    ],
    { stdio: "inherit" },
  ).status === 0;
if (!built) {
  rmSync(addon, { force: true });
  console.warn(
    `build-shim: TCP-MD5/GTSM addon not built (${headerDirs.length ? "compile failed" : "no node_api.h found"}); BGP peers with a password will refuse to start`,
  );
}

// The kernel driver's rtnetlink addon (src/kernel/rtnetlink/rtnetlink.c): routes, neighbours, FDB
// entries, addresses and veth/bridge links written, routes read, named namespaces made,
// offload features set (the ethtool ioctl) and the source guard's nf_tables batches written from
// inside the process, no `ip` or `nft` process per pass (or per pod). Without it the agent drives
// the kernel through iproute2 and nft alone, as before.
const rtnetlinkAddon = resolve(root, "dist/native/strata-rtnetlink.node");
const rtnetlinkBuilt =
  headerDirs.length > 0 &&
  spawnSync(
    "cc",
    [
      ...["-shared", "-fPIC", "-pthread", "-O2", "-Wall", "-Wextra", `-I${headerDirs[0]}`],
      ...["-o", rtnetlinkAddon, resolve(root, "src/kernel/rtnetlink/rtnetlink.c")],
    ],
    { stdio: "inherit" },
  ).status === 0;
if (!rtnetlinkBuilt) {
  rmSync(rtnetlinkAddon, { force: true });
  console.warn(
    `build-shim: rtnetlink addon not built (${headerDirs.length ? "compile failed" : "no node_api.h found"}); the agent drives the kernel through iproute2 alone`,
  );
}

// The tc-BPF tunnel datapath (src/kernel/bpf-tunnel/tunnel.bpf.c): IPIP and GRE without the kernel
// modules. Without clang the object is absent and the datapath reports "bpf datapath not built
// (install clang)"; everything else works.
const bpfOut = resolve(root, "dist/bpf/tunnel.bpf.o");
mkdirSync(resolve(root, "dist/bpf"), { recursive: true });
const multiarch = spawnSync("cc", ["-print-multiarch"], { encoding: "utf8" }).stdout?.trim();
const bpf = spawnSync(
  "clang",
  [
    ...["-O2", "-g", "-Wall", "-target", "bpf"],
    // <asm/types.h> lives under the host's multiarch include directory on Debian.
    ...(multiarch ? [`-I/usr/include/${multiarch}`] : []),
    ...["-c", resolve(root, "src/kernel/bpf-tunnel/tunnel.bpf.c"), "-o", bpfOut],
  ],
  { stdio: "inherit" },
);
if (bpf.error || bpf.status !== 0) {
  rmSync(bpfOut, { force: true });
  console.warn(
    `build-shim: BPF tunnel datapath not built (${bpf.error ? "install clang" : "clang failed"}); the ipip/gre backends need the kernel modules then`,
  );
}

// The sleeve datapath's helper (src/kernel/sleeve/native/sleeve.c): pod packets in UDP through a
// TUN device, for kernels with neither tunnel modules nor BPF. Without it the sleeve backend (and
// the ipip/gre fallback to it) reports "sleeve helper not built"; everything else works.
const sleeveOut = resolve(root, "dist/native/strata-sleeve");
const sleeve = spawnSync(
  "cc",
  ["-O2", "-Wall", "-Wextra", "-o", sleeveOut, resolve(root, "src/kernel/sleeve/native/sleeve.c")],
  { stdio: "inherit" },
);
if (sleeve.error || sleeve.status !== 0) {
  rmSync(sleeveOut, { force: true });
  console.warn("build-shim: sleeve helper not built; the sleeve datapath is unavailable");
}

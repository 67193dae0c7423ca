import type { Command } from "commander";
import { defaultCniSocketDir } from "../agent/cni-socket.js";
import type { BackendDefinition } from "../backends/definition.js";
import { defaultBackend } from "../backends/registry.js";
import { addBackendFlags } from "./backend-flags.js";

/**
 * The agent's flags on `cmd`: its own, then `--backend` and every backend's flags from
 * `registry` (see backend-flags.ts). Separate from the action so a test can build and parse them.
 */
export function addAgentFlags(cmd: Command, registry: readonly BackendDefinition[]): Command {
  cmd
    .option("--log-level <level>", "pino log level", "info")
    .option("--node <name>", "this node's name (enables cluster mode)")
    .option(
      "--cluster-cidr <cidrs>",
      "pod network of the whole cluster: one IPv4 CIDR, or IPv4,IPv6 for dual stack (10.244.0.0/16,fd00:10:244::/56)",
      "10.244.0.0/16",
    )
    .option("--subnet-len <n>", "prefix length of each node's pod subnet", "24")
    .option("--subnet-len6 <n>", "dual stack: prefix length of each node's IPv6 pod subnet", "64")
    .option("--datastore <url>", "embedded:<socket path> or etcd:<https://host:port,...>")
    .option("--etcd-ca <file>", "etcd over https: the CA that signed etcd's certificate (PEM)")
    .option("--etcd-cert <file>", "etcd over https: this agent's client certificate (PEM)")
    .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)")
    .option("--underlay-dev <dev>", "interface carrying node-to-node traffic", "eth0")
    .option("--state-dir <dir>", "where to write subnet.json and the CNI conflist")
    .option(
      "--lease-ttl <s>",
      "subnet lease TTL (ownership), seconds; renewed every min(TTL/3, 1 h); a node's routes stay on every other node this long after its agent stops",
      "86400",
    )
    .option(
      "--heartbeat-ttl <s>",
      "liveness heartbeat TTL, seconds: peers report this node not alive this long after its agent stops (routes stay)",
      "20",
    )
    .option("--resync-interval <s>", "repair pass: re-add missing routes this often, seconds", "10")
    .option(
      "--full-resync-interval <s>",
      "repair pass: diff everything (devices, addresses, neighbours, FDB, routes) against the kernel this often at most, seconds; the passes in between read routes alone",
      "60",
    )
    .option(
      "--route-change-window <ms>",
      "learned-route changes (BGP UPDATEs) that arrive within this many ms of a pass go to the kernel together at the window's end; the first change after a quiet spell goes at once; 0: a pass per change",
      "250",
    )
    .option(
      "--datastore-timeout <s>",
      "/healthz is not ok once the datastore has been unreachable this long, seconds",
      "60",
    )
    .option("--no-masquerade", "do not masquerade traffic leaving the cluster CIDR")
    .option(
      "--pod-attachment <auto|bridge|routed>",
      "how pods attach: on the node bridge cni0 (Flannel), routed veths with a /32 route each (Calico), or auto (the backend's choice: routed for ipip/gre, bridge for the rest)",
      "auto",
    )
    .option("--health-port <port>", "local port for /healthz and /metrics", "9947")
    .option(
      "--cni-bin-dir <dirs>",
      "the agent's CNI plugin directories (colon-separated); delegated plugins run only from here, never from a request's CNI_PATH",
      "/opt/cni/bin",
    )
    .option(
      "--cni-socket-dir <dir>",
      "root-only directory of the CNI socket (the shim is built with the default)",
      defaultCniSocketDir,
    )
    .option(
      "--cni-max-requests <n>",
      "CNI requests in flight at once; more are answered code 11 (try again later)",
      "64",
    )
    .option("--cni-read-timeout <ms>", "time a caller has to send its whole CNI request", "10000")
    .option(
      "--spawn-helpers <n>",
      "helper processes that start programs for the agent (default: $STRATA_SPAWN_HELPERS or 8); the lab runs 2 per node",
    )
    .option(
      "--kernel-driver <driver>",
      "rtnetlink: routes, neighbours, FDB entries, addresses and veth/bridge links written (and routes read) from inside the agent, the rest (sysctls, other link kinds) through iproute2; iproute2: every kernel call through ip/bridge processes (default: $STRATA_KERNEL_DRIVER or rtnetlink; rtnetlink needs the addon `npm run build` makes, else iproute2 is used and the log says so)",
    );
  return addBackendFlags(cmd, registry, defaultBackend);
}

import type { Command } from "commander";
import { defaultBackend } from "../backends/registry.js";
import { eventually } from "../common/eventually.js";
import { formatVerdicts } from "../doctor/format.js";
import { labDoctor } from "../doctor/lab-doctor.js";
import type { Kernel } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { withRtnetlink } from "../kernel/rtnetlink/driver.js";
import { countBgpSessions } from "../lab/bgp-status.js";
import { switchRouteReflectors } from "../lab/bgp-topology.js";
import { type CheckResult, runChecks } from "../lab/check.js";
import { startRecordedProcess, stopRecordedProcess } from "../lab/control.js";
import { benchLab } from "../lab/measure.js";
import { formatNetworkStatus, labNetworkStatus } from "../lab/network-status.js";
import { describeProcess } from "../lab/processes.js";
import { labDown, labUp } from "../lab/runner.js";
import { type LabProcessRole, type LabState, readLabState } from "../lab/state.js";
import { formatLabStatus, labStatus } from "../lab/status.js";
import { labModels } from "../lab/topology.js";
import { formatTrace } from "../lab/trace/format-trace.js";
import { minProbeSize, runLabTrace } from "../lab/trace/run-trace.js";
import type { TraceProto } from "../lab/trace/trace-model.js";
import { type LabFlags, parseLabFlags } from "./lab-flags.js";
import { CommandError, intInRange, ipAddress, portNumber, positiveInt, UsageError } from "./options.js";
import { labPaths } from "./paths.js";
import { step } from "./progress.js";

/**
 * The lab's own kernel calls: routes, neighbours and FDB entries over rtnetlink from this process
 * (the underlay's static ARP is 40,200 entries at 200 nodes; the route wait reads every node's
 * routes each sweep), the rest through iproute2; iproute2 alone where the addon is not built.
 */
const labKernel = () => withRtnetlink(createIproute2Kernel());

const printChecks = (results: CheckResult[]): boolean => {
  if (results.length === 0) {
    console.log("no checks ran: the lab has no nodes or pods to check (is it up? `strata lab up`)");
    return false;
  }
  console.log(`\n${"check".padEnd(26)} ${"from".padEnd(10)} ${"to".padEnd(28)} result`);
  for (const r of results)
    console.log(`${r.kind.padEnd(26)} ${r.from.padEnd(10)} ${r.to.padEnd(28)} ${r.ok ? "ok" : "FAIL"}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(
    failed === 0
      ? `\nall ${results.length} checks passed ✔`
      : `\n${failed} of ${results.length} checks failed ✘`,
  );
  return failed === 0;
};

/** `--attach`: each pod's k8s.v1.cni.cncf.io/network-status, one line per network. */
const printNetworkStatus = (state: LabState, all: Awaited<ReturnType<typeof labNetworkStatus>>) => {
  if (!state.spec.attach?.length) return;
  console.log(`\nnetwork-status (k8s.v1.cni.cncf.io/network-status, as strata-multi wrote it)`);
  console.log(`${"pod".padEnd(10)} ${"if".padEnd(6)} ${"network".padEnd(22)} ${"ips".padEnd(16)} mac`);
  const lines = formatNetworkStatus(all);
  for (const l of lines) console.log(l);
  const missing = state.pods.filter((p) => !all[p.name]).map((p) => p.name);
  if (missing.length > 0) console.log(`no network-status for ${missing.join(", ")}`);
};

const printBgpSessions = async (kernel: Kernel, state: LabState) => {
  const c = await countBgpSessions(kernel, state);
  const each = c.ends.map(([n, k]) => `${n} ${k}`).join(" · ");
  console.log(`BGP sessions (established, port 179): ${each} — ${c.total} in all, ${c.expected} expected`);
};

const printNodes = async (kernel: Kernel, state: LabState) => {
  for (const n of state.nodes)
    console.log(
      `${n.name}  ${n.ip.padEnd(15)} pods ${n.subnet}${n.subnet6 ? ` ${n.subnet6}` : ""}  pod MTU ${n.podMtu}`,
    );
  if (state.spec.model === "bgp") await printBgpSessions(kernel, state);
};

const labOptions = (c: Command) =>
  c
    .option("--model <model>", labModels.join(" | "), defaultBackend)
    .option("--nodes <n>", "number of nodes", "3")
    .option("--pods <m>", "pods per node", "2")
    .option("--underlay <kind>", "l2 (one switch) | l3 (two subnets and a router)", "l2")
    .option("--datastore <kind>", "embedded | etcd", "embedded")
    .option("--route-reflectors <k>", "bgp on l2: the first K nodes reflect (0: full mesh)", "0")
    .option(
      "--pod-attachment <how>",
      "auto (each backend's choice: routed for ipip/gre, the cni0 bridge otherwise) | bridge | routed",
      "auto",
    )
    .option(
      "--attach <names>",
      "secondary networks for every pod, e.g. macvlan[,NAME…]: one NetworkAttachmentDefinition each over the l2 underlay, attached by strata-multi as net1, net2…",
    )
    .option(
      "--attach-plugin <type>",
      "the CNI plugin of --attach's networks (on the lab's CNI path)",
      "strata-macvlan",
    )
    .option(
      "--ip-family <family>",
      "ipv4 | dual (IPv6 too: underlay, pod subnets, pods, checks) | ipv6 (IPv6-only pods, BGP over IPv6); dual and ipv6: bgp and host-gw on l2",
      "ipv4",
    )
    .option(
      "--agents-per-process <n>",
      "node agents sharing one Node process (each still a whole agent in its node's namespace): auto is 1 up to 20 nodes, else one agent host per core of ≤ 100 agents (vxlan, host-gw, bgp with the embedded datastore); 1: a process per agent (crash tests)",
      "auto",
    );

const signalNumbers = { SIGINT: 2, SIGTERM: 15 } as const;
type StopSignal = keyof typeof signalNumbers;

/**
 * SIGINT and SIGTERM while the lab is being built or checked: stop at the next step, remove
 * everything built so far (`lab down`: recorded processes, namespaces, /run/strata-lab) and exit
 * 128 + the signal's number (130, 143), as a shell reports a command ended by that signal.
 * A second signal during the teardown is ignored: the teardown is what the first one asked for.
 */
async function interruptible(
  kernel: Kernel,
  body: (signal: AbortSignal) => Promise<void>,
  teardownAlways: boolean,
): Promise<void> {
  const ac = new AbortController();
  let received: StopSignal | undefined;
  const handlers = (Object.keys(signalNumbers) as StopSignal[]).map((sig) => {
    const handler = () => {
      if (received) return;
      received = sig;
      process.stderr.write(`\n${sig}: stopping; removing what was built …\n`);
      ac.abort(new CommandError(`interrupted by ${sig}`));
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  try {
    // Awaited to the end: labUp stops at its next step, so nothing is built after the teardown.
    await body(ac.signal);
  } catch (err) {
    if (!received) throw err;
  } finally {
    if (received || teardownAlways) await step("removing the lab", () => labDown(kernel));
    for (const [sig, handler] of handlers) process.off(sig, handler);
  }
  if (received) process.exitCode = 128 + signalNumbers[received];
}

const whenAborted = (signal: AbortSignal) =>
  new Promise<undefined>((resolve) =>
    signal.addEventListener("abort", () => resolve(undefined), { once: true }),
  );

async function requireLab(): Promise<LabState> {
  const state = await readLabState();
  if (!state) throw new CommandError("no lab is up (start one with `strata lab up`)");
  return state;
}

/** Pure: NODE of `lab agent ...` must be one of the lab's nodes. */
export function checkNodeName(state: LabState, node: string): string {
  if (!state.nodes.some((n) => n.name === node))
    throw new UsageError(
      "NODE",
      `"${node}" is not a node of the lab (${state.nodes.map((n) => n.name).join(", ")})`,
    );
  return node;
}

async function stopCommand(role: LabProcessRole, node: string | undefined, kill: boolean): Promise<void> {
  const state = await requireLab();
  if (node !== undefined) checkNodeName(state, node);
  const what = describeProcess({ role, node });
  const outcome = await step(`stopping ${what} (${kill ? "SIGKILL" : "SIGTERM"})`, () =>
    stopRecordedProcess(state, role, node, { kill }),
  );
  if (outcome === "not running") console.log(`${what} was not running`);
  if (outcome === "not ours")
    console.log(`${what}: its recorded PID now belongs to another process, left alone; recorded as stopped`);
}

async function startCommand(role: LabProcessRole, node: string | undefined): Promise<void> {
  const state = await requireLab();
  if (node !== undefined) checkNodeName(state, node);
  const kernel = labKernel();
  const proc = await step(`starting ${describeProcess({ role, node })}`, () =>
    startRecordedProcess(state, role, node, kernel),
  );
  console.log(`${describeProcess(proc)}: pid ${proc.running?.pid}`);
}

/** `strata lab ...`: up, status, check, bench, down, run, agent, datastore. */
export function registerLabCommands(program: Command): void {
  const lab = program
    .command("lab")
    .description("an emulated multi-node cluster in network namespaces on this machine");

  labOptions(lab.command("up").description("bring up the lab (replacing an earlier one)")).action(
    async (o: LabFlags) => {
      const spec = parseLabFlags(o);
      const kernel = labKernel();
      await interruptible(
        kernel,
        async (signal) => printNodes(kernel, await labUp(kernel, spec, labPaths(), step, { signal })),
        false,
      );
    },
  );

  lab
    .command("status")
    .description("nodes, subnets, agent health (as each agent reports it), pods, datastore, processes")
    .option("--json", "one JSON object for scripts")
    .action(async (o: { json?: boolean }) => {
      const state = await readLabState();
      if (!state) {
        if (o.json) console.log(JSON.stringify({ up: false }));
        else console.log("no lab is up (strata lab up)");
        process.exitCode = 1;
        return;
      }
      const kernel = labKernel();
      const report = await labStatus(kernel, state);
      const networkStatus = await labNetworkStatus(kernel, state, labPaths());
      if (o.json) {
        const withStatus = state.spec.attach?.length ? { ...report, networkStatus } : report;
        console.log(JSON.stringify(withStatus, null, 2));
      } else {
        console.log(formatLabStatus(report));
        printNetworkStatus(state, networkStatus);
      }
    });

  lab
    .command("check")
    .description(
      "connectivity matrix: same node, cross node, pod→node, pod→outside, MTU (and with --attach: each secondary network, and each pod's network-status)",
    )
    .action(async () => {
      const state = await requireLab();
      const kernel = labKernel();
      const ok = printChecks(await runChecks(kernel, state));
      printNetworkStatus(state, await labNetworkStatus(kernel, state, labPaths()));
      process.exitCode = ok ? 0 : 1;
    });

  lab
    .command("doctor")
    .description(
      "`strata doctor` on every node of the lab (agent, MTU proven with DF probes, VXLAN, rp_filter, BGP, leases, IPAM) and the underlay's links; exit 1 when something is wrong",
    )
    .option("--json", "one JSON object for scripts")
    .action(async (o: { json?: boolean }) => {
      const state = await requireLab();
      const report = await labDoctor(labKernel(), state, labPaths());
      if (o.json) console.log(JSON.stringify(report, null, 2));
      else {
        console.log(formatVerdicts([...report.nodes.flatMap((n) => n.verdicts), ...report.lab]));
        console.log(`(${state.nodes.length} nodes in ${(report.ms / 1000).toFixed(1)} s)`);
      }
      process.exitCode = report.ok ? 0 : 1;
    });

  lab
    .command("trace")
    .description("a packet's path hop by hop: predicted from each namespace's kernel, proven by a probe")
    .argument("<src>", "pod name or address, node name or address")
    .argument("<dst>", 'pod, node, or "outside"')
    .option("--proto <proto>", "icmp | tcp | udp", "icmp")
    .option("--port <n>", "tcp/udp destination port (default 80 / 5201)")
    .option("--size <bytes>", "IP packet size, DF set (default 84, 104 over IPv6: ping's)")
    .option("--src-ip <addr>", "send from this address instead of SRC's own (the source guard drops it)")
    .option("--json", "one JSON object for scripts")
    .action(
      async (
        src: string,
        dst: string,
        o: { proto: string; port?: string; size?: string; srcIp?: string; json?: boolean },
      ) => {
        if (!["icmp", "tcp", "udp"].includes(o.proto))
          throw new UsageError("--proto", `"${o.proto}" is not icmp, tcp or udp`);
        const report = await runLabTrace(labKernel(), await requireLab(), {
          src,
          dst,
          proto: o.proto as TraceProto,
          // The lower bound per family (IPv6's header is larger) is checked with the addresses known.
          ...(o.size !== undefined ? { size: intInRange("--size", o.size, minProbeSize, 65535) } : {}),
          ...(o.port !== undefined ? { port: portNumber("--port", o.port) } : {}),
          ...(o.srcIp !== undefined ? { srcIp: ipAddress("--src-ip", o.srcIp) } : {}),
        });
        console.log(o.json ? JSON.stringify(report, null, 2) : formatTrace(report));
        process.exitCode = report.delivered ? 0 : 1;
      },
    );

  lab
    .command("bench")
    .description(
      "iperf3 throughput and ping latency per path type, the raw underlay measured in the same run",
    )
    .option("--seconds <s>", "iperf3 duration per path", "3")
    .action(async (o: { seconds: string }) => {
      const seconds = positiveInt("--seconds", o.seconds);
      const state = await requireLab();
      const rows = await benchLab(labKernel(), state, seconds);
      const raw = rows[0];
      console.log(
        `${"path".padEnd(28)} ${"from → to".padEnd(16)} ${"Gbit/s".padStart(7)} ${"RTT µs".padStart(7)} ${"× raw".padStart(6)}`,
      );
      for (const r of rows) {
        const ratio = raw && r !== raw ? (r.gbps / raw.gbps).toFixed(2) : "";
        console.log(
          `${r.path.padEnd(28)} ${`${r.from} → ${r.to}`.padEnd(16)} ${r.gbps.toFixed(2).padStart(7)} ${r.rttUs.toFixed(0).padStart(7)} ${ratio.padStart(6)}`,
        );
      }
    });

  lab
    .command("down")
    .description("remove the lab (also after a crash); ends only processes that are provably the lab's")
    .action(async () => {
      const report = await step("removing the lab", () => labDown(labKernel()));
      for (const p of report.leftAlone)
        console.log(
          `left alone: pid ${p.pid} (recorded as ${p.what}) now belongs to another process (stale state file)`,
        );
    });

  labOptions(lab.command("run").description("up, check, down: the lab's main job in one go"))
    .option("--keep", "leave the lab up afterwards")
    .action(async (o: LabFlags & { keep?: boolean }) => {
      const spec = parseLabFlags(o);
      const kernel = labKernel();
      await interruptible(
        kernel,
        async (signal) => {
          const state = await labUp(kernel, spec, labPaths(), step, { signal });
          await printNodes(kernel, state);
          // The checks do not look at the signal: a signal ends the wait for them at once.
          const results = await Promise.race([runChecks(kernel, state), whenAborted(signal)]);
          signal.throwIfAborted();
          process.exitCode = printChecks(results ?? []) ? 0 : 1;
          printNetworkStatus(state, await labNetworkStatus(kernel, state, labPaths()));
        },
        !o.keep,
      );
    });

  const agent = lab
    .command("agent")
    .description("stop, start or restart one node's agent (watch what a failure does to traffic)");
  const killOption = "--kill";
  const killHelp = "SIGKILL at once (a crash) instead of SIGTERM (a clean stop; SIGKILL after 5 s)";
  agent
    .command("stop")
    .argument("<node>", "a node of the lab, e.g. n1")
    .option(killOption, killHelp)
    .action((node: string, o: { kill?: boolean }) => stopCommand("agent", node, Boolean(o.kill)));
  agent
    .command("start")
    .argument("<node>", "a node of the lab, e.g. n1")
    .description("start it again with the command line recorded at lab up")
    .action((node: string) => startCommand("agent", node));
  agent
    .command("restart")
    .argument("<node>", "a node of the lab, e.g. n1")
    .option(killOption, killHelp)
    .action(async (node: string, o: { kill?: boolean }) => {
      await stopCommand("agent", node, Boolean(o.kill));
      await startCommand("agent", node);
    });

  lab
    .command("route-reflectors")
    .description(
      "bgp on l2: switch the running lab live to K route reflectors (n1..nK; 0 is a full mesh) and wait for the sessions the kernel shows to match",
    )
    .argument("<k>", "how many nodes reflect (0: full mesh)")
    .action(async (k: string) => {
      const count = intInRange("<k>", k, 0, 10_000);
      const state = await requireLab();
      const kernel = labKernel();
      const started = Date.now();
      const next = await step(
        count === 0 ? "switching to a full mesh" : `switching to ${count} route reflector(s)`,
        () => switchRouteReflectors(kernel, state, count, labPaths()),
      );
      await step("waiting for the BGP sessions to match", () =>
        eventually(
          async () => {
            const c = await countBgpSessions(kernel, next);
            return c.total === c.expected;
          },
          "the lab's BGP sessions to match the new topology",
          { timeoutMs: 60_000, intervalMs: 250 },
        ),
      );
      console.log(`sessions match after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await printBgpSessions(kernel, next);
    });

  const datastore = lab.command("datastore").description("stop or start the lab's datastore (an outage)");
  datastore
    .command("stop")
    .option(killOption, killHelp)
    .action((o: { kill?: boolean }) => stopCommand("datastore", undefined, Boolean(o.kill)));
  datastore
    .command("start")
    .description("start it again with the command line recorded at lab up")
    .action(() => startCommand("datastore", undefined));
}

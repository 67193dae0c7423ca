import { Command } from "commander";
import { installCniPlugins } from "../cni/install.js";
import { StrataError } from "../common/errors.js";
import { EmbeddedStore } from "../datastore/embedded/embedded-store.js";
import { type RepairReport, repairStore } from "../datastore/embedded/repair.js";
import { serveDatastore } from "../datastore/embedded/server.js";
import { pluginTypes } from "../plugins/catalog.js";
import { registerAgentCommand } from "./agent-command.js";
import { registerAgentHostCommand } from "./agent-host-command.js";
import { openDatastore, removeNode } from "./agent-wiring.js";
import { registerBgpSpeakerCommand } from "./bgp-speaker-command.js";
import { registerBgpTopologyCommand } from "./bgp-topology-command.js";
import { runDemo } from "./demo.js";
import { type DoctorCliOptions, runDoctor } from "./doctor.js";
import { registerLabCommands } from "./lab-commands.js";
import { registerNetAttachCommands } from "./net-attach-commands.js";
import { intInRange, pathFlag } from "./options.js";
import { pluginEntryDir, shimPath } from "./paths.js";
import { runProgram } from "./run-program.js";

const program = new Command();
program
  .name("strata")
  .description("Strata: Kubernetes pod networking (CNI plugins, node agent, lab of emulated nodes)")
  .showHelpAfterError()
  // A command's options count only before its subcommand (`datastore repair --dir` is repair's).
  .enablePositionalOptions();

// Commander's own flag errors (unknown option, missing argument) exit 2 like ours (see the end).
// Set before any subcommand is made: each copies it.
program.exitOverride();

program
  .command("install-cni")
  .description("put the CNI plugin executables (one per plugin type, named by type) into a directory")
  .requiredOption("--dir <dir>", "target directory, e.g. /opt/cni/bin")
  .action(async (o: { dir: string }) => {
    const written = await pathFlag("--dir", o.dir, () =>
      installCniPlugins({
        dir: o.dir,
        types: pluginTypes,
        shimPath,
        nodePath: process.execPath,
        entryDir: pluginEntryDir,
      }),
    );
    for (const f of written) console.log(f);
  });

registerAgentCommand(program);
registerAgentHostCommand(program);
registerBgpTopologyCommand(program);

const node = program.command("node").description("the cluster's nodes in the datastore");
node
  .command("remove")
  .description(
    "remove a node from the cluster: delete its subnet lease and heartbeat, so every other node withdraws its routes (stop its agent first)",
  )
  .argument("<name>", "the node's name")
  .requiredOption("--datastore <url>", "embedded:<socket path> or etcd:<https://host:port,...>")
  .option("--etcd-ca <file>", "etcd over https: the CA that signed etcd's certificate (PEM)")
  .option("--etcd-cert <file>", "etcd over https: a client certificate (PEM)")
  .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)")
  .action(
    async (name: string, o: { datastore: string; etcdCa?: string; etcdCert?: string; etcdKey?: string }) => {
      const store = openDatastore(o.datastore, { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey });
      try {
        const removed = await removeNode(store, name);
        for (const key of removed) console.log(`removed ${key}`);
      } finally {
        await store.close();
      }
    },
  );

const datastore = program
  .command("datastore")
  .enablePositionalOptions()
  .description(
    "serve the embedded datastore on a UNIX socket (reachable from every namespace on this machine); `datastore repair` keeps the intact records of a damaged store",
  )
  .option("--socket <path>", "socket path (required)")
  .option("--dir <dir>", "directory of its snapshot and logs (required)")
  .action(async (o: { socket?: string; dir?: string }) => {
    if (!o.socket || !o.dir) {
      console.error("strata datastore: --socket <path> and --dir <dir> are required");
      process.exitCode = 2;
      return;
    }
    let store: EmbeddedStore | undefined;
    let server: Awaited<ReturnType<typeof serveDatastore>>;
    try {
      store = new EmbeddedStore({ dir: o.dir });
      server = await serveDatastore(store, o.socket);
    } catch (err) {
      // A damaged store refuses with file, offset and the repair command; an unsafe socket
      // directory says what to fix: one line, no stack.
      await store?.close();
      if (!(err instanceof StrataError)) throw err;
      console.error(`strata datastore: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    await new Promise<void>((resolve) => {
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
    });
    await server.close();
    await store.close();
  });
datastore
  .command("repair")
  .description(
    "keep every intact record of a store the datastore refused to start from; prints what it drops (stop the store first)",
  )
  .requiredOption("--dir <dir>", "the store's directory (its --dir)")
  .action((o: { dir: string }) => {
    let report: RepairReport;
    try {
      report = repairStore(o.dir);
    } catch (err) {
      if (!(err instanceof StrataError)) throw err;
      console.error(`strata datastore repair: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    for (const d of report.dropped)
      console.log(
        `dropped ${d.file} bytes ${d.offset}..${d.offset + d.length} (${d.length} bytes): ${d.reason}`,
      );
    for (const n of report.notes) console.log(n);
    console.log(
      report.dropped.length === 0 && report.rewritten.length === 0
        ? `nothing to repair: every record in ${report.dir} is intact (${report.kept} records, revision ${report.revision})`
        : `kept ${report.kept} records, dropped ${report.dropped.length} damaged ranges or records; rewrote ${report.rewritten.join(", ")}; revision ${report.revision}`,
    );
  });

program
  .command("demo")
  .description("bring up pods on one emulated node (bridge and routed modes), show them talking, tear down")
  .option("--pods <n>", "pods per mode", "3")
  .option("--keep", "leave the namespaces up (remove later with `strata demo --down`)")
  .option("--down", "only remove what an earlier demo left")
  .action(async (o: { pods: string; keep?: boolean; down?: boolean }) => {
    const pods = intInRange("--pods", o.pods, 1, 50);
    const ok = await runDemo({ pods, keep: Boolean(o.keep), downOnly: Boolean(o.down) });
    process.exitCode = ok ? 0 : 1;
  });

registerBgpSpeakerCommand(program);

program
  .command("doctor")
  .description(
    "on a node (in its network namespace): check its agent, MTU (DF probes to every peer), VXLAN, rp_filter, BGP sessions, leases and IPAM; one line per check, exit 1 when something is wrong",
  )
  .option("--json", "one JSON object for scripts")
  .option("--health-port <port>", "the agent's /healthz port", "9947")
  .option("--state-dir <dir>", "the agent's --state-dir (subnet.json, conflist, IPAM reservations)")
  .option("--underlay-dev <dev>", "the agent's --underlay-dev", "eth0")
  .option("--node <name>", "this node's name, when the agent does not answer")
  .option("--cluster-cidr <cidr>", "the agent's --cluster-cidr (default: from subnet.json)")
  .option("--datastore <url>", "the agent's --datastore: peers, leases (without it those checks are skipped)")
  .option("--etcd-ca <file>", "etcd over https: the CA (PEM)")
  .option("--etcd-cert <file>", "etcd over https: a client certificate (PEM)")
  .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)")
  .action((o: DoctorCliOptions) => runDoctor(o));

registerLabCommands(program);
registerNetAttachCommands(program);

await runProgram(program);

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { aliveNodes } from "../cluster/heartbeats.js";
import type { Datastore } from "../datastore/api.js";
import { datastoreUrlSyntax, openDatastoreUrl } from "../datastore/datastore-url.js";
import { collectStranded, poolsPrefix } from "../ipam/cluster-pool.js";
import { readLabState } from "../lab/runner.js";
import { parseManifests } from "../netattach/manifest.js";
import { nadConfList, parseNad } from "../netattach/nad.js";
import { NadStore } from "../netattach/nad-store.js";
import { PodAnnotationStore, parsePodRef } from "../netattach/pod-annotations.js";
import { CommandError, flagCheck, positiveInt, UsageError } from "./options.js";

interface StoreFlags {
  datastore?: string;
  lab?: boolean;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
}

const storeOptions = (c: Command): Command =>
  c
    .option("--datastore <url>", `${datastoreUrlSyntax} (default: $STRATA_DATASTORE)`)
    .option("--lab", "the running lab's datastore")
    .option("--etcd-ca <file>", "etcd over https: the CA (PEM)")
    .option("--etcd-cert <file>", "etcd over https: a client certificate (PEM)")
    .option("--etcd-key <file>", "etcd over https: the key of --etcd-cert (PEM)");

/** The datastore of --datastore, --lab or $STRATA_DATASTORE. */
async function openStore(o: StoreFlags): Promise<Datastore> {
  let url = o.datastore ?? (o.lab ? undefined : process.env.STRATA_DATASTORE);
  let tls = { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey };
  if (o.lab) {
    const state = await readLabState();
    if (!state) throw new CommandError("no lab is up (strata lab up)");
    const args = state.agentDatastoreArgs;
    const flag = (name: string) => {
      const i = args.indexOf(name);
      return i >= 0 ? args[i + 1] : undefined;
    };
    url = flag("--datastore");
    tls = { ca: flag("--etcd-ca"), cert: flag("--etcd-cert"), key: flag("--etcd-key") };
    if (url?.startsWith("etcd:"))
      throw new CommandError(
        "the lab's etcd listens on the underlay: run this inside a node (ip netns exec strata-lab-node1 strata ...) with --datastore and the --etcd-* files of `lab status`",
      );
  }
  if (!url)
    throw new UsageError("--datastore", `missing: ${datastoreUrlSyntax}, --lab, or $STRATA_DATASTORE`);
  const resolved = url;
  return flagCheck(() => openDatastoreUrl(resolved, tls));
}

async function withStore<T>(o: StoreFlags, fn: (s: Datastore) => Promise<T>): Promise<T> {
  const store = await openStore(o);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `strata net-attach-def …`, `strata pod …` and `strata cluster-ipam …`. */
export function registerNetAttachCommands(program: Command): void {
  const nad = program
    .command("net-attach-def")
    .alias("nad")
    .description("NetworkAttachmentDefinitions (Multus' k8s.cni.cncf.io/v1 resource) in Strata's datastore");

  storeOptions(
    nad
      .command("apply")
      .description("create or replace the definitions of a YAML or JSON file, as kubectl apply -f")
      .requiredOption("-f, --filename <file>", "the manifest ('-' for stdin)"),
  ).action(async (o: StoreFlags & { filename: string }) => {
    const text = o.filename === "-" ? await readStdin() : await readFileOrFail(o.filename);
    const nads = parseManifests(text, o.filename).map((v, i) =>
      flagCheck(() => parseNad(v, `${o.filename} object ${i + 1}`)),
    );
    await withStore(o, async (s) => {
      const store = new NadStore(s);
      for (const d of nads) {
        const outcome = await store.apply(d);
        console.log(`networkattachmentdefinition ${d.metadata.namespace}/${d.metadata.name} ${outcome}`);
      }
    });
  });

  storeOptions(
    nad
      .command("get")
      .description("list definitions (all namespaces unless -n), or show one")
      .argument("[name]", "a definition's name")
      .option("-n, --namespace <ns>", "its namespace (default: default with a name, all without)")
      .option("-o, --output <format>", "json"),
  ).action(async (name: string | undefined, o: StoreFlags & { namespace?: string; output?: string }) => {
    if (o.output !== undefined && o.output !== "json")
      throw new UsageError("-o", `"${o.output}" is not json`);
    await withStore(o, async (s) => {
      const store = new NadStore(s);
      if (name !== undefined) {
        const d = await flagCheck(() => store.get(o.namespace ?? "default", name));
        if (!d)
          throw new CommandError(`networkattachmentdefinition ${o.namespace ?? "default"}/${name} not found`);
        console.log(o.output === "json" ? JSON.stringify(d, null, 2) : table([d]));
        return;
      }
      const { items, invalid } = await flagCheck(() => store.list(o.namespace));
      if (o.output === "json")
        console.log(JSON.stringify({ apiVersion: "v1", kind: "List", items }, null, 2));
      else console.log(items.length === 0 ? "no definitions" : table(items));
      for (const bad of invalid) console.error(`skipped ${bad.key}: ${bad.reason}`);
    });
  });

  storeOptions(
    nad
      .command("delete")
      .description("delete a definition (pods attached to it keep their interfaces until deleted)")
      .argument("<name>", "the definition's name")
      .option("-n, --namespace <ns>", "its namespace", "default"),
  ).action(async (name: string, o: StoreFlags & { namespace: string }) => {
    await withStore(o, async (s) => {
      const deleted = await flagCheck(() => new NadStore(s).delete(o.namespace, name));
      if (!deleted) throw new CommandError(`networkattachmentdefinition ${o.namespace}/${name} not found`);
      console.log(`networkattachmentdefinition ${o.namespace}/${name} deleted`);
    });
  });

  const pod = program
    .command("pod")
    .description(
      "pod annotations in the datastore (what a controller watching the API server would copy there)",
    );
  storeOptions(
    pod
      .command("annotate")
      .description(
        "set KEY=VALUE, or remove KEY- (as kubectl annotate); e.g. k8s.v1.cni.cncf.io/networks=macvlan-conf",
      )
      .argument("<pod>", "NAMESPACE/NAME")
      .argument("<annotations...>", "KEY=VALUE or KEY-"),
  ).action(async (ref: string, pairs: string[], o: StoreFlags) => {
    const podRef = flagCheck(() => parsePodRef(ref));
    await withStore(o, async (s) => {
      const store = new PodAnnotationStore(s);
      for (const pair of pairs) {
        const eq = pair.indexOf("=");
        if (eq < 0 && pair.endsWith("-")) await store.remove(podRef, pair.slice(0, -1));
        else if (eq > 0) await flagCheck(() => store.set(podRef, pair.slice(0, eq), pair.slice(eq + 1)));
        else throw new UsageError("<annotations>", `"${pair}" is not KEY=VALUE or KEY-`);
      }
      console.log(`pod ${podRef.namespace}/${podRef.name} annotated`);
    });
  });
  storeOptions(
    pod
      .command("annotations")
      .description(
        "pods' annotations (network-status pretty-printed); -o json: one object keyed by NAMESPACE/NAME",
      )
      .argument("<pods...>", "NAMESPACE/NAME")
      .option("-o, --output <format>", "json"),
  ).action(async (refs: string[], o: StoreFlags & { output?: string }) => {
    const pods = refs.map((ref) => flagCheck(() => parsePodRef(ref)));
    await withStore(o, async (s) => {
      const store = new PodAnnotationStore(s);
      const all: Record<string, Record<string, string>> = {};
      for (const p of pods) all[`${p.namespace}/${p.name}`] = await store.all(p);
      if (o.output === "json") {
        console.log(JSON.stringify(all, null, 2));
        return;
      }
      for (const [ref, annotations] of Object.entries(all)) {
        if (pods.length > 1) console.log(`${ref}:`);
        for (const [k, v] of Object.entries(annotations)) console.log(`${k}: ${prettyJson(v)}`);
      }
    });
  });

  const ipam = program
    .command("cluster-ipam")
    .description("the cluster-wide address pools of strata-cluster-ipam");
  storeOptions(ipam.command("list").description("every allocation: address, node, pod, interface")).action(
    async (o: StoreFlags) => {
      await withStore(o, async (s) => {
        const { items } = await s.list(poolsPrefix);
        for (const kv of items) {
          const ip = kv.key.slice(kv.key.lastIndexOf("/") + 1);
          let r: { node?: string; pod?: string; containerId?: string; ifName?: string } = {};
          try {
            r = JSON.parse(kv.value);
          } catch {
            // shown as unreadable below
          }
          console.log(`${ip}\t${r.node ?? "?"}\t${r.pod ?? r.containerId ?? "?"}\t${r.ifName ?? "?"}`);
        }
      });
    },
  );
  storeOptions(
    ipam
      .command("gc")
      .description(
        "free addresses of dead pods: this node's whose netns is gone, and every node's whose heartbeat has been missing for --grace seconds",
      )
      .requiredOption("--node <name>", "this node's name")
      .option("--grace <seconds>", "how long a node may miss its heartbeat first", "300"),
  ).action(async (o: StoreFlags & { node: string; grace: string }) => {
    const graceMs = positiveInt("--grace", o.grace) * 1000;
    await withStore(o, async (s) => {
      const report = await collectStranded(s, {
        node: o.node,
        aliveNodes: await aliveNodes(s),
        netnsExists: async (p) => existsSync(p),
        now: Date.now(),
        graceMs,
      });
      for (const f of report.freed)
        console.log(`freed ${f.ip} (${f.owner.pod ?? f.owner.containerId}): ${f.reason}`);
      for (const n of report.suspects)
        console.log(`node ${n} has no heartbeat: its addresses go after the grace period`);
      for (const k of report.invalid) console.error(`skipped ${k}: not an allocation record`);
      if (report.freed.length === 0) console.log("nothing to free");
    });
  });
}

function table(items: readonly ReturnType<typeof parseNad>[]): string {
  const rows = items.map((d) => {
    const list = nadConfList(d);
    return [d.metadata.namespace, d.metadata.name, list.plugins.map((p) => String(p.type)).join(",")];
  });
  const all = [["NAMESPACE", "NAME", "PLUGINS"], ...rows];
  const widths = [0, 1].map((i) => Math.max(...all.map((r) => (r[i] as string).length)));
  return all
    .map(
      (r) =>
        `${(r[0] as string).padEnd(widths[0] as number)}  ${(r[1] as string).padEnd(widths[1] as number)}  ${r[2]}`,
    )
    .join("\n");
}

function prettyJson(v: string): string {
  try {
    return JSON.stringify(JSON.parse(v), null, 2);
  } catch {
    return v;
  }
}

async function readFileOrFail(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(
      "-f",
      `${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

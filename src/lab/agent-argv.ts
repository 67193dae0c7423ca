import type { LabModel } from "./topology.js";

/** How a lab agent reaches the datastore. */
export type LabAgentDatastore =
  | { readonly kind: "embedded"; readonly socket: string }
  | {
      readonly kind: "etcd";
      readonly url: string;
      readonly ca: string;
      readonly cert: string;
      readonly key: string;
    };

/** A BGP peer outside the node mesh (on l3: the node's gateway router). */
export interface LabAgentBgpPeer {
  readonly address: string;
  readonly asn: number;
}

/** The bgp model's part of a lab agent's configuration. */
export interface LabAgentBgp {
  readonly asn: number;
  /** TCP-MD5 key file (RFC 2385) for every session: the mesh's and the peers'. */
  readonly passwordFile?: string;
  /** false: no session to other nodes, only to `peers`. */
  readonly mesh: boolean;
  readonly peers: readonly LabAgentBgpPeer[];
  /** Nodes that reflect (RFC 4456); empty is a full mesh. */
  readonly routeReflectors: readonly string[];
  /** The agent's --bgp-hold, seconds; absent: the agent's default (9). */
  readonly holdTime?: number;
}

/** Everything a lab agent is started with. */
export interface LabAgentOptions {
  readonly node: string;
  readonly backend: LabModel;
  readonly clusterCidr: string;
  readonly datastore: LabAgentDatastore;
  readonly underlayDev: string;
  readonly stateDir: string;
  readonly heartbeatTtlSeconds: number;
  /** Where the agent finds the CNI plugins it delegates to. */
  readonly cniBinDir: string;
  /** Required for the bgp backend, refused for any other. */
  readonly bgp?: LabAgentBgp;
  /** The agent's --pod-attachment; absent: the backend's choice. */
  readonly podAttachment?: "bridge" | "routed";
  /** The agent's --spawn-helpers; absent: the agent's default (8). */
  readonly spawnHelpers?: number;
}

/**
 * Node's flags for a lab agent: a lab node is one of up to 200 on a laptop, so its memory counts
 * more than its peak speed. A 1 MiB young generation (default 16) and V8's lite mode (no
 * optimising compiler, feedback allocated lazily) take a running lab agent from ~48 to ~21 MiB of
 * private memory (bench/README.md, "The lab at cluster scale"); the agent's code is the same. Lite
 * mode has no WebAssembly, which the agent does not use: --no-expose-wasm says so, instead of a
 * warning in every agent's log.
 */
export const labAgentNodeFlags: readonly string[] = [
  "--max-semi-space-size=1",
  "--lite-mode",
  "--no-expose-wasm",
];

/** Pure: the `--datastore` flags of an agent (or `strata node remove`). */
export function datastoreArgv(d: LabAgentDatastore): string[] {
  if (d.kind === "embedded") return ["--datastore", `embedded:${d.socket}`];
  return [
    ...["--datastore", `etcd:${d.url}`, "--etcd-ca", d.ca],
    ...["--etcd-cert", d.cert, "--etcd-key", d.key],
  ];
}

/** Pure: the bgp backend's flags. */
function bgpArgv(b: LabAgentBgp): string[] {
  const password = b.passwordFile ? `,password-file=${b.passwordFile}` : "";
  return [
    ...["--bgp-asn", String(b.asn)],
    ...(b.passwordFile ? ["--bgp-password-file", b.passwordFile] : []),
    ...(b.mesh ? [] : ["--no-bgp-mesh"]),
    ...b.peers.flatMap((p) => ["--bgp-peer", `${p.address},as=${p.asn}${password}`]),
    ...(b.routeReflectors.length > 0 ? ["--bgp-route-reflectors", b.routeReflectors.join(",")] : []),
    ...(b.holdTime !== undefined ? ["--bgp-hold", String(b.holdTime)] : []),
  ];
}

/** Pure: the command line of `strata agent` for one lab node (after the CLI script). */
export function agentArgv(o: LabAgentOptions): string[] {
  if (o.backend === "bgp" && !o.bgp)
    throw new RangeError(`agent ${o.node}: the bgp backend needs its BGP options (asn, mesh, peers)`);
  if (o.backend !== "bgp" && o.bgp)
    throw new RangeError(`agent ${o.node}: BGP options given for the ${o.backend} backend`);
  if (!Number.isInteger(o.heartbeatTtlSeconds) || o.heartbeatTtlSeconds < 1)
    throw new RangeError(`agent ${o.node}: heartbeatTtlSeconds must be a whole number ≥ 1`);
  return [
    "agent",
    ...["--node", o.node, "--backend", o.backend, "--cluster-cidr", o.clusterCidr],
    ...datastoreArgv(o.datastore),
    ...["--underlay-dev", o.underlayDev, "--state-dir", o.stateDir],
    ...["--heartbeat-ttl", String(o.heartbeatTtlSeconds), "--cni-bin-dir", o.cniBinDir],
    ...(o.bgp ? bgpArgv(o.bgp) : []),
    ...(o.podAttachment ? ["--pod-attachment", o.podAttachment] : []),
    ...(o.spawnHelpers ? ["--spawn-helpers", String(o.spawnHelpers)] : []),
  ];
}

/**
 * What a lab agent's Node runs (bench/README.md, "Agent start-up"): the V8 startup snapshot of the
 * agent's bundle (its modules already evaluated), the bundle itself (one file), or the CLI script.
 * The same agent code in all three, built by `npm run build` (scripts/build-agent.mjs).
 */
export type LabAgentEntry =
  | { readonly kind: "snapshot"; readonly blob: string }
  | { readonly kind: "bundle"; readonly file: string }
  | { readonly kind: "cli"; readonly script: string };

export const labAgentEntryKinds = ["snapshot", "bundle", "cli"] as const;

/** Pure: Node's arguments that load the agent (after its flags, before `agent ...`). */
export function agentEntryArgv(e: LabAgentEntry): string[] {
  if (e.kind === "snapshot") return ["--snapshot-blob", e.blob];
  return [e.kind === "bundle" ? e.file : e.script];
}

/** What the build left in dist/agent, as the chooser needs it. */
export interface BuiltAgentEntries {
  readonly cliScript: string;
  readonly bundle?: string;
  /** The blob and the Node and flags it was built with (a snapshot loads only under those). */
  readonly snapshot?: {
    readonly blob: string;
    readonly node: string;
    readonly version: string;
    readonly flags: readonly string[];
  };
}

/**
 * Pure: the entry lab agents run. `wanted` (STRATA_LAB_AGENT_ENTRY) names one; absent, the cheapest
 * one built: a snapshot only if it was built for this Node (`node`, `version`) and these flags.
 */
export function chooseLabAgentEntry(
  built: BuiltAgentEntries,
  here: { readonly node: string; readonly version: string },
  wanted?: string,
): LabAgentEntry {
  const s = built.snapshot;
  const snapshotFits =
    s !== undefined &&
    s.node === here.node &&
    s.version === here.version &&
    s.flags.join(" ") === labAgentNodeFlags.join(" ");
  if (wanted !== undefined && wanted !== "" && !(labAgentEntryKinds as readonly string[]).includes(wanted))
    throw new RangeError(
      `STRATA_LAB_AGENT_ENTRY=${wanted}: expected one of ${labAgentEntryKinds.join(", ")}`,
    );
  if (wanted === "snapshot" && !snapshotFits)
    throw new RangeError(
      s
        ? `STRATA_LAB_AGENT_ENTRY=snapshot: the agent's snapshot was built for ${s.node} ${s.version} with ${s.flags.join(" ")}; run \`npm run build\` again`
        : "STRATA_LAB_AGENT_ENTRY=snapshot: no agent snapshot was built (see `npm run build`'s warnings)",
    );
  if (wanted === "bundle" && !built.bundle)
    throw new RangeError("STRATA_LAB_AGENT_ENTRY=bundle: no agent bundle was built (is esbuild installed?)");
  if (wanted === "cli") return { kind: "cli", script: built.cliScript };
  if (snapshotFits && wanted !== "bundle") return { kind: "snapshot", blob: s.blob };
  if (built.bundle) return { kind: "bundle", file: built.bundle };
  return { kind: "cli", script: built.cliScript };
}

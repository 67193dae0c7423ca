import { describeError } from "../common/errors.js";
import type { HostedAgentPhase, HostedAgentSpec, HostedAgentStatus, HostSpec } from "./host-wire.js";
import { HostWireError } from "./host-wire.js";

/** Runs one agent until `signal` aborts; rejects when it cannot start or fails. */
export type AgentLauncher = (agent: HostedAgentSpec, signal: AbortSignal) => Promise<void>;

interface Slot {
  readonly spec: HostedAgentSpec;
  phase: HostedAgentPhase;
  error?: string;
  starts: number;
  stop?: AbortController;
  done?: Promise<void>;
}

/**
 * The agents one host process may run (its spec), started and stopped one at a time on request.
 * An agent that fails is recorded with its error and leaves the others running: one node's bad
 * flag or dead datastore connection is that node's problem, as it is with a process per node.
 */
export class AgentHost {
  readonly #slots = new Map<string, Slot>();

  constructor(
    spec: HostSpec,
    private readonly launch: AgentLauncher,
    private readonly onEnd: (node: string, error?: unknown) => void = () => {},
  ) {
    for (const a of spec.agents) this.#slots.set(a.node, { spec: a, phase: "idle", starts: 0 });
  }

  #slot(node: string): Slot {
    const s = this.#slots.get(node);
    if (!s) throw new HostWireError(`this host runs no agent for ${node}`);
    return s;
  }

  /** Start a node's agent (refused while it runs or is stopping). */
  start(node: string): void {
    const s = this.#slot(node);
    if (s.phase === "running" || s.phase === "stopping")
      throw new HostWireError(`the agent of ${node} is ${s.phase}; stop it first`);
    const stop = new AbortController();
    s.stop = stop;
    s.phase = "running";
    s.error = undefined;
    s.starts++;
    s.done = this.launch(s.spec, stop.signal).then(
      () => {
        s.phase = "stopped";
        this.onEnd(node);
      },
      (err: unknown) => {
        s.phase = "failed";
        s.error = describeError(err);
        this.onEnd(node, err);
      },
    );
  }

  /** Stop a node's agent as SIGTERM stops one; resolves once it has stopped. */
  async stop(node: string): Promise<void> {
    const s = this.#slot(node);
    if (s.phase !== "running" && s.phase !== "stopping") return;
    s.phase = "stopping";
    s.stop?.abort();
    await s.done;
  }

  /** Stop every running agent, all at once. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#slots.keys()].map((n) => this.stop(n)));
  }

  status(): HostedAgentStatus[] {
    return [...this.#slots.values()].map((s) => ({
      node: s.spec.node,
      phase: s.phase,
      ...(s.error !== undefined ? { error: s.error } : {}),
      starts: s.starts,
    }));
  }
}

import { type Kernel, namedNetns } from "../kernel/api.js";

/** The agents' /healthz port (the agent's default; the lab does not change it). */
export const labHealthPort = 9947;

/** What an agent's /healthz said: the HTTP status (200 ok, 503 not) and its JSON, as the agent reports it. */
export interface AgentHealth {
  /** undefined: nothing answered on the health port. */
  readonly httpStatus?: number;
  readonly body?: unknown;
}

/**
 * Ask a node's agent over its health port (127.0.0.1 of the node's namespace). The HTTP status
 * decides whether it is healthy; the body is passed on as the agent wrote it.
 */
export async function agentHealth(kernel: Kernel, ns: string): Promise<AgentHealth> {
  const r = await kernel
    .exec(namedNetns(ns), [
      ...["curl", "-s", "--max-time", "2", "-w", "\n%{http_code}"],
      `http://127.0.0.1:${labHealthPort}/healthz`,
    ])
    .catch(() => undefined);
  if (r?.code !== 0) return {};
  const lines = r.stdout.trimEnd().split("\n");
  const httpStatus = Number(lines.pop());
  if (!Number.isInteger(httpStatus) || httpStatus === 0) return {};
  const text = lines.join("\n");
  try {
    return { httpStatus, body: JSON.parse(text) };
  } catch {
    return { httpStatus, body: text };
  }
}

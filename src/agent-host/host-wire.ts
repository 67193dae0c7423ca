import { z } from "zod";
import { StrataError } from "../common/errors.js";

/**
 * An agent host (`strata agent-host`): one process running the node agents of several emulated
 * nodes, each agent with its own node's namespace on every kernel call and socket. Its spec names
 * the agents it may run; its control socket starts, stops and reports them one at a time. Both are
 * read here, checked, before anything acts on them: the spec is a file the lab wrote, the socket's
 * requests come from whoever reached a root-only directory.
 */

export class HostWireError extends StrataError {
  constructor(message: string) {
    super("agent-host.wire", message);
  }
}

const nodeName = z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/, "a node name (DNS label)");

const hostedAgent = z
  .object({
    /** The node this agent serves. */
    node: nodeName,
    /** The node's named network namespace (/run/netns/<netns>). */
    netns: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "a namespace name"),
    /** `strata agent` arguments (what follows "agent"). */
    args: z.array(z.string().max(4096)).max(256),
    /** Its log file (appended). */
    log: z.string().startsWith("/", "an absolute path"),
  })
  .strict();

export const hostSpecSchema = z
  .object({
    agents: z
      .array(hostedAgent)
      .min(1)
      .max(1000)
      .refine((a) => new Set(a.map((x) => x.node)).size === a.length, "each node once")
      .refine((a) => new Set(a.map((x) => x.netns)).size === a.length, "each namespace once"),
  })
  .strict();

export type HostedAgentSpec = z.infer<typeof hostedAgent>;
export type HostSpec = z.infer<typeof hostSpecSchema>;

const issuesOf = (e: z.ZodError) =>
  e.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");

/** Pure: JSON text checked against `schema`; each failure a HostWireError in the caller's words. */
function checkedJson<T>(
  schema: z.ZodType<T>,
  text: string,
  notJson: string,
  invalid: (issues: string) => string,
): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HostWireError(notJson);
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new HostWireError(invalid(issuesOf(r.error)));
  return r.data;
}

/** Pure: a host spec's JSON text, checked. */
export function parseHostSpec(text: string): HostSpec {
  return checkedJson(
    hostSpecSchema,
    text,
    "the host spec is not JSON",
    (i) => `the host spec is not valid: ${i}`,
  );
}

export const hostRequestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("start"), node: nodeName }).strict(),
  z.object({ op: z.literal("stop"), node: nodeName }).strict(),
  z.object({ op: z.literal("status") }).strict(),
]);
export type HostRequest = z.infer<typeof hostRequestSchema>;

/** Where one hosted agent is: never started, starting or running, stopping, stopped, or failed (with why). */
export type HostedAgentPhase = "idle" | "running" | "stopping" | "stopped" | "failed";

export interface HostedAgentStatus {
  readonly node: string;
  readonly phase: HostedAgentPhase;
  /** failed: the error that ended it. */
  readonly error?: string;
  /** How many times it has been started in this host. */
  readonly starts: number;
}

export type HostReply =
  | { readonly ok: true; readonly agents: readonly HostedAgentStatus[] }
  | { readonly ok: false; readonly error: string };

/** Requests are one short JSON line. */
export const maxHostRequestBytes = 512;

/** Pure: a request line, checked. */
export function parseHostRequest(line: string): HostRequest {
  return checkedJson(
    hostRequestSchema,
    line,
    "request is not JSON",
    (i) => `not a request ({"op":"start"|"stop","node":NAME} or {"op":"status"}): ${i}`,
  );
}

const replySchema = z.union([
  z.object({
    ok: z.literal(true),
    agents: z.array(
      z.object({
        node: z.string(),
        phase: z.enum(["idle", "running", "stopping", "stopped", "failed"]),
        error: z.string().optional(),
        starts: z.number().int().nonnegative(),
      }),
    ),
  }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

/** Pure: a reply line, checked (the client's side). */
export function parseHostReply(line: string): HostReply {
  return checkedJson(
    replySchema,
    line,
    "the agent host's reply is not JSON",
    (i) => `the agent host's reply is not valid: ${i}`,
  );
}

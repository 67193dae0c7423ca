import { chmod, mkdir, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import type { Logger } from "pino";
import { describeError, StrataError } from "../common/errors.js";

/**
 * The agent's control socket: `strata agent rotate-key` (and later commands) reach the running
 * agent here. It lives in `<state dir>/control/` made mode 0700 and owned by the agent (root): the
 * directory's permissions decide who may ask, so only root can; nobody gets more than the
 * commands below. One JSON line in (`{"command":"rotate-key"}`), one JSON line out.
 */

export const controlSocketPath = (stateDir: string) => join(stateDir, "control", "agent.sock");

export type ControlCommand = "rotate-key";
export const controlCommands: readonly ControlCommand[] = ["rotate-key"];

export type ControlReply = { ok: true; result: unknown } | { ok: false; error: string; code?: string };

export class ControlError extends StrataError {
  constructor(message: string) {
    super("agent.control", message);
  }
}

const maxRequestBytes = 1024;

/** Pure: a request line into its command, or a ControlError saying what is wrong. */
export function parseControlRequest(line: string): ControlCommand {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new ControlError("request is not JSON");
  }
  const command = (json as { command?: unknown } | null)?.command;
  if (typeof command !== "string" || !controlCommands.includes(command as ControlCommand))
    throw new ControlError(`unknown command; known: ${controlCommands.join(", ")}`);
  return command as ControlCommand;
}

/** Serve the control socket under `stateDir` until closed. */
export async function startControlServer(
  stateDir: string,
  handle: (command: ControlCommand) => Promise<unknown>,
  logger: Logger,
): Promise<Server> {
  const path = controlSocketPath(stateDir);
  const dir = join(stateDir, "control");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await rm(path, { force: true });
  const server = createServer((sock) => {
    let buf = "";
    sock.setTimeout(5_000, () => sock.destroy());
    sock.setEncoding("utf8");
    const reply = (r: ControlReply) => sock.end(`${JSON.stringify(r)}\n`);
    sock.on("error", () => {});
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.length > maxRequestBytes) {
        reply({ ok: false, error: `request larger than ${maxRequestBytes} bytes` });
        return;
      }
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      sock.removeAllListeners("data");
      let command: ControlCommand;
      try {
        command = parseControlRequest(buf.slice(0, nl));
      } catch (err) {
        reply({ ok: false, error: describeError(err), code: "agent.control" });
        return;
      }
      // The command may take longer than the idle timeout (a lease write to a slow datastore).
      sock.setTimeout(0);
      handle(command).then(
        (result) => {
          logger.info({ command }, "control command done");
          reply({ ok: true, result });
        },
        (err) => {
          logger.warn({ command, err: describeError(err) }, "control command failed");
          reply({
            ok: false,
            error: describeError(err),
            code: err instanceof StrataError ? err.code : undefined,
          });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return server;
}

/** Send one command to the agent whose state directory is `stateDir`; its result, or a ControlError. */
export function sendControl(stateDir: string, command: ControlCommand, timeoutMs = 30_000): Promise<unknown> {
  const path = controlSocketPath(stateDir);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = "";
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      reject(new ControlError(`the agent at ${path} did not answer within ${timeoutMs / 1000} s`));
    });
    sock.setEncoding("utf8");
    sock.on("error", (err: NodeJS.ErrnoException) =>
      reject(
        new ControlError(
          err.code === "ENOENT" || err.code === "ECONNREFUSED"
            ? `no agent serves ${path} (is \`strata agent --state-dir ${stateDir}\` running?)`
            : `${path}: ${err.message}`,
        ),
      ),
    );
    sock.on("data", (d: string) => {
      buf += d;
    });
    sock.on("end", () => {
      try {
        const r = JSON.parse(buf) as ControlReply;
        if (r.ok) resolve(r.result);
        else reject(new ControlError(r.error));
      } catch {
        reject(new ControlError(`the agent at ${path} answered something unreadable`));
      }
    });
    sock.write(`${JSON.stringify({ command })}\n`);
  });
}

import { chmod, mkdir, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { dirname } from "node:path";
import { describeError } from "../common/errors.js";
import type { AgentHost } from "./agent-host.js";
import {
  type HostReply,
  type HostRequest,
  HostWireError,
  maxHostRequestBytes,
  parseHostReply,
  parseHostRequest,
} from "./host-wire.js";

/**
 * The agent host's control socket: one JSON request line in, one reply line out. It lives in a
 * directory made 0700 (root's): the directory decides who may ask, so only root can, and a request
 * can do no more than start or stop an agent the spec already names.
 */
export async function serveHostControl(path: string, host: AgentHost): Promise<Server> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await rm(path, { force: true });
  const server = createServer((sock) => {
    let buf = "";
    sock.setEncoding("utf8");
    sock.setTimeout(5_000, () => sock.destroy());
    sock.on("error", () => {});
    const reply = (r: HostReply) => sock.end(`${JSON.stringify(r)}\n`);
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.length > maxHostRequestBytes) {
        sock.removeAllListeners("data");
        reply({ ok: false, error: `request larger than ${maxHostRequestBytes} bytes` });
        return;
      }
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      sock.removeAllListeners("data");
      sock.setTimeout(0);
      let req: HostRequest;
      try {
        req = parseHostRequest(buf.slice(0, nl));
      } catch (err) {
        reply({ ok: false, error: describeError(err) });
        return;
      }
      act(host, req).then(
        () => reply({ ok: true, agents: host.status() }),
        (err: unknown) => reply({ ok: false, error: describeError(err) }),
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

async function act(host: AgentHost, req: HostRequest): Promise<void> {
  if (req.op === "start") host.start(req.node);
  else if (req.op === "stop") await host.stop(req.node);
}

/** Ask the agent host behind `path`; its refusal is a HostWireError with its words. */
export function askHost(
  path: string,
  req: HostRequest,
  timeoutMs = 30_000,
): Promise<HostReply & { ok: true }> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new HostWireError(`the agent host at ${path} did not answer ${req.op} within ${timeoutMs / 1000} s`),
      );
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on("data", (d: string) => {
      buf += d;
    });
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(new HostWireError(`cannot reach the agent host at ${path}: ${err.message}`));
    });
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        const r = parseHostReply(buf.trim());
        if (r.ok) resolve(r);
        else reject(new HostWireError(r.error));
      } catch (err) {
        reject(err);
      }
    });
  });
}

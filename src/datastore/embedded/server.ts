import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { Datastore } from "../api.js";
import { prepareSocketDir } from "./socket-dir.js";

/**
 * Serves a Datastore on a UNIX socket, newline-delimited JSON. A socket file is reachable from
 * every network namespace on the machine, so one embedded store serves all of a lab's nodes.
 * Request: {"id":1,"op":"put","args":["k","v",{}]}; reply: {"id":1,"ok":true,"result":...}.
 * "watch" streams {"id":n,"event":{...}} until {"id":n,"op":"cancel"} or the connection ends.
 *
 * Only root may use it: the socket is created 0600 (bound under umask 0177, then chmod'ed, so it
 * never exists with wider modes) in a directory only root can change (prepareSocketDir).
 */
export interface DatastoreServer {
  readonly server: Server;
  /** Stop listening and drop every client connection (they reconnect to the next server). */
  close(): Promise<void>;
}

export async function serveDatastore(store: Datastore, socketPath: string): Promise<DatastoreServer> {
  prepareSocketDir(dirname(socketPath));
  rmSync(socketPath, { force: true });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    handle(store, socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // bind() happens inside listen(), synchronously: the umask covers exactly the socket's creation.
    const umask = process.umask(0o177);
    try {
      server.listen(socketPath, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(socketPath, 0o600);
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

type Request = { id: number; op: string; args?: unknown[] };

const methods = [
  "get",
  "list",
  "put",
  "create",
  "update",
  "delete",
  "deleteIf",
  "grantLease",
  "keepAlive",
  "revokeLease",
] as const;

function handle(store: Datastore, socket: Socket): void {
  const watches = new Map<number, AbortController>();
  let buffered = "";
  const send = (msg: unknown) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(msg)}\n`);
  };
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line) void dispatch(line);
    }
  });
  socket.on("close", () => {
    for (const w of watches.values()) w.abort();
  });
  socket.on("error", () => socket.destroy());

  async function dispatch(line: string): Promise<void> {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      send({ id: -1, ok: false, error: "request is not JSON" });
      return;
    }
    const args = req.args ?? [];
    if (req.op === "watch") {
      const ac = new AbortController();
      watches.set(req.id, ac);
      try {
        for await (const event of store.watch(String(args[0]), Number(args[1]), ac.signal))
          send({ id: req.id, event });
      } finally {
        watches.delete(req.id);
      }
      return;
    }
    if (req.op === "cancel") {
      watches.get(req.id)?.abort();
      return;
    }
    if (!(methods as readonly string[]).includes(req.op)) {
      send({ id: req.id, ok: false, error: `unknown op ${req.op}` });
      return;
    }
    try {
      const fn = store[req.op as (typeof methods)[number]] as (...a: unknown[]) => Promise<unknown>;
      const result = await fn.apply(store, args);
      send({ id: req.id, ok: true, result: result ?? null });
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      send({
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        ...(typeof code === "string" ? { code } : {}),
      });
    }
  }
}

import { connect, type Socket } from "node:net";
import { type Datastore, DatastoreError, type KeyValue, type PutOptions, type WatchEvent } from "../api.js";
import { AsyncQueue } from "../async-queue.js";
import { checkSocketOwner } from "./socket-dir.js";

type Reply = {
  id: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  code?: string;
  event?: WatchEvent;
};

/**
 * The kind of a failed request, from the server's error code: a write the disk refused
 * (datastore.disk-full, datastore.io) was not applied and may be retried, like an outage.
 */
function replyKind(code: string | undefined): DatastoreError["kind"] {
  if (code === "datastore.disk-full" || code === "datastore.io" || code === "datastore.unavailable")
    return "unavailable";
  return "invalid";
}

/**
 * A Datastore that talks to an embedded store's socket (server.ts). It connects on first use and
 * again after the server went away; requests in flight then fail with "unavailable" and watches
 * end with that error, so callers retry and re-watch from the last revision they saw.
 */
export function connectEmbedded(socketPath: string): Datastore {
  let socket: Socket | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const watches = new Map<number, AsyncQueue<WatchEvent>>();

  function open(): Promise<Socket> {
    if (socket && !socket.destroyed) return Promise.resolve(socket);
    try {
      checkSocketOwner(socketPath);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const s = connect(socketPath);
      let buffered = "";
      s.setEncoding("utf8");
      s.once("connect", () => {
        socket = s;
        resolve(s);
      });
      s.on("data", (chunk: string) => {
        buffered += chunk;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const msg = JSON.parse(buffered.slice(0, nl)) as Reply;
          buffered = buffered.slice(nl + 1);
          if (msg.event) {
            watches.get(msg.id)?.push(msg.event);
            continue;
          }
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          if (msg.ok) p?.resolve(msg.result);
          else p?.reject(new DatastoreError(replyKind(msg.code), msg.error ?? "request failed"));
        }
      });
      const fail = (err?: Error) => {
        const e = new DatastoreError("unavailable", `embedded datastore at ${socketPath} is unreachable`, {
          cause: err,
        });
        if (socket === s) socket = undefined;
        for (const p of pending.values()) p.reject(e);
        pending.clear();
        for (const w of watches.values()) w.end(e);
        watches.clear();
        reject(e);
      };
      s.on("error", (err) => fail(err));
      s.on("close", () => fail());
    });
  }

  async function call<T>(op: string, ...args: unknown[]): Promise<T> {
    const s = await open();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      s.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  return {
    get: async (key) => (await call<KeyValue | null>("get", key)) ?? undefined,
    list: (prefix) => call("list", prefix),
    put: (key, value, opts?: PutOptions) => call("put", key, value, opts ?? {}),
    create: (key, value, opts?: PutOptions) => call("create", key, value, opts ?? {}),
    update: (key, value, expected, opts?: PutOptions) => call("update", key, value, expected, opts ?? {}),
    delete: (key) => call("delete", key),
    deleteIf: (key, expected) => call("deleteIf", key, expected),
    grantLease: (ttl) => call("grantLease", ttl),
    keepAlive: (lease) => call("keepAlive", lease),
    revokeLease: async (lease) => {
      await call("revokeLease", lease);
    },
    watch(prefix, fromRevision, signal): AsyncIterable<WatchEvent> {
      const queue = new AsyncQueue<WatchEvent>(signal);
      const id = nextId++;
      open().then(
        (s) => {
          watches.set(id, queue);
          s.write(`${JSON.stringify({ id, op: "watch", args: [prefix, fromRevision] })}\n`);
          signal.addEventListener(
            "abort",
            () => {
              watches.delete(id);
              if (!s.destroyed) s.write(`${JSON.stringify({ id, op: "cancel" })}\n`);
            },
            { once: true },
          );
        },
        (err) => queue.end(err),
      );
      return queue;
    },
    async close() {
      socket?.destroy();
      socket = undefined;
    },
  };
}

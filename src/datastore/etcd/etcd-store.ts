import type { Etcd3, IKeyValue } from "etcd3";
import { type Datastore, DatastoreError, type KeyValue, type PutOptions, type WatchEvent } from "../api.js";
import { AsyncQueue } from "../async-queue.js";
import type { EtcdTls } from "./etcd-tls.js";

const toKv = (kv: IKeyValue): KeyValue => ({
  key: kv.key.toString(),
  value: kv.value.toString(),
  modRevision: Number(kv.mod_revision),
  createRevision: Number(kv.create_revision),
  ...(kv.lease && kv.lease !== "0" ? { lease: String(kv.lease) } : {}),
});

// What gRPC says when the TLS handshake fails (wrong CA, no or rejected client certificate).
const tlsFailure = /SSL|TLS|certificate|handshake|alert/i;

/**
 * The etcd v3 datastore (the only module that imports `etcd3`). With `tls` (loadEtcdTls), every
 * endpoint is https://, the server is checked against the CA and the client presents its pair.
 */
export function connectEtcd(endpoints: readonly string[], tls?: EtcdTls): Datastore {
  // Loaded on first use, not at import: etcd3 and gRPC cost every process that links this module
  // ~17 MiB and ~0.6 s (agents on the embedded store, CNI plugins), though few ever talk to etcd.
  const connecting = import("etcd3").then(
    ({ Etcd3: Client }) =>
      new Client({
        hosts: [...endpoints],
        dialTimeout: 3000,
        ...(tls
          ? { credentials: { rootCertificate: tls.ca, privateKey: tls.key, certChain: tls.cert } }
          : {}),
      }),
  );
  let client!: Etcd3;
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      client = await connecting;
      return await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Only a handshake failure gets the hint; a plain outage ("Failed to connect") does not.
      const hint =
        tls && tlsFailure.test(message)
          ? ` (TLS with ${endpoints.join(",")}: is it etcd's CA in --etcd-ca, and is --etcd-cert signed by the CA etcd trusts?)`
          : "";
      throw new DatastoreError("unavailable", `etcd ${what} failed: ${message}${hint}`, { cause: err });
    }
  };
  // Called only inside wrap(), after `client` is set.
  const putOp = (key: string, value: string, opts: PutOptions) => {
    const op = client.put(key).value(value);
    return opts.lease ? op.lease(opts.lease) : op;
  };

  const store: Datastore = {
    get: (key) =>
      wrap("get", async () => {
        const r = await client.get(key).exec();
        const kv = r.kvs[0];
        return kv ? toKv(kv) : undefined;
      }),
    list: (prefix) =>
      wrap("list", async () => {
        const r = await client.getAll().prefix(prefix).exec();
        return { items: r.kvs.map(toKv), revision: Number(r.header.revision) };
      }),
    put: (key, value, opts = {}) =>
      wrap("put", async () => Number((await putOp(key, value, opts).exec()).header.revision)),
    create: (key, value, opts = {}) =>
      wrap(
        "create",
        async () =>
          (
            await client
              .if(key, "Create", "==", 0)
              .then(putOp(key, value, opts))
              .commit()
          ).succeeded,
      ),
    update: (key, value, expected, opts = {}) =>
      wrap(
        "update",
        async () =>
          (
            await client
              .if(key, "Mod", "==", expected)
              .then(putOp(key, value, opts))
              .commit()
          ).succeeded,
      ),
    delete: (key) => wrap("delete", async () => Number((await client.delete().key(key).exec()).deleted) > 0),
    deleteIf: (key, expected) =>
      wrap(
        "deleteIf",
        async () =>
          (await client.if(key, "Mod", "==", expected).then(client.delete().key(key)).commit()).succeeded,
      ),
    grantLease: (ttl) =>
      wrap("lease grant", async () => String((await client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 })).ID)),
    keepAlive: (lease) =>
      wrap("keepalive", async () => {
        const stream = await client.leaseClient.leaseKeepAlive();
        try {
          const reply = new Promise<{ TTL: string }>((resolve, reject) => {
            stream.on("data", resolve);
            stream.on("error", reject);
          });
          stream.write({ ID: lease });
          return Number((await reply).TTL) > 0;
        } finally {
          stream.end();
        }
      }),
    revokeLease: (lease) =>
      wrap("lease revoke", async () => {
        await client.leaseClient.leaseRevoke({ ID: lease }).catch((err: Error) => {
          if (!/not found/i.test(err.message)) throw err;
        });
      }),
    watch(prefix, fromRevision, signal): AsyncIterable<WatchEvent> {
      const queue = new AsyncQueue<WatchEvent>(signal);
      const start = async (from: number): Promise<void> => {
        client = await connecting;
        const watcher = await client
          .watch()
          .prefix(prefix)
          .startRevision(String(from + 1))
          .create();
        signal.addEventListener("abort", () => void watcher.cancel(), { once: true });
        watcher.on("put", (kv) =>
          queue.push({ type: "put", kv: toKv(kv), revision: Number(kv.mod_revision) }),
        );
        watcher.on("delete", (kv, prev) =>
          queue.push({
            type: "delete",
            key: kv.key.toString(),
            revision: Number(kv.mod_revision ?? prev?.mod_revision),
          }),
        );
        watcher.on("error", () => {
          // Compacted history or a broken stream: hand the watcher the whole state, then go on.
          void watcher.cancel();
          if (signal.aborted) return;
          store.list(prefix).then(
            (snap) => {
              queue.push({ type: "resync", items: snap.items, revision: snap.revision });
              return start(snap.revision);
            },
            (err) => queue.end(err),
          );
        });
      };
      start(fromRevision).catch((err) =>
        queue.end(new DatastoreError("unavailable", "etcd watch failed", { cause: err })),
      );
      return queue;
    },
    close: async () => (await connecting).close(),
  };
  return store;
}

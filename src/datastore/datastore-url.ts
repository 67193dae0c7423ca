import { type Datastore, DatastoreError } from "./api.js";
import { connectEmbedded } from "./embedded/client.js";
import { connectEtcd } from "./etcd/etcd-store.js";
import { type EtcdTlsFiles, loadEtcdTls } from "./etcd/etcd-tls.js";

/** The URL forms a datastore is named by, in flags and in plugin configurations. */
export const datastoreUrlSyntax = "embedded:<socket path> or etcd:<http(s)://host:port,...>";

/**
 * Open the datastore a URL names: `embedded:<socket>` (the embedded store's UNIX socket) or
 * `etcd:<endpoint,...>` (with the TLS files for https). Connects lazily; a malformed URL or TLS
 * file is a DatastoreError "invalid" saying what to fix.
 */
export function openDatastoreUrl(url: string, tls: EtcdTlsFiles = {}): Datastore {
  if (url.startsWith("embedded:") && url.length > "embedded:".length)
    return connectEmbedded(url.slice("embedded:".length));
  if (url.startsWith("etcd:")) {
    const endpoints = url.slice("etcd:".length).split(",");
    return connectEtcd(endpoints, loadEtcdTls(endpoints, tls));
  }
  throw new DatastoreError("invalid", `"${url}" is not ${datastoreUrlSyntax}`);
}

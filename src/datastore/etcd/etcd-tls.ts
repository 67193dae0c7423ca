import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { DatastoreError } from "../api.js";

/** The files of `--etcd-ca`, `--etcd-cert`, `--etcd-key` (as Flannel and Calico take them). */
export interface EtcdTlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** What the etcd client presents and trusts (PEM). */
export interface EtcdTls {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

const invalid = (message: string, cause?: unknown) =>
  new DatastoreError("invalid", message, cause === undefined ? undefined : { cause });

function read(flag: string, path: string, pem: RegExp, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw invalid(`${flag} ${path}: cannot read it (${code})`, err);
  }
  if (!pem.test(data.toString("latin1"))) throw invalid(`${flag} ${path}: not a PEM ${what}`);
  return data;
}

/**
 * Check the endpoints and the certificate flags together and read the files, with an error that
 * says what to fix: https needs a CA; a certificate needs its key; certificates with http:// would
 * silently not be used (or, in the etcd3 client, turn TLS on against a plain server).
 */
export function loadEtcdTls(endpoints: readonly string[], files: EtcdTlsFiles): EtcdTls | undefined {
  if (endpoints.length === 0) throw invalid("no etcd endpoint: --datastore etcd:https://host:2379[,...]");
  const schemes = new Set(
    endpoints.map((e) => {
      const m = /^(https?):\/\/[^/\s]+$/.exec(e);
      if (!m) throw invalid(`etcd endpoint "${e}" is not http(s)://host:port`);
      return m[1];
    }),
  );
  if (schemes.size > 1) throw invalid("etcd endpoints mix http:// and https://: use https:// for all");
  const tls = schemes.has("https");
  const given = [files.ca && "--etcd-ca", files.cert && "--etcd-cert", files.key && "--etcd-key"].filter(
    Boolean,
  );
  if (!tls) {
    if (given.length > 0)
      throw invalid(`${given.join(", ")} given but the etcd endpoints are http://: use https:// endpoints`);
    return undefined;
  }
  if (!files.ca)
    throw invalid("etcd endpoints are https:// but no --etcd-ca: pass the CA that signed etcd's certificate");
  if (Boolean(files.cert) !== Boolean(files.key))
    throw invalid(
      "--etcd-cert and --etcd-key go together: pass both (the client certificate and its key) or neither",
    );
  const cert = /-----BEGIN CERTIFICATE-----/;
  const ca = read("--etcd-ca", files.ca, cert, "certificate");
  try {
    new X509Certificate(ca);
  } catch (err) {
    throw invalid(`--etcd-ca ${files.ca}: not a valid certificate`, err);
  }
  if (!files.cert || !files.key) return { ca };
  const certPem = read("--etcd-cert", files.cert, cert, "certificate");
  const keyPem = read("--etcd-key", files.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    throw invalid(`--etcd-cert ${files.cert}: not a valid certificate`, err);
  }
  if (Date.parse(x509.validTo) < Date.now())
    throw invalid(`--etcd-cert ${files.cert}: expired on ${x509.validTo}: issue a new client certificate`);
  try {
    if (!x509.checkPrivateKey(createPrivateKey(keyPem))) throw new Error("mismatch");
  } catch (err) {
    throw invalid(`--etcd-key ${files.key} is not the key of --etcd-cert ${files.cert}`, err);
  }
  return { ca, cert: certPem, key: keyPem };
}

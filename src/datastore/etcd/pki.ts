import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { DatastoreError } from "../api.js";

const run = promisify(execFile);

/** Paths of a small PKI for one etcd: its CA, the server's pair and one client pair. */
export interface EtcdPki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** Pure: etcd's flags to serve https only, to clients with a certificate from this PKI's CA. */
export function etcdServerTlsArgs(pki: EtcdPki): string[] {
  return [
    "--client-cert-auth",
    ...["--trusted-ca-file", pki.ca],
    ...["--cert-file", pki.serverCert],
    ...["--key-file", pki.serverKey],
  ];
}

export interface EtcdPkiOptions {
  /** Addresses the server certificate is valid for (its subjectAltName). */
  readonly serverIps: readonly string[];
  readonly days?: number;
}

/**
 * Make a CA, a server certificate and a client certificate for an etcd (the lab's and the tests'),
 * with the openssl CLI (Node cannot sign X.509 certificates). EC P-256 keys: a few milliseconds
 * each. The directory is 0700 and every key 0600, set explicitly, not left to the umask.
 */
export async function makeEtcdPki(dir: string, opts: EtcdPkiOptions): Promise<EtcdPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const p = (f: string) => join(dir, f);
  const pki: EtcdPki = {
    dir,
    ca: p("ca.pem"),
    serverCert: p("server.pem"),
    serverKey: p("server-key.pem"),
    clientCert: p("client.pem"),
    clientKey: p("client-key.pem"),
  };
  const days = String(opts.days ?? 825);
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const openssl = async (...args: string[]) => {
    try {
      await run("openssl", args);
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? err).trim();
      throw new DatastoreError(
        "invalid",
        /ENOENT/.test(stderr)
          ? "openssl is not installed (apt-get install openssl)"
          : `openssl ${args[0]} failed: ${stderr}`,
        { cause: err },
      );
    }
  };
  const caKey = p("ca-key.pem");
  await openssl(
    ...["req", "-x509", ...newKey, "-keyout", caKey, "-out", pki.ca, "-days", days],
    ...["-subj", "/CN=strata-etcd-ca", "-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  );
  const sign = async (name: string, key: string, cert: string, ext: string) => {
    const csr = p(`${name}.csr`);
    const extFile = p(`${name}.ext`);
    await writeFile(extFile, ext);
    await openssl("req", "-new", ...newKey, "-keyout", key, "-out", csr, "-subj", `/CN=${name}`);
    await openssl(
      ...["x509", "-req", "-in", csr, "-CA", pki.ca, "-CAkey", caKey, "-out", cert, "-days", days],
      ...["-set_serial", `0x${randomBytes(16).toString("hex")}`, "-extfile", extFile],
    );
    await rm(csr);
    await rm(extFile);
  };
  const san = ["127.0.0.1", ...opts.serverIps].map((ip) => `IP:${ip}`).join(",");
  await Promise.all([
    sign(
      "etcd-server",
      pki.serverKey,
      pki.serverCert,
      // clientAuth too: etcd's own HTTP/JSON gateway dials its gRPC side with the server's pair.
      `subjectAltName=${san},DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`,
    ),
    sign(
      "strata-agent",
      pki.clientKey,
      pki.clientCert,
      "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
    ),
  ]);
  for (const key of [caKey, pki.serverKey, pki.clientKey]) await chmod(key, 0o600);
  return pki;
}

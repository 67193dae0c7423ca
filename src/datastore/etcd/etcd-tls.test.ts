import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DatastoreError } from "../api.js";
import { loadEtcdTls } from "./etcd-tls.js";
import { type EtcdPki, makeEtcdPki } from "./pki.js";

describe("--etcd-ca, --etcd-cert, --etcd-key", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-etcd-tls-"));
  let pki: EtcdPki;
  let other: EtcdPki;
  const https = ["https://127.0.0.1:2379"];
  before(async () => {
    pki = await makeEtcdPki(join(dir, "a"), { serverIps: ["192.168.10.1"] });
    other = await makeEtcdPki(join(dir, "b"), { serverIps: ["192.168.10.1"] });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fails = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof DatastoreError, String(err));
      assert.equal(err.code, "datastore.invalid");
      assert.match(err.message, pattern);
      return true;
    });

  test("the PKI is root's: directory 0700, every key 0600", () => {
    assert.equal(statSync(pki.dir).mode & 0o777, 0o700);
    for (const key of [pki.serverKey, pki.clientKey, join(pki.dir, "ca-key.pem")])
      assert.equal(statSync(key).mode & 0o777, 0o600, key);
  });

  test("https with a CA and a matching pair loads all three", () => {
    const tls = loadEtcdTls(https, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
    assert.match(tls?.ca.toString() ?? "", /BEGIN CERTIFICATE/);
    assert.ok(tls?.cert && tls.key);
  });

  test("http without certificates is plain; with certificates it is refused (they would not be used)", () => {
    assert.equal(loadEtcdTls(["http://127.0.0.1:2379"], {}), undefined);
    fails(
      () => loadEtcdTls(["http://127.0.0.1:2379"], { ca: pki.ca }),
      /--etcd-ca given but .* http:\/\/: use https/,
    );
  });

  test("https without a CA, a certificate without its key, mixed schemes, a bad URL: each says what to fix", () => {
    fails(() => loadEtcdTls(https, {}), /no --etcd-ca/);
    fails(
      () => loadEtcdTls(https, { ca: pki.ca, cert: pki.clientCert }),
      /--etcd-cert and --etcd-key go together/,
    );
    fails(() => loadEtcdTls([...https, "http://10.0.0.1:2379"], { ca: pki.ca }), /mix http/);
    fails(() => loadEtcdTls(["10.0.0.1:2379"], {}), /not http\(s\):\/\/host:port/);
  });

  test("a missing or unreadable file, a file that is not PEM, a key of another certificate", () => {
    fails(
      () => loadEtcdTls(https, { ca: join(dir, "nope.pem") }),
      /--etcd-ca .*nope\.pem: cannot read it \(ENOENT\)/,
    );
    const junk = join(dir, "junk.pem");
    writeFileSync(junk, "not a certificate");
    fails(() => loadEtcdTls(https, { ca: junk }), /--etcd-ca .*junk\.pem: not a PEM certificate/);
    fails(
      () => loadEtcdTls(https, { ca: pki.ca, cert: pki.clientCert, key: pki.clientCert }),
      /--etcd-key .*: not a PEM private key/,
    );
    fails(
      () => loadEtcdTls(https, { ca: pki.ca, cert: pki.clientCert, key: other.clientKey }),
      /is not the key of --etcd-cert/,
    );
  });
});

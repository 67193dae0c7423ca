import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { datastoreContract } from "../../../test/support/datastore-contract.js";
import { type EtcdProcess, startEtcd } from "../../../test/support/etcd.js";
import type { Datastore } from "../api.js";
import { connectEtcd } from "./etcd-store.js";
import { loadEtcdTls } from "./etcd-tls.js";
import { makeEtcdPki } from "./pki.js";

describe("etcd v3 datastore against a real etcd", () => {
  let etcd: EtcdProcess;
  let client: Datastore;
  before(async () => {
    etcd = await startEtcd();
    client = connectEtcd([etcd.endpoint]);
  });
  after(async () => {
    await client.close();
    await etcd.stop();
  });
  datastoreContract({ name: "etcd", store: () => client, restart: () => etcd.restart(), minTtl: 2 });
});

describe("etcd with TLS and client-certificate auth", () => {
  let etcd: EtcdProcess;
  let client: Datastore;
  const others: Datastore[] = [];
  before(async () => {
    etcd = await startEtcd({ tls: true });
    const pki = etcd.pki;
    assert.ok(pki);
    client = connectEtcd(
      [etcd.endpoint],
      loadEtcdTls([etcd.endpoint], { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }),
    );
  });
  after(async () => {
    for (const o of others) await o.close();
    await client.close();
    await etcd.stop();
  });
  const refused = async (store: Datastore, pattern: RegExp) => {
    others.push(store);
    await assert.rejects(store.put("/strata/subnets/10.244.9.0-24", "forged"), pattern);
  };

  test("a client without a certificate is refused, over https and over plain http", async () => {
    const pki = etcd.pki;
    assert.ok(pki);
    await refused(
      connectEtcd([etcd.endpoint], loadEtcdTls([etcd.endpoint], { ca: pki.ca })),
      /bad certificate|TLS/,
    );
    const plain = etcd.endpoint.replace("https:", "http:");
    await refused(connectEtcd([plain]), /etcd put failed/);
    assert.equal(await client.get("/strata/subnets/10.244.9.0-24"), undefined, "nothing was written");
  });

  test("a client certificate from another CA is refused, and so is a server the CA did not sign", async () => {
    const pki = etcd.pki;
    assert.ok(pki);
    const rogue = await makeEtcdPki(`${pki.dir}-rogue`, { serverIps: ["127.0.0.1"] });
    // Our CA to check the server, but a client pair the server's CA never signed.
    await refused(
      connectEtcd(
        [etcd.endpoint],
        loadEtcdTls([etcd.endpoint], { ca: pki.ca, cert: rogue.clientCert, key: rogue.clientKey }),
      ),
      /TLS|certificate/,
    );
    // A genuine client pair, but a CA that did not sign this server: the client will not talk.
    await refused(
      connectEtcd(
        [etcd.endpoint],
        loadEtcdTls([etcd.endpoint], { ca: rogue.ca, cert: pki.clientCert, key: pki.clientKey }),
      ),
      /TLS|certificate/,
    );
  });

  test("a client with the certificate reads and writes", async () => {
    const rev = await client.put("/tls/ok", "yes");
    assert.ok(rev > 0);
    assert.equal((await client.get("/tls/ok"))?.value, "yes");
  });

  datastoreContract({ name: "etcd (TLS)", store: () => client, restart: () => etcd.restart(), minTtl: 2 });
});

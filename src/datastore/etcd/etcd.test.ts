import { after, before, describe } from "node:test";
import { type EtcdProcess, startEtcd } from "../../../test/support/etcd.js";
import type { Datastore } from "../api.js";
import { datastoreContract } from "../contract.js";
import { connectEtcd } from "./etcd-store.js";

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

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe } from "node:test";
import { datastoreContract } from "../../../test/support/datastore-contract.js";
import type { Datastore } from "../api.js";
import { connectEmbedded } from "./client.js";
import { EmbeddedStore } from "./embedded-store.js";
import { type DatastoreServer, serveDatastore } from "./server.js";

/** The contract over the socket; `compactBytes` small makes the store compact during it. */
function contractOverSocket(name: string, compactBytes?: number): void {
  describe(`${name} datastore over its UNIX socket`, () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-kv-"));
    const socket = join(dir, "kv.sock");
    let store: EmbeddedStore;
    let server: DatastoreServer;
    let client: Datastore;
    const start = async () => {
      store = new EmbeddedStore({ dir: join(dir, "data"), ...(compactBytes ? { compactBytes } : {}) });
      server = await serveDatastore(store, socket);
    };
    const stop = async () => {
      await store.close();
      await server.close();
    };
    before(async () => {
      await start();
      client = connectEmbedded(socket);
    });
    after(async () => {
      await client.close();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    });
    datastoreContract({
      name,
      store: () => client,
      restart: async () => {
        await stop();
        await start();
      },
      minTtl: 1,
    });
  });
}

contractOverSocket("embedded");
contractOverSocket("embedded (compacting all the time)", 1);

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { DatastoreError } from "../api.js";
import { connectEmbedded } from "./client.js";
import { EmbeddedStore } from "./embedded-store.js";
import { serveDatastore } from "./server.js";

const run = promisify(execFile);
const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
/** A real client in another process: connect, ask for a key, print what happened. */
const probe = (socket: string) => [
  process.execPath,
  "-e",
  `const s=require("net").connect(${JSON.stringify(socket)});
   s.on("error",e=>{console.log("refused:"+e.code);process.exit(2)});
   s.on("connect",()=>s.write(JSON.stringify({id:1,op:"get",args:["/x"]})+"\\n"));
   s.on("data",d=>{console.log("served:"+d.toString().trim());process.exit(0)});`,
];
const attempt = async (argv: string[]) => {
  try {
    return (await run(argv[0] as string, argv.slice(1))).stdout.trim();
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err).trim();
  }
};

describe("the embedded store's socket is root's only", () => {
  const base = mkdtempSync(join(tmpdir(), "strata-kvsock-"));
  // The base must be traversable for the non-root probe to reach the socket's own directory.
  chmodSync(base, 0o755);
  after(() => rmSync(base, { recursive: true, force: true }));

  test("a missing directory is created 0700; the socket is 0600, whatever the umask; root is served, nobody is refused", async () => {
    const dir = join(base, "fresh");
    const socket = join(dir, "kv.sock");
    const store = new EmbeddedStore();
    const umask = process.umask(0);
    let server: Awaited<ReturnType<typeof serveDatastore>>;
    try {
      server = await serveDatastore(store, socket);
    } finally {
      process.umask(umask);
    }
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(dir).uid, 0);
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.match(await attempt(probe(socket)), /^served:.*"ok":true/);
      assert.equal(await attempt([...nobody, ...probe(socket)]), "refused:EACCES");
    } finally {
      await server.close();
      await store.close();
    }
  });

  test("in a root directory others may read (0755), the 0600 socket alone still refuses nobody", async () => {
    const dir = join(base, "open");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const socket = join(dir, "kv.sock");
    const store = new EmbeddedStore();
    const server = await serveDatastore(store, socket);
    try {
      assert.equal(await attempt([...nobody, ...probe(socket)]), "refused:EACCES");
      const client = connectEmbedded(socket);
      assert.equal((await client.put("/k", "v")) > 0, true, "root's client is served");
      await client.close();
    } finally {
      await server.close();
      await store.close();
    }
  });

  test("a directory writable by others, or owned by another user, is refused with what to fix", async () => {
    const store = new EmbeddedStore();
    const shared = join(base, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    await assert.rejects(serveDatastore(store, join(shared, "kv.sock")), (err: unknown) => {
      assert.ok(err instanceof DatastoreError);
      assert.equal(err.code, "datastore.insecure");
      assert.match(err.message, /writable by group or others \(mode 0777\).*chmod 0700/);
      return true;
    });
    const foreign = join(base, "foreign");
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    await assert.rejects(
      serveDatastore(store, join(foreign, "kv.sock")),
      /owned by uid 65534, not root: chown root/,
    );
    await store.close();
  });

  test("a client refuses a socket another user owns (a squatter)", async () => {
    const dir = join(base, "squat");
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777);
    const socket = join(dir, "kv.sock");
    // nobody binds the name and would answer anything.
    const squatter = execFile(nobody[0] as string, [
      ...nobody.slice(1),
      process.execPath,
      "-e",
      `require("net").createServer(c=>c.end('{"id":1,"ok":true,"result":null}\\n')).listen(${JSON.stringify(socket)})`,
    ]);
    try {
      for (let i = 0; i < 100 && !statSync(socket, { throwIfNoEntry: false }); i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(statSync(socket).uid, 65534);
      const client = connectEmbedded(socket);
      await assert.rejects(client.get("/k"), /belongs to uid 65534, not root: refusing/);
      await client.close();
    } finally {
      squatter.kill();
    }
  });
});

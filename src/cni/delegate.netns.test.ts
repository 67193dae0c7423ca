import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { TestNamespaces } from "../../test/support/netns.js";
import { delegateAdd } from "./delegate.js";
import { type CniPlugin, decodeRequest } from "./skeleton.js";

const nss = new TestNamespaces("deleg");
const dir = mkdtempSync(join(tmpdir(), "strata-t-deleg-"));
after(() => {
  nss.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test("an executed delegate runs in the node's namespace when the caller acts for another one (agent host)", async () => {
  const node = nss.create("node");
  // A foreign IPAM plugin that notes the network namespace it runs in and answers one address.
  const seen = join(dir, "seen");
  const plugin = join(dir, "where-ipam");
  writeFileSync(
    plugin,
    `#!/bin/sh\nstat -L -c %i /proc/self/ns/net > ${seen}\necho '{"cniVersion":"1.1.0","ips":[{"address":"10.9.0.5/24"}]}'\n`,
  );
  chmodSync(plugin, 0o755);
  const main: CniPlugin<unknown> = {
    type: "main",
    parseConfig: (raw) => raw,
    add: async () => ({ cniVersion: "1.1.0" }),
    del: async () => {},
    check: async () => {},
  };
  const req = decodeRequest(main, "ADD", {
    env: {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/run/netns/pod",
      CNI_IFNAME: "eth0",
      CNI_PATH: dir,
    },
    stdin: JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "main", ipam: { type: "where-ipam" } }),
  });
  const nodeIno = String(statSync(nss.path(node)).ino);
  const r = await delegateAdd("where-ipam", req, { netnsPath: nss.path(node) });
  assert.equal(r.ips?.[0]?.address, "10.9.0.5/24");
  assert.equal(readFileSync(seen, "utf8").trim(), nodeIno, "ran inside the node's namespace");
  await delegateAdd("where-ipam", req);
  assert.notEqual(readFileSync(seen, "utf8").trim(), nodeIno, "without one: in the caller's own");
});

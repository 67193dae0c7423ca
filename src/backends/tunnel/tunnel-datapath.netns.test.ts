import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { repoRoot } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { EmbeddedStore } from "../../datastore/embedded/embedded-store.js";
import { type DatastoreServer, serveDatastore } from "../../datastore/embedded/server.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";

/**
 * `strata agent --backend ipip|gre --datapath kernel` on a kernel without the module: the agent
 * stops at start with one line naming the module and `--datapath bpf`, and leases nothing.
 */
const cli = join(repoRoot, "bin/strata.js");
const dir = mkdtempSync(join(tmpdir(), "strata-tunnel-"));
const nss = new TestNamespaces("tun");
const sock = join(dir, "kv.sock");
const store = new EmbeddedStore();
let server: DatastoreServer | undefined;
let node = "";

before(async () => {
  server = await serveDatastore(store, sock);
  node = nss.create("n1");
  const peer = nss.create("peer");
  const ip = (ns: string, ...a: string[]) => execFileSync("ip", ["-n", ns, ...a]);
  ip(node, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "p1", "netns", peer);
  ip(node, "addr", "add", "192.168.77.11/24", "dev", "eth0");
  ip(node, "link", "set", "eth0", "up");
});
after(async () => {
  nss.cleanup();
  await server?.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function agent(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const cniDir = join(dir, "cni");
  mkdirSync(cniDir, { recursive: true, mode: 0o700 });
  const argv = [
    ...["agent", "--node", "n1", "--datastore", `embedded:${sock}`, "--underlay-dev", "eth0"],
    ...["--health-port", "0", "--cni-socket-dir", cniDir, "--cni-bin-dir", dir, "--no-masquerade"],
    ...args,
  ];
  return new Promise((resolve) => {
    const p = spawn("ip", ["netns", "exec", node, process.execPath, cli, ...argv], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

for (const proto of ["ipip", "gre"] as const) {
  test(`--datapath kernel without the ${proto} module: refused at start in one line, nothing leased`, async (t) => {
    const caps = await createIproute2Kernel().probe();
    if (caps.linkKinds[proto]) {
      t.skip(`this kernel has the ${proto} module`);
      return;
    }
    const r = await agent(["--backend", proto, "--datapath", "kernel"]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? "",
      new RegExp(`^strata: --datapath kernel: this kernel has no ${proto} module`),
    );
    assert.match(lines[0] ?? "", /use --datapath bpf/);
    assert.deepEqual((await store.list("/strata/")).items, []);
  });
}

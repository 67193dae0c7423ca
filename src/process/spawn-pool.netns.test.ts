import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { repoRoot } from "../../test/support/cni.js";
import { TestNamespaces } from "../../test/support/netns.js";
import { runProgram as run } from "./run-program.js";
import { SpawnPool } from "./spawn-pool.js";

const helper = join(repoRoot, "dist/shim/strata-spawn-helper");

describe("spawn helper: a program with its own environment, inside a namespace", {
  skip: !existsSync(helper) && "helper not built",
}, () => {
  const nss = new TestNamespaces("spawn");
  after(() => nss.cleanup());

  test("runs in the named network namespace with exactly the environment given", async () => {
    const ns = nss.path(nss.create("node"));
    const pool = new SpawnPool(helper, 2, run);
    try {
      const r = await pool.runIn(["/bin/sh", "-c", "cat; env | sort; readlink /proc/self/ns/net"], {
        input: "in\n",
        env: { CNI_COMMAND: "ADD", PATH: "/usr/bin:/bin" },
        netns: ns,
      });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines[0], "in");
      // sh adds PWD (and may add SHLVL, _); nothing of this process's environment is there.
      const env = lines.slice(1, -1).filter((l) => !/^(PWD|SHLVL|_)=/.test(l));
      assert.deepEqual(env, ["CNI_COMMAND=ADD", "PATH=/usr/bin:/bin"]);
      assert.equal(lines.at(-1), `net:[${statSync(ns).ino}]`);
      // Without a place, the helper's own namespace (this one's) and environment, as before.
      const here = await pool.run(["readlink", "/proc/self/ns/net"]);
      assert.equal(here.stdout.trim(), `net:[${statSync("/proc/self/ns/net").ino}]`);
      // A namespace that is not there: the program never runs, 127 and why.
      const missing = await pool.runIn(["/bin/true"], { netns: `${ns}-nosuch` });
      assert.equal(missing.code, 127);
      assert.match(missing.stderr, /cannot enter network namespace .*-nosuch: No such file/);
    } finally {
      pool.close();
    }
  });

  test("a helper that is gone: the fallback enters the namespace and sets the environment too", async () => {
    const ns = nss.path(nss.create("fallback"));
    const pool = new SpawnPool("/nonexistent/spawn-helper", 1, run);
    try {
      const r = await pool.runIn(["/bin/sh", "-c", "echo $K; readlink /proc/self/ns/net"], {
        env: { K: "v", PATH: "/usr/bin:/bin" },
        netns: ns,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n"), ["v", `net:[${statSync(ns).ino}]`]);
    } finally {
      pool.close();
    }
  });
});

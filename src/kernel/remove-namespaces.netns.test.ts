import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { test } from "node:test";
import { testNetnsPrefix, withNamespaces } from "../../test/support/netns.js";
import { eventually } from "../common/eventually.js";
import { createIproute2Kernel } from "./iproute2/index.js";
import { removeNamespaces } from "./remove-namespaces.js";

test("removeNamespaces ends what runs inside the namespaces it removes, and nothing outside them", async () => {
  await withNamespaces("rmns", async (ns) => {
    const name = ns.create("victim");
    const inside = spawn("ip", ["netns", "exec", name, "sleep", "300"], { stdio: "ignore" });
    const outside = spawn("sleep", ["300"], { stdio: "ignore" });
    try {
      assert.ok(inside.pid && outside.pid);
      const insidePid = inside.pid;
      // `ip` has exec'd sleep once the PID's network namespace is the one we made.
      await eventually(
        () => statSync(`/proc/${insidePid}/ns/net`).ino === statSync(`/run/netns/${name}`).ino,
        "the process in the namespace",
      );
      const exited = new Promise((r) => inside.once("exit", r));
      const removed = await removeNamespaces(createIproute2Kernel(), `${testNetnsPrefix}rmns-victim-`);
      assert.deepEqual(removed, [name]);
      await exited;
      assert.equal(existsSync(`/run/netns/${name}`), false);
      assert.equal(outside.exitCode, null, "the process outside is still running");
      assert.equal(existsSync(`/proc/${outside.pid}`), true);
    } finally {
      inside.kill("SIGKILL");
      outside.kill("SIGKILL");
    }
  });
});

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repoRoot } from "../../test/support/cni.js";
import { runProgram as run } from "./run-program.js";
import { decodeSpawnReply, encodeSpawnRequest, SpawnPool } from "./spawn-pool.js";

const helper = join(repoRoot, "dist/shim/strata-spawn-helper");

describe("spawn helper pool", () => {
  test("reply decoding waits for a whole reply", () => {
    const reply = Buffer.concat([
      Buffer.from([3, 0, 0, 0, 2, 0, 0, 0]),
      Buffer.from("ok"),
      Buffer.from([1, 0, 0, 0]),
      Buffer.from("e"),
    ]);
    for (let cut = 0; cut < reply.length; cut++)
      assert.equal(decodeSpawnReply(reply.subarray(0, cut)), undefined);
    assert.deepEqual(decodeSpawnReply(reply), {
      result: { code: 3, stdout: "ok", stderr: "e" },
      used: reply.length,
    });
    assert.equal(
      encodeSpawnRequest(["a", "bc"], "x").toString("latin1"),
      "\u0002\u0000\u0000\u0000a\u0000bc\u0000\u0001\u0000\u0000\u0000x",
    );
    // Extended: argc with its top bit, then the whole environment and the namespace file.
    assert.equal(
      encodeSpawnRequest(["a"], "", { env: { K: "v" }, netns: "/run/netns/n" }).toString("latin1"),
      "\u0001\u0000\u0000\u0080a\u0000\u0001\u0000\u0000\u0000K=v\u0000/run/netns/n\u0000\u0000\u0000\u0000\u0000",
    );
  });

  test("runs programs with stdin, exit codes, stdout/stderr apart, many at once", {
    skip: !existsSync(helper) && "helper not built",
  }, async () => {
    const pool = new SpawnPool(helper, 3, run);
    try {
      const r = await pool.run(["sh", "-c", "cat; echo err >&2; exit 7"], { input: "hello" });
      assert.deepEqual(r, { code: 7, stdout: "hello", stderr: "err\n" });
      const big = "x".repeat(300_000);
      const echoed = await pool.run(["cat"], { input: big });
      assert.equal(echoed.stdout.length, big.length, "large stdin and stdout do not deadlock");
      const many = await Promise.all(
        Array.from({ length: 20 }, (_, i) => pool.run(["sh", "-c", `echo ${i}`])),
      );
      assert.deepEqual(
        many.map((m) => m.stdout.trim()),
        Array.from({ length: 20 }, (_, i) => String(i)),
      );
      const missing = await pool.run(["/nonexistent/program"]);
      assert.equal(missing.code, 127);
    } finally {
      pool.close();
    }
  });
});

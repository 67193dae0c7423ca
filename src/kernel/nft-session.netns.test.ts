import assert from "node:assert/strict";
import { test } from "node:test";
import { inNetns, withNamespaces } from "../../test/support/netns.js";
import { namedNetns } from "./api.js";
import { createIproute2Kernel } from "./iproute2/index.js";
import { NftSession, nftOneShot } from "./nft-session.js";

const elements = (ns: string) =>
  (
    JSON.parse(inNetns(ns, ["nft", "-j", "list", "set", "inet", "t", "s"])) as {
      nftables: { set?: { elem?: string[] } }[];
    }
  ).nftables.flatMap((x) => x.set?.elem ?? []);

test("nft session: one transaction per script, errors reported per script, recovers after nft dies", async () => {
  await withNamespaces("nftsess", async (nss) => {
    const ns = nss.create("n");
    const session = new NftSession(["ip", "netns", "exec", ns, "nft"]);
    try {
      const ok = await session.run([
        "add table inet t",
        "add set inet t s { type ifname; }",
        "add chain inet t c { type filter hook prerouting priority 0; policy accept; }",
        'add element inet t s { "a" }',
      ]);
      assert.deepEqual(ok, { code: 0, stdout: "", stderr: "" });
      // A failing script fails whole (one transaction): "b" is not added beside the bad line.
      const bad = await session.run(['add element inet t s { "b" }', 'add element inet t nope { "c" }']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /nope/);
      assert.deepEqual(elements(ns), ["a"]);
      // Scripts in flight together each get their own answer.
      const many = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          session.run([i === 7 ? 'delete element inet t s { "zz" }' : `add element inet t s { "p${i}" }`]),
        ),
      );
      assert.deepEqual(
        many.map((r) => r.code),
        many.map((_, i) => (i === 7 ? 1 : 0)),
      );
      assert.equal(elements(ns).length, 20, "a and 19 others");
      // Adding what is there is fine (no answer from nft at all).
      assert.equal((await session.run(['add element inet t s { "a" }'])).code, 0);
      const first = session.pid;
      assert.ok(first);
      process.kill(first, "SIGKILL");
      await new Promise((r) => setTimeout(r, 100));
      const after = await session.run(['add element inet t s { "after" }']);
      assert.equal(after.code, 0, after.stderr);
      assert.notEqual(session.pid, first, "a new nft was started");
      assert.ok(elements(ns).includes("after"));
    } finally {
      session.close();
    }
  });
});

test("nft session, lazy: the first scripts run one-shot (nft -f -, one transaction each), the resident nft only after them", async () => {
  await withNamespaces("nftlazy", async (nss) => {
    const ns = nss.create("n");
    const kernel = createIproute2Kernel();
    let oneShots = 0;
    const oneShot = nftOneShot((n, argv, o) => {
      oneShots++;
      return kernel.exec(n, argv, o);
    }, namedNetns(ns));
    const session = new NftSession(["ip", "netns", "exec", ns, "nft"], 10_000, { oneShot, residentAfter: 2 });
    try {
      const setup = await session.run([
        "add table inet t",
        "add set inet t s { type ifname; }",
        'add element inet t s { "a" }',
      ]);
      assert.equal(setup.code, 0, setup.stderr);
      // One transaction one-shot too: the bad line takes "b" with it, and the error names it.
      const bad = await session.run(['add element inet t s { "b" }', 'add element inet t nope { "c" }']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /nope/);
      assert.deepEqual(elements(ns), ["a"]);
      assert.equal(oneShots, 2);
      assert.equal(session.pid, undefined, "no resident nft yet");
      assert.equal((await session.run(['add element inet t s { "c" }'])).code, 0);
      assert.equal(oneShots, 2, "the third script went to the resident nft");
      assert.ok(session.pid, "now started");
      assert.deepEqual(elements(ns).sort(), ["a", "c"]);
    } finally {
      session.close();
    }
  });
});

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { answeredProbes, pingBatchArgs, pingBatchScript } from "./check.js";

test("ping batch: each probe is one argument, each outcome one line, matched by index", () => {
  const args = pingBatchArgs([
    { index: 7, to: "127.0.0.1" },
    { index: 9, to: "127.0.0.1", size: 1400 },
    // TEST-NET-1 (RFC 5737), routed nowhere from a namespace without a default route: no answer.
    { index: 12, to: "192.0.2.1" },
    // IPv6: the address has colons of its own (ping -6, DF at full size too).
    { index: 14, to: "::1" },
    { index: 15, to: "::1", size: 1400 },
    { index: 16, to: "2001:db8::1" },
  ]);
  assert.deepEqual(args, [
    "7:127.0.0.1:0",
    "9:127.0.0.1:1400",
    "12:192.0.2.1:0",
    "14:::1:0",
    "15:::1:1400",
    "16:2001:db8::1:0",
  ]);
  const ns = `strata-t-${process.env.STRATA_TEST_RUN ?? "x"}-pingbatch`;
  execFileSync("ip", ["netns", "add", ns]);
  try {
    execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    const out = execFileSync(
      "ip",
      ["netns", "exec", ns, "sh", "-c", pingBatchScript, "ping-batch", ...args],
      {
        encoding: "utf8",
      },
    );
    assert.deepEqual(
      [...answeredProbes(out)].sort((x, y) => x - y),
      [7, 9, 14, 15],
    );
    assert.equal(out.trim().split("\n").length, 6, "one line per probe, the failed ones too");
  } finally {
    execFileSync("ip", ["netns", "del", ns]);
  }
});

test("answeredProbes ignores anything but `INDEX 0` lines", () => {
  assert.deepEqual([...answeredProbes("1 0\n2 1\nnoise\n 3 0 \n4 00\n")], [1, 3]);
});

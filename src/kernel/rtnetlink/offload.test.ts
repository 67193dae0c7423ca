import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { classifyError } from "../iproute2/classify.js";
import { ethtoolSetArgs, offloadError, offloadSettings } from "./offload.js";

const op = { operation: "link.offload (ethtool -K p0 tso off)", failedOpIndex: 2 };
const s = { opIndex: 0, dev: "p0", values: [0, -1, -1] as const };
const result = (errno: number, error: string, stage: string, feature = -1) => ({
  done: 0,
  errno,
  error,
  stage,
  feature,
});

describe("native offload settings", () => {
  test("one setting per op that changes something, -1 for a feature left as it is", () => {
    const settings = offloadSettings([
      { op: "link.offload", name: "p0", tso: false, gso: false },
      { op: "link.set", name: "p0", up: true },
      { op: "link.offload", name: "eth0" },
      { op: "link.offload", name: "eth0", gro: true },
    ]);
    assert.deepEqual(settings, [
      { opIndex: 0, dev: "p0", values: [0, 0, -1] },
      { opIndex: 3, dev: "eth0", values: [-1, -1, 1] },
    ]);
    assert.deepEqual(ethtoolSetArgs(settings), ["p0", 0, 0, -1, "eth0", -1, -1, 1]);
  });

  test("failures have the kinds ethtool's and nsenter's words for the same errno have", () => {
    // What the iproute2 driver's `ethtool -K nosuch tso off` and nsenter print, classified alike.
    assert.equal(
      classifyError("netlink error: no device matches name (offset 24)\nnetlink error: No such device"),
      "not-found",
    );
    const missing = offloadError(s, "/run/netns/x", result(19, "No such device", "set"), op);
    assert.equal(missing.kind, "not-found");
    assert.equal(missing.failedOpIndex, 2);
    assert.equal(missing.message, "link.offload (ethtool -K p0 tso off): p0: No such device");
    assert.equal(
      offloadError(s, "/run/netns/x", result(2, "No such file or directory", "netns"), op).kind,
      "not-found",
    );
    assert.equal(
      offloadError(s, "/run/netns/x", result(1, "Operation not permitted", "set"), op).kind,
      "permission",
    );
    assert.equal(offloadError(s, "/run/netns/x", result(22, "Invalid argument", "set"), op).kind, "invalid");
    const fixed = offloadError(s, "/run/netns/x", result(95, "Operation not supported", "set", 0), op);
    assert.equal(classifyError("Could not change any device features"), "failed");
    assert.equal(fixed.kind, "failed");
    assert.match(
      fixed.message,
      /Could not change any device features \(tcp-segmentation-offload is fixed on p0\)/,
    );
  });
});

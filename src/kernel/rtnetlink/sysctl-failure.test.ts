import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sysctlError } from "./sysctl-failure.js";

const file = "/proc/sys/net/ipv4/nosuch";
const ns = "/run/netns/x";
const op = { operation: "sysctl.set (write /proc/sys/net/ipv4/nosuch = 1)", failedOpIndex: 3 };

describe("native sysctl failures, classified as the iproute2 driver's programs' are", () => {
  test("reads: cat's words for the errno", () => {
    const e = sysctlError(
      "read",
      file,
      ns,
      { errno: 2, error: "No such file or directory", stage: "open" },
      {
        operation: `read ${file}`,
      },
    );
    assert.equal(e.kind, "not-found");
    assert.equal(e.message, `read ${file}: ${file}: No such file or directory`);
    assert.equal(
      sysctlError("read", file, ns, { errno: 13, error: "Permission denied", stage: "open" }, op).kind,
      "permission",
    );
    assert.equal(
      sysctlError("read", file, ns, { errno: 21, error: "Is a directory", stage: "read" }, op).kind,
      "failed",
    );
  });

  test('writes: the shell\'s "cannot create" (a missing key is "Directory nonexistent": failed)', () => {
    const e = sysctlError(
      "write",
      file,
      ns,
      { errno: 2, error: "No such file or directory", stage: "open" },
      op,
    );
    assert.equal(e.kind, "failed");
    assert.equal(e.failedOpIndex, 3);
    assert.match(e.message, /cannot create \/proc\/sys\/net\/ipv4\/nosuch: Directory nonexistent/);
    assert.equal(
      sysctlError("write", file, ns, { errno: 13, error: "Permission denied", stage: "open" }, op).kind,
      "permission",
    );
    // printf reports any failed write as an I/O error; the message keeps the real reason.
    const w = sysctlError("write", file, ns, { errno: 22, error: "Invalid argument", stage: "write" }, op);
    assert.equal(w.kind, "failed");
    assert.match(w.message, /write \/proc\/sys\/net\/ipv4\/nosuch: Invalid argument/);
  });

  test("a namespace that cannot be opened: nsenter's words, either way", () => {
    for (const what of ["read", "write"] as const) {
      const e = sysctlError(
        what,
        file,
        ns,
        { errno: 2, error: "No such file or directory", stage: "netns" },
        op,
      );
      assert.equal(e.kind, "not-found");
      assert.match(e.message, /cannot open \/run\/netns\/x: No such file or directory/);
    }
  });
});

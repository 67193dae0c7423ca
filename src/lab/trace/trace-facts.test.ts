import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hasNatTable, parseRouteEntry, routeGetArgs, splitBatch } from "./trace-facts.js";

describe("reading a namespace for trace (pure parts)", () => {
  test("one `ip -batch` answer is split per command, failures placed by their line number", () => {
    const ok = '[{"type":"local","dst":"127.0.0.1","dev":"lo","flags":[]}]';
    assert.deepEqual(splitBatch(`${ok}\n${ok}\n`, "", 2), [
      { code: 0, stdout: ok, stderr: "" },
      { code: 0, stdout: ok, stderr: "" },
    ]);
    // As iproute2 6.1 prints it when the first of two commands fails.
    const r = splitBatch(`${ok}\n`, "RTNETLINK answers: Invalid argument\nCommand failed -:1\n", 2);
    assert.deepEqual(r[0], { code: 2, stdout: "", stderr: "RTNETLINK answers: Invalid argument" });
    assert.deepEqual(r[1], { code: 0, stdout: ok, stderr: "" });
  });

  test("route get arguments: source and input interface as the packet has them; fibmatch for the entry", () => {
    assert.deepEqual(routeGetArgs({ dst: "10.244.2.2", from: "10.244.1.2", iif: "cni0" }, true), [
      ...["-j", "route", "get", "fibmatch", "10.244.2.2"],
      ...["from", "10.244.1.2", "iif", "cni0"],
    ]);
    assert.deepEqual(routeGetArgs({ dst: "10.244.2.2" }), ["-j", "route", "get", "10.244.2.2"]);
  });

  test("the table entry and Strata's masquerade table are read from the kernel's JSON", () => {
    assert.deepEqual(
      parseRouteEntry(
        '[{"dst":"10.244.2.0/24","gateway":"10.244.2.0","dev":"strata.1","protocol":"147","flags":["onlink"]}]',
      ),
      { dst: "10.244.2.0/24", gateway: "10.244.2.0", dev: "strata.1", protocol: "147" },
    );
    const ruleset = (name: string) =>
      JSON.stringify({ nftables: [{ metainfo: {} }, { table: { family: "ip", name, handle: 1 } }] });
    assert.equal(hasNatTable(ruleset("strata-nat")), true);
    assert.equal(hasNatTable(ruleset("other")), false);
  });
});

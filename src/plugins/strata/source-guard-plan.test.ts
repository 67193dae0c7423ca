import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  allowScript,
  forgetScript,
  guardFamily,
  guardTableScript,
  parseGuardTable,
  portSources,
  sourcesOf,
} from "./source-guard-plan.js";

describe("source guard planner", () => {
  test("bridge mode guards in the bridge family (the veth is a bridge port), routed mode in inet", () => {
    assert.equal(guardFamily("bridge"), "bridge");
    assert.equal(guardFamily("routed"), "inet");
  });

  test("IPAM addresses become bare v4 and v6 sources of the port", () => {
    assert.deepEqual(portSources("veth1", ["10.1.0.5/24", "fd00::5/64"]), {
      port: "veth1",
      v4: ["10.1.0.5"],
      v6: ["fd00::5"],
    });
  });

  test("the shared rules are re-writable: chains are flushed before their rules are added", () => {
    for (const family of ["bridge", "inet"] as const) {
      const lines = guardTableScript(family);
      for (const chain of ["prerouting", "guard"]) {
        const flush = lines.indexOf(`flush chain ${family} strata-antispoof ${chain}`);
        const firstRule = lines.findIndex((l) =>
          l.startsWith(`add rule ${family} strata-antispoof ${chain} `),
        );
        assert.ok(flush >= 0 && flush < firstRule, `${family} ${chain}: flush before rules`);
      }
      assert.ok(!lines.some((l) => l.startsWith("delete table")), "never deletes the table (counters stay)");
      // Every drop is counted, and the guard only applies to guarded ports.
      for (const l of lines.filter((x) => x.endsWith(" drop"))) assert.match(l, /counter name spoofed_/);
      assert.ok(lines.includes(`add rule ${family} strata-antispoof prerouting iifname @ports jump guard`));
    }
  });

  test("bridge mode also binds ARP senders and drops other ethertypes; inet has no ARP", () => {
    const bridge = guardTableScript("bridge").join("\n");
    assert.match(bridge, /ether type arp iifname \. arp saddr ip @v4 accept/);
    assert.match(bridge, /arp saddr ip 0\.0\.0\.0 accept/);
    assert.match(bridge, /guard counter name spoofed_other drop$/m);
    assert.doesNotMatch(guardTableScript("inet").join("\n"), /arp|spoofed_other/);
  });

  test("IPv6 allows link-local and DAD's unspecified source only for NDP/MLD", () => {
    const inet = guardTableScript("inet").join("\n");
    assert.match(inet, /ip6 saddr fe80::\/10 accept/);
    assert.match(
      inet,
      /ip6 saddr :: icmpv6 type \{ nd-neighbor-solicit, mld-listener-report, mld2-listener-report \} accept/,
    );
  });

  test("allow adds the port and each address; forget adds then deletes the same elements", () => {
    const s = portSources("vethab", ["10.1.0.5/24", "fd00::5/64"]);
    assert.deepEqual(allowScript("bridge", s), [
      'add element bridge strata-antispoof ports { "vethab" }',
      'add element bridge strata-antispoof v4 { "vethab" . 10.1.0.5 }',
      'add element bridge strata-antispoof v6 { "vethab" . fd00::5 }',
    ]);
    const forget = forgetScript("inet", s);
    assert.equal(forget.length, 6);
    assert.deepEqual(
      forget.slice(3),
      allowScript("inet", s).map((l) => l.replace(/^add /, "delete ")),
      "deletes exactly what it first made sure exists",
    );
  });

  test("parses nft -j output: ports, sources per port, counters summed over tables", () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: "1.0.6" } },
        { table: { family: "bridge", name: "strata-antispoof" } },
        { counter: { family: "bridge", name: "spoofed_ipv4", table: "strata-antispoof", packets: 3 } },
        { counter: { family: "inet", name: "spoofed_ipv4", table: "strata-antispoof", packets: 4 } },
        { counter: { family: "bridge", name: "spoofed_arp", table: "strata-antispoof", packets: 1 } },
        { counter: { family: "inet", name: "spoofed_ipv4", table: "someone-else", packets: 99 } },
        { set: { family: "bridge", name: "ports", table: "strata-antispoof", elem: ["veth1", "veth2"] } },
        {
          set: {
            family: "bridge",
            name: "v4",
            table: "strata-antispoof",
            elem: [{ concat: ["veth1", "10.1.0.5"] }, { concat: ["veth3", "10.1.0.9"] }],
          },
        },
        {
          set: {
            family: "bridge",
            name: "v6",
            table: "strata-antispoof",
            elem: [{ concat: ["veth1", "fd00::5"] }],
          },
        },
      ],
    });
    const state = parseGuardTable(json);
    assert.deepEqual([...state.ports], ["veth1", "veth2"]);
    assert.deepEqual(state.counts, { ipv4: 7, ipv6: 0, arp: 1, other: 0 });
    assert.deepEqual(sourcesOf(state, "veth1"), { port: "veth1", v4: ["10.1.0.5"], v6: ["fd00::5"] });
    assert.deepEqual(sourcesOf(state, "veth2"), { port: "veth2", v4: [], v6: [] }, "guarded, no sources");
    assert.deepEqual(
      sourcesOf(state, "veth3"),
      { port: "veth3", v4: ["10.1.0.9"], v6: [] },
      "orphan sources",
    );
    assert.equal(sourcesOf(state, "veth9"), undefined);
    assert.deepEqual(parseGuardTable("").counts, { ipv4: 0, ipv6: 0, arp: 0, other: 0 });
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { Link } from "../../kernel/api.js";
import type { LabState } from "../state.js";
import { encapsulatorFor, outerText, tunnelEncapsulation } from "./encapsulations.js";
import { LabPlaces } from "./lab-places.js";
import { predictStep } from "./predict-step.js";
import type { NsFacts, Position, PredictedHop } from "./trace-model.js";

/**
 * The ipip and gre entries of encapsulations.ts, in the walk: the kernel state recorded in a
 * vxlan lab on l2 (test/fixtures/trace/vxlan-l2.json) with its VXLAN device and routes rewritten
 * as each tunnel datapath has them (the namespaces the packet crosses are the same).
 */
interface Recorded {
  readonly state: LabState;
  readonly steps: readonly { readonly pos: Position; readonly facts: NsFacts }[];
}
const rec = JSON.parse(
  readFileSync(new URL("../../../../test/fixtures/trace/vxlan-l2.json", import.meta.url), "utf8"),
) as Recorded;
const places = new LabPlaces(rec.state);
const n1 = rec.state.nodes[0] as LabState["nodes"][number];
const n2 = rec.state.nodes[1] as LabState["nodes"][number];

type Layout = { proto: "ipip" | "gre"; datapath: "kernel" | "bpf" };

/** The recorded facts of one namespace as the tunnel layout has them. */
function asTunnel(facts: NsFacts, { proto, datapath }: Layout): NsFacts {
  const dev = `strata.${proto}`;
  const links: Link[] = facts.links.map((l) =>
    l.kind === "vxlan"
      ? {
          index: l.index,
          name: dev,
          kind: datapath === "bpf" ? "tun" : proto,
          mtu: 1480,
          up: true,
          operState: "UNKNOWN",
        }
      : l,
  );
  const route =
    facts.route.ok && facts.route.dev.startsWith("strata.")
      ? {
          ...facts.route,
          dev,
          ...(datapath === "kernel" ? { gateway: n2.ip } : { gateway: undefined }),
        }
      : facts.route;
  return { ...facts, links, route, routeEntry: undefined, neighbours: [], fdb: [] };
}

/**
 * The receiving node as the ipip/gre backends attach pods (routed, Calico's design): no cni0, a
 * /32 route per pod on the pod's own veth.
 */
function asRouted(facts: NsFacts): NsFacts {
  if (facts.ns !== n2.ns || !facts.route.ok || facts.route.dev !== "cni0") return facts;
  const pod = facts.links.find((l) => l.master === "cni0" && l.peerNetnsId === 1) as Link;
  const links = facts.links
    .filter((l) => l.kind !== "bridge" && (l.master !== "cni0" || l === pod))
    .map(({ master: _, ...l }) => l);
  return { ...facts, links, route: { ...facts.route, dev: pod.name } };
}

function walk(layout: Layout, routedPods = false) {
  let pos: Position | undefined = rec.steps[0]?.pos;
  const hops: PredictedHop[] = [];
  for (const step of rec.steps) {
    if (!pos) break;
    assert.equal(pos.ns, step.pos.ns);
    const facts = asTunnel(step.facts, layout);
    const r = predictStep(pos, routedPods ? asRouted(facts) : facts, places);
    hops.push(...r.hops);
    if (r.delivered) return { hops, delivered: true };
    pos = r.next;
  }
  return { hops, delivered: false };
}

describe("trace through ipip and gre", () => {
  for (const layout of [
    { proto: "ipip", datapath: "kernel" },
    { proto: "ipip", datapath: "bpf" },
    { proto: "gre", datapath: "kernel" },
    { proto: "gre", datapath: "bpf" },
  ] as const) {
    test(`${layout.proto} (${layout.datapath}): encapsulate on strata.${layout.proto} with the node addresses, decapsulate on n2, deliver`, () => {
      const r = walk(layout);
      assert.equal(r.delivered, true);
      assert.deepEqual(
        r.hops.map((h) => `${h.place}:${h.action}`),
        [
          "n1-p1:send",
          "n1:encapsulate",
          "n1:send",
          "underlay:switch",
          "n2:decapsulate",
          "n2:forward",
          "n2-p1:deliver",
        ],
      );
      const enc = r.hops[1];
      assert.deepEqual(enc?.outer, {
        kind: layout.proto,
        src: n1.ip,
        dst: n2.ip,
        overhead: layout.proto === "ipip" ? 20 : 24,
      });
      assert.equal(enc?.outDev, `strata.${layout.proto}`);
      const decap = r.hops[4];
      if (layout.datapath === "bpf") {
        assert.match(
          enc?.decidedBy ?? "",
          new RegExp(
            `tc-BPF on strata\\.${layout.proto} egress: peer map 10\\.244\\.1\\.0/24 → ${n2.ip} \\(n2's lease\\)`,
          ),
        );
        // The underlay's ingress program decapsulates and hands the inner packet to the TUN device.
        assert.match(
          decap?.decidedBy ?? "",
          /tc-BPF on the underlay's ingress strips the outer header, hands the packet to strata\./,
        );
      } else
        assert.match(
          enc?.decidedBy ?? "",
          new RegExp(`remote any: outer destination the route's gateway ${n2.ip}`),
        );
      assert.equal(decap?.outDev, `strata.${layout.proto}`);
      assert.equal(r.hops[5]?.inDev, decap?.outDev);
    });
  }

  test("pods attached routed (no cni0): the receiving node forwards on the pod's own veth, the pod delivers", () => {
    const r = walk({ proto: "ipip", datapath: "bpf" }, true);
    assert.equal(r.delivered, true);
    assert.deepEqual(
      r.hops.slice(4).map((h) => `${h.place}:${h.action}`),
      ["n2:decapsulate", "n2:forward", "n2-p1:deliver"],
    );
    assert.equal(r.hops[5]?.outDev, "vethcb34eb26791");
  });

  test("a kernel tunnel route without a gateway stops: remote any has no node to send to", () => {
    const facts = asTunnel(rec.steps[1]?.facts as NsFacts, { proto: "ipip", datapath: "bpf" });
    const link = facts.links.find((l) => l.name === "strata.ipip") as Link;
    const kernelDev = { ...link, kind: "ipip" };
    const r = tunnelEncapsulation("ipip").encapsulate(kernelDev, facts.route as never, facts, places);
    assert.ok("stop" in r && r.stop.kind === "no-route" && /remote any/.test(r.stop.kernelSays));
  });

  test("only Strata's TUN device is a tunnel: another TUN device is a plain device", () => {
    const tun = { index: 9, name: "tun0", kind: "tun", mtu: 1500, up: true, operState: "UNKNOWN" };
    assert.equal(encapsulatorFor(tun), undefined);
    assert.equal(encapsulatorFor({ ...tun, name: "strata.gre" })?.kind, "gre");
    assert.equal(encapsulatorFor({ ...tun, name: "x", kind: "ipip" })?.kind, "ipip");
  });

  test("the outer header in words, as predicted and as captured", () => {
    assert.equal(outerText({ kind: "ipip", src: "a", dst: "b" }), "a → b ipip");
    assert.equal(outerText({ proto: "gre", key: 7, src: "a", dst: "b" }), "a → b gre key 7");
    assert.equal(outerText({ src: "a", dst: "b", port: 8472, vni: 1 }), "a → b udp/8472 vni 1");
  });
});

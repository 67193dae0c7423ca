import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseManifests } from "./manifest.js";
import { nadConfList, parseNad } from "./nad.js";

/** Multus' own quick-start example, as people write it. */
const multusExample = `---
# A macvlan network on eth0
apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf
  labels:
    team: a   # trailing comment
spec:
  config: '{
      "cniVersion": "0.3.0",
      "type": "macvlan",
      "master": "eth0",
      "mode": "bridge",
      "ipam": {
        "type": "host-local",
        "subnet": "192.168.1.0/24",
        "routes": [ { "dst": "0.0.0.0/0" } ],
        "gateway": "192.168.1.1"
      }
    }'
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: bridge-conf
  namespace: infra
spec:
  config: |
    {
      "cniVersion": "1.0.0",
      "name": "bridge-b.v1",
      "plugins": [{"type": "bridge", "bridge": "br-b"}]
    }
`;

describe("manifests as kubectl apply -f reads them", () => {
  test("Multus' YAML example: a multi-line single-quoted config and a literal block", () => {
    const [a, b, ...rest] = parseManifests(multusExample).map((v) => parseNad(v));
    assert.equal(rest.length, 0);
    assert.equal(a?.metadata.name, "macvlan-conf");
    assert.deepEqual(a?.metadata.labels, { team: "a" });
    const la = nadConfList(a as NonNullable<typeof a>);
    assert.equal(la.plugins[0]?.master, "eth0");
    assert.deepEqual((la.plugins[0]?.ipam as { routes?: unknown } | undefined)?.routes, [
      { dst: "0.0.0.0/0" },
    ]);
    assert.equal(b?.metadata.namespace, "infra");
    assert.equal(nadConfList(b as NonNullable<typeof b>).name, "bridge-b.v1");
  });
  test("JSON: one object, a list, or kind List", () => {
    const o = { apiVersion: "v1", kind: "X" };
    assert.deepEqual(parseManifests(JSON.stringify(o)), [o]);
    assert.deepEqual(parseManifests(JSON.stringify([o, o])), [o, o]);
    assert.deepEqual(parseManifests(JSON.stringify({ kind: "List", items: [o] })), [o]);
  });
  test("sequences, flow JSON, scalars and folded blocks", () => {
    const [v] = parseManifests(`a:
- x: 1
  y: [1, 2]
- plain text
  continued
b: >-
  one
  two
c: "esc\\t\\"q\\""
d: ~
e: true
`);
    assert.deepEqual(v, {
      a: [{ x: 1, y: [1, 2] }, "plain text continued"],
      b: "one two",
      c: 'esc\t"q"',
      d: null,
      e: true,
    });
  });
  test("what does not parse is refused with its line; duplicate keys too", () => {
    assert.throws(() => parseManifests("a: 1\na: 2\n"), /line 2: .*[Mm]ap keys must be unique/);
    assert.throws(() => parseManifests("a: 'open\n"), /line \d+: Missing closing 'quote/);
    assert.throws(() => parseManifests("a:\n  b: 1\n c: 2\n"), /line 3: /);
    assert.throws(() => parseManifests("{broken"), /is not JSON/);
  });

  test("anchors and aliases are YAML: read, with their expansion bounded", () => {
    assert.deepEqual(parseManifests("a: &x 1\nb: *x\n"), [{ a: 1, b: 1 }]);
    const laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      laughs.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    assert.throws(() => parseManifests(`${laughs.join("\n")}\n`), /[Ee]xcessive alias count/);
  });
});

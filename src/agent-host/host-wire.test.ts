import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostReply, parseHostRequest, parseHostSpec } from "./host-wire.js";

const agent = (node: string, netns = `strata-lab-${node}`) => ({
  node,
  netns,
  args: ["--node", node],
  log: `/run/strata-lab/${node}/agent.log`,
});

test("a host spec names each node and namespace once, with absolute log paths", () => {
  const spec = parseHostSpec(JSON.stringify({ agents: [agent("n1"), agent("n2")] }));
  assert.deepEqual(
    spec.agents.map((a) => a.node),
    ["n1", "n2"],
  );
  for (const [bad, why] of [
    [{ agents: [agent("n1"), agent("n1", "other")] }, /each node once/],
    [{ agents: [agent("n1"), agent("n2", "strata-lab-n1")] }, /each namespace once/],
    [{ agents: [{ ...agent("n1"), log: "agent.log" }] }, /absolute path/],
    [{ agents: [{ ...agent("n1"), netns: "../../etc" }] }, /namespace name/],
    [{ agents: [{ ...agent("N1!") }] }, /node name/],
    [{ agents: [] }, /agents/],
    [{ agents: [agent("n1")], extra: 1 }, /not valid/],
  ] as const)
    assert.throws(() => parseHostSpec(JSON.stringify(bad)), why);
  assert.throws(() => parseHostSpec("{"), /not JSON/);
});

test("control requests: start/stop a node, status; anything else is refused with what is accepted", () => {
  assert.deepEqual(parseHostRequest('{"op":"start","node":"n3"}'), { op: "start", node: "n3" });
  assert.deepEqual(parseHostRequest('{"op":"status"}'), { op: "status" });
  assert.throws(() => parseHostRequest('{"op":"exec","node":"n3"}'), /"op":"start"\|"stop"/);
  assert.throws(() => parseHostRequest('{"op":"start","node":"n3","args":["--x"]}'), /not a request/);
  assert.throws(() => parseHostRequest('{"op":"start","node":"../x"}'), /node name/);
  assert.throws(() => parseHostRequest("start n3"), /not JSON/);
});

test("replies are checked on the client's side too", () => {
  const r = parseHostReply('{"ok":true,"agents":[{"node":"n1","phase":"running","starts":1}]}');
  assert.equal(r.ok && r.agents[0]?.phase, "running");
  assert.deepEqual(parseHostReply('{"ok":false,"error":"no"}'), { ok: false, error: "no" });
  assert.throws(
    () => parseHostReply('{"ok":true,"agents":[{"node":"n1","phase":"dancing","starts":1}]}'),
    /not valid/,
  );
});

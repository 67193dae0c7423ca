import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, test } from "node:test";
import { eventually } from "../common/eventually.js";
import {
  cmdlineArgv,
  hasEnded,
  identify,
  isAlive,
  observeProcess,
  runningArgvForms,
  signalIfOurs,
  statEnded,
  statStartTime,
} from "./process-identity.js";

const started: ChildProcess[] = [];
after(() => {
  for (const c of started) c.kill("SIGKILL");
});

/** A `sleep` of our own, standing in for an unrelated process. */
function sleeper(): ChildProcess & { pid: number } {
  const c = spawn("sleep", ["300"], { stdio: "ignore" });
  started.push(c);
  assert.ok(c.pid);
  return c as ChildProcess & { pid: number };
}

test("start time is field 22 of /proc/PID/stat, counted after the command name's last ')'", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  // Field 2 may hold spaces and parentheses; field 22 is the 20th field after it.
  assert.equal(statStartTime(`42 (a) b (c)) ${fields.join(" ")}`), "22");
  assert.equal(statStartTime("42 (x) R 1"), undefined);
  assert.equal(statStartTime("garbage"), undefined);
});

test("cmdline is NUL-separated argv", () => {
  assert.deepEqual(cmdlineArgv("sleep\u0000300\u0000"), ["sleep", "300"]);
  assert.deepEqual(cmdlineArgv(""), []);
});

test("`ip netns exec NS CMD...` is also known by CMD... (ip execs it in place)", () => {
  assert.deepEqual(runningArgvForms(["ip", "netns", "exec", "ns1", "etcd", "--name", "x"]), [
    ["ip", "netns", "exec", "ns1", "etcd", "--name", "x"],
    ["etcd", "--name", "x"],
  ]);
  assert.deepEqual(runningArgvForms(["nsenter", "--net=/run/netns/ns1", "node", "a.js"]), [
    ["nsenter", "--net=/run/netns/ns1", "node", "a.js"],
    ["node", "a.js"],
  ]);
  assert.deepEqual(runningArgvForms(["node", "a.js"]), [["node", "a.js"]]);
});

test("a PID whose start time differs (PID reuse) is not signalled", () => {
  const c = sleeper();
  const id = identify(c.pid);
  assert.ok(id);
  const stale = { pid: c.pid, startTime: String(Number(id.startTime) - 1), argv: ["sleep", "300"] };
  assert.equal(signalIfOurs(stale, "SIGKILL"), "not ours");
  assert.equal(isAlive({ ...id, argv: ["sleep", "300"] }), true, "the sleep is still running");
});

test("a PID whose command line differs (a state file naming another program) is not signalled", () => {
  const c = sleeper();
  const id = identify(c.pid);
  assert.ok(id);
  const forged = { ...id, argv: ["/usr/bin/node", "/x/bin/strata.js", "agent", "--node", "n1"] };
  assert.equal(signalIfOurs(forged, "SIGKILL"), "not ours");
  assert.equal(observeProcess(c.pid)?.startTime, id.startTime, "the sleep is still running");
});

test("the recorded process itself is signalled, and then counts as gone", async () => {
  const c = sleeper();
  const id = identify(c.pid);
  assert.ok(id);
  const rec = { ...id, argv: ["sleep", "300"] };
  assert.equal(signalIfOurs(rec, "SIGKILL"), "ended");
  await eventually(() => !isAlive(rec), "the sleep to end");
  assert.equal(signalIfOurs(rec, "SIGKILL"), "gone");
});

test("a zombie (ended, not yet reaped) counts as ended", () => {
  assert.equal(statEnded("42 (sleep) Z 1 2 3"), true);
  assert.equal(statEnded("42 (a) Z) S 1 2 3"), false);
});

test("hasEnded: false while running (also through exec), true once it exits or the start time differs", async () => {
  const c = sleeper();
  const id = identify(c.pid);
  assert.ok(id);
  assert.equal(hasEnded(id), false);
  assert.equal(hasEnded({ ...id, startTime: "1" }), true, "another start time: the PID was reused");
  c.kill("SIGKILL");
  await new Promise((r) => c.once("exit", r));
  assert.equal(hasEnded(id), true);
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import {
  ControlError,
  controlSocketPath,
  parseControlRequest,
  sendControl,
  startControlServer,
} from "./control-socket.js";

test("a control request is one JSON line naming a known command; anything else is refused with what is known", () => {
  assert.equal(parseControlRequest('{"command":"rotate-key"}'), "rotate-key");
  assert.throws(() => parseControlRequest("rotate-key"), /not JSON/);
  assert.throws(
    () => parseControlRequest('{"command":"shell"}'),
    (e: unknown) => e instanceof ControlError && /known: rotate-key/.test(e.message),
  );
  assert.throws(() => parseControlRequest("null"), ControlError);
});

test("the control socket sits in a 0700 directory, mode 0600; a command's result or its error reaches the caller", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-ctl-"));
  let fail = false;
  const server = await startControlServer(
    dir,
    async () => {
      if (fail) throw new ControlError("the vxlan backend has no keys to rotate");
      return { publicKey: "k", previous: "j" };
    },
    pino({ level: "silent" }),
  );
  try {
    assert.equal(statSync(join(dir, "control")).mode & 0o777, 0o700);
    assert.equal(statSync(controlSocketPath(dir)).mode & 0o777, 0o600);
    assert.deepEqual(await sendControl(dir, "rotate-key"), { publicKey: "k", previous: "j" });
    fail = true;
    await assert.rejects(sendControl(dir, "rotate-key"), /no keys to rotate/);
  } finally {
    server.close();
  }
  await assert.rejects(sendControl(dir, "rotate-key"), /no agent serves .*is `strata agent --state-dir/);
  rmSync(dir, { recursive: true, force: true });
});

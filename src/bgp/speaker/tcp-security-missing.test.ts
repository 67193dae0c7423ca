import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../../../test/support/cni.js";

/**
 * A build without the native addon (no C compiler or no Node headers): a copy of this checkout's
 * build with dist/native left out. A peer configured with a password must refuse to start, saying
 * why — never run without TCP-MD5; a peer without one runs as before.
 */
const copy = mkdtempSync(join(tmpdir(), "strata-nonative-"));
after(() => rmSync(copy, { recursive: true, force: true }));
for (const d of ["bin", "dist/src", "package.json"])
  cpSync(join(repoRoot, d), join(copy, d), { recursive: true });
symlinkSync(join(repoRoot, "node_modules"), join(copy, "node_modules"));
const keyFile = join(copy, "peer.key");
writeFileSync(keyFile, "s3cret\n", { mode: 0o600 });
const strata = (...args: string[]) =>
  spawnSync(process.execPath, [join(copy, "bin/strata.js"), ...args], { encoding: "utf8", timeout: 20_000 });

test("without the addon, a peer with a password refuses to start and says what is missing", () => {
  const r = strata(
    ...["bgp-speaker", "--asn", "65001", "--router-id", "10.0.0.1"],
    ...["--peer", `127.0.0.1,as=65002,password-file=${keyFile}`],
  );
  assert.notEqual(r.status, 0);
  assert.match(
    r.stderr,
    /peer 127\.0\.0\.1 \(TCP-MD5 password\) needs the native addon .*strata-tcp-sockopt\.node/,
  );
  assert.match(r.stderr, /refusing to run this peer without it/);
  assert.doesNotMatch(r.stdout, /"event":"listening"/, "nothing started");
});

test("without the addon, the agent with a mesh password fails before it leases anything", () => {
  const r = strata(
    ...["agent", "--node", "n1", "--backend", "bgp", "--bgp-password-file", keyFile],
    ...["--datastore", `embedded:${join(copy, "no-store.sock")}`, "--health-port", "0"],
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /mesh \(--bgp-password-file\) \(TCP-MD5 password\) needs the native addon/);
});

test("without the addon, a peer without a password still runs", async () => {
  const proc = spawn(
    process.execPath,
    [
      ...[join(copy, "bin/strata.js"), "bgp-speaker"],
      ...["--asn", "65001", "--router-id", "10.0.0.1", "--peer", "127.0.0.1,as=65002,port=1"],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  // Started (however busy the machine): it says it listens; then it is ended by its PID.
  let out = "";
  const listening = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000);
    proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes('"event":"listening"')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    proc.once("exit", () => resolve(false));
  });
  proc.kill("SIGTERM");
  assert.ok(listening, out);
});

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  generateWireguardKeyPair,
  isWireguardKey,
  loadOrCreatePrivateKey,
  WireguardKeyError,
  wireguardPublicKey,
} from "./wireguard-key.js";

const hasWg = (() => {
  try {
    execFileSync("wg", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

test("a generated key pair has wg's format and the public key `wg pubkey` computes from the private one", {
  skip: !hasWg && "wg not installed",
}, () => {
  for (let i = 0; i < 5; i++) {
    const pair = generateWireguardKeyPair();
    assert.ok(isWireguardKey(pair.privateKey) && isWireguardKey(pair.publicKey));
    const fromWg = execFileSync("wg", ["pubkey"], { input: `${pair.privateKey}\n`, encoding: "utf8" }).trim();
    assert.equal(pair.publicKey, fromWg);
  }
  const genkey = execFileSync("wg", ["genkey"], { encoding: "utf8" }).trim();
  assert.equal(
    wireguardPublicKey(genkey),
    execFileSync("wg", ["pubkey"], { input: genkey, encoding: "utf8" }).trim(),
  );
});

test("the private key file is made mode 0600, read back the same, and refused when others can read it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-wgkey-"));
  try {
    const file = join(dir, "wireguard", "private.key");
    const made = await loadOrCreatePrivateKey(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, "utf8").trim(), made.privateKey);
    assert.deepEqual(await loadOrCreatePrivateKey(file), made);
    chmodSync(file, 0o644);
    await assert.rejects(
      loadOrCreatePrivateKey(file),
      (e: unknown) =>
        e instanceof WireguardKeyError && /readable by others \(mode 644\): chmod 600/.test(e.message),
    );
    writeFileSync(file, "not a key\n", { mode: 0o600 });
    chmodSync(file, 0o600);
    await assert.rejects(loadOrCreatePrivateKey(file), /does not hold a WireGuard private key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

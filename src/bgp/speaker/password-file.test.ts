import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readPasswordFile, TcpSecurityError } from "./tcp-security.js";

const dir = mkdtempSync(join(tmpdir(), "strata-pw-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a 0600 password file is read without its final newline", () => {
  const f = join(dir, "ok.key");
  writeFileSync(f, "s3cret\n", { mode: 0o600 });
  assert.equal(readPasswordFile(f).toString(), "s3cret");
});

test("a password file other users can read or write is refused, saying how to fix it", () => {
  for (const mode of [0o644, 0o640, 0o602]) {
    const f = join(dir, `open-${mode.toString(8)}.key`);
    writeFileSync(f, "s3cret\n");
    chmodSync(f, mode);
    assert.throws(
      () => readPasswordFile(f),
      (e) => e instanceof TcpSecurityError && e.message.includes(`chmod 600 ${f}`),
    );
  }
});

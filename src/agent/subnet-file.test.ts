import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readPreviousSubnet, StateFileError, subnetFileName } from "./subnet-file.js";

const withFile = async (text: string | undefined, fn: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "strata-subnet-file-"));
  try {
    if (text !== undefined) writeFileSync(join(dir, subnetFileName), text);
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test("no subnet.json: a new node (undefined)", () =>
  withFile(undefined, async (dir) => assert.equal(await readPreviousSubnet(dir), undefined)));

test("an IPv4-only subnet.json (as agents before dual stack wrote it) gives the subnet alone", () =>
  withFile('{"subnet":"10.244.3.0/24","mtu":1500,"clusterCidr":"10.244.0.0/16"}', async (dir) => {
    const p = await readPreviousSubnet(dir);
    assert.deepEqual(p, { subnet: "10.244.3.0/24", source: join(dir, subnetFileName) });
  }));

test("a dual-stack subnet.json gives both subnets (a restart keeps the IPv6 one too)", () =>
  withFile('{"subnet":"10.244.3.0/24","subnet6":"fd00:10:244:3::/64","mtu":1500}', async (dir) => {
    const p = await readPreviousSubnet(dir);
    assert.equal(p?.subnet6, "fd00:10:244:3::/64");
  }));

test("a subnet6 that is not an IPv6 CIDR stops the agent with a line naming the file", async () => {
  for (const bad of ['"10.244.3.0/24"', "42", '"fd00::/64; rm -rf /"'])
    await withFile(`{"subnet":"10.244.3.0/24","subnet6":${bad}}`, async (dir) => {
      await assert.rejects(readPreviousSubnet(dir), (e: unknown) => {
        assert.ok(e instanceof StateFileError);
        assert.match(e.message, /subnet\.json: has a "subnet6" that is not an IPv6 CIDR/);
        return true;
      });
    });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { sessionLink } from "../../bgp/speaker/session-link.js";
import { interfacesFromAddresses } from "./netns-interfaces.js";

test("a namespace's addresses become an interface table the session link is found in", () => {
  const table = interfacesFromAddresses([
    { dev: "lo", family: 4, cidr: "127.0.0.1/8", scope: "host" },
    { dev: "eth0", family: 4, cidr: "192.168.10.2/24", scope: "global" },
    { dev: "eth0", family: 6, cidr: "fe80::2/64", scope: "link" },
  ]);
  assert.deepEqual(table.lo, [{ address: "127.0.0.1", cidr: "127.0.0.1/8", family: "IPv4", internal: true }]);
  assert.equal(table.eth0?.length, 2);
  const link = sessionLink("192.168.10.2", "192.168.10.3", table);
  assert.equal(link?.dev, "eth0");
  assert.equal(link?.linkLocal, "fe80::2");
});

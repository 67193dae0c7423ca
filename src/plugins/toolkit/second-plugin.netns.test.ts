import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { canPing, ipJson } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";
import { invalidConfig } from "../../cni/errors.js";
import { type CniPlugin, type CniRequest, pluginRunner } from "../../cni/skeleton.js";
import { UndoStack } from "../../common/undo-stack.js";
import { type Kernel, type Netns, namedNetns, netnsAtPath } from "../../kernel/api.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { ipamPlugin } from "../strata-ipam/plugin.js";
import { checkPodInterface, requirePrevResult, stateMismatch } from "./check.js";
import { allocatedAddresses, ipamDelegate } from "./ipam.js";
import { addFailure, kernelToCni } from "./kernel-errors.js";
import { attachmentResult, podInterfaceOps, podRoutes } from "./pod-addressing.js";
import { podNetnsForAdd } from "./pod-netns.js";

/**
 * A second plugin, built only from the toolkit and the skeleton: a plain veth pair whose host end
 * holds the gateway (a "ptp" in miniature). It is what a new plugin folder would hold, minus its
 * executable; its host side lives in a test namespace instead of the node's own.
 */
interface PairConfig {
  readonly ipam: { readonly type: string };
}

function createPairPlugin(kernel: Kernel, hostNs: Netns): CniPlugin<PairConfig> {
  const ipamOf = (req: CniRequest<PairConfig>) =>
    ipamDelegate(req.config.ipam.type, { linked: { "strata-ipam": ipamPlugin } });
  const hostEnd = (req: CniRequest<PairConfig>) =>
    `tk${createHash("sha256").update(`${req.containerId}/${req.ifName}`).digest("hex").slice(0, 11)}`;
  const deleteHostEnd = (name: string) =>
    kernel.apply(hostNs, [{ op: "link.delete", name, ifPresent: true }]);
  return {
    type: "pair",
    parseConfig(raw) {
      const ipam = raw.ipam as { type?: unknown } | undefined;
      if (typeof ipam?.type !== "string") throw invalidConfig('"ipam.type" is required', 'add "ipam": {...}');
      return { ipam: { type: ipam.type } };
    },
    async add(req) {
      const podNetns = await podNetnsForAdd(req);
      const ipam = ipamOf(req);
      const host = hostEnd(req);
      const undo = new UndoStack();
      try {
        const allocation = await ipam.allocate(req);
        undo.push("release IPAM addresses", () => ipam.release(req));
        const ips = allocatedAddresses(allocation, ipam.type);
        try {
          await kernel.apply(hostNs, [
            {
              op: "link.add",
              spec: { kind: "veth", name: host, peer: { name: req.ifName, netns: podNetns } },
            },
            { op: "link.set", name: host, up: true },
          ]);
        } catch (err) {
          throw kernelToCni(err, "creating the veth pair");
        }
        undo.push("delete veth pair", () => deleteHostEnd(host));
        const gateways = ips.filter((ip) => ip.gateway);
        await kernel.apply(
          hostNs,
          gateways.map((ip) => ({
            op: "addr.add",
            dev: host,
            cidr: `${ip.gateway}/${ip.address.split("/")[1]}`,
            ifAbsent: true,
          })),
        );
        const routes = podRoutes(ips, allocation.routes ?? [], { defaultGateway: true });
        await kernel.apply(
          podNetns,
          podInterfaceOps({ ifName: req.ifName, addresses: ips.map((ip) => ip.address), routes }),
        );
        undo.commit();
        return attachmentResult(
          req.cniVersion,
          [{ name: host }, { name: req.ifName, sandbox: req.netns }],
          ips,
          routes,
          allocation,
        );
      } catch (err) {
        throw addFailure(err, await undo.unwind());
      }
    },
    async del(req) {
      try {
        await deleteHostEnd(hostEnd(req));
      } catch (err) {
        throw kernelToCni(err, "DEL");
      } finally {
        await ipamOf(req).release(req);
      }
    },
    async check(req) {
      const prevResult = requirePrevResult(req);
      await ipamOf(req).check(req);
      await checkPodInterface(kernel, {
        netns: netnsAtPath(req.netns),
        netnsPath: req.netns,
        ifName: req.ifName,
        prevResult,
      });
      if (!(await kernel.link(hostNs, hostEnd(req))))
        throw stateMismatch(`host end ${hostEnd(req)} is missing`);
    },
    gc: (req) => ipamOf(req).gc(req),
    status: (req) => ipamOf(req).status(req),
  };
}

const nss = new TestNamespaces("toolkit");
const data = mkdtempSync(join(tmpdir(), "strata-test-toolkit-"));
const kernel = createIproute2Kernel();
const node = nss.create("node");
const run = pluginRunner(createPairPlugin(kernel, namedNetns(node)));
const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: "1.1.0",
  name: "pairnet",
  type: "pair",
  ipam: { type: "strata-ipam", dataDir: data, ranges: [[{ subnet: "10.63.0.0/24" }]] },
  ...extra,
});
const call = (command: string, containerId: string, netns: string, stdin: object) =>
  run({
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_PATH: "/nonexistent",
    },
    stdin: JSON.stringify(stdin),
  });
const reservations = () => {
  try {
    return readdirSync(join(data, "pairnet")).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
};

describe("a second plugin built from the toolkit", () => {
  after(() => {
    nss.cleanup();
    rmSync(data, { recursive: true, force: true });
  });

  test("ADD addresses the pod and it reaches its gateway; CHECK passes; a removed address fails CHECK (103); DEL removes all", async () => {
    const pod = nss.create("pod");
    const netns = nss.path(pod);
    const added = await call("ADD", "ctr1", netns, conf());
    assert.equal(added.exitCode, 0, added.stdout);
    const result = JSON.parse(added.stdout);
    assert.deepEqual(result.ips, [{ address: "10.63.0.2/24", gateway: "10.63.0.1", interface: 1 }]);
    assert.deepEqual(result.routes, [{ dst: "0.0.0.0/0", gw: "10.63.0.1" }]);
    assert.ok(canPing(pod, "10.63.0.1"), "the pod reaches its gateway on the host end");
    const routes = ipJson<{ dst: string; gateway?: string }[]>(pod, ["route", "show", "default"]);
    assert.equal(routes[0]?.gateway, "10.63.0.1");

    const check = () => call("CHECK", "ctr1", netns, conf({ prevResult: result }));
    assert.deepEqual(await check(), { exitCode: 0, stdout: "", stderr: "" });
    execFileSync("ip", ["-n", pod, "addr", "del", "10.63.0.2/24", "dev", "eth0"]);
    const broken = await check();
    assert.equal(broken.exitCode, 1);
    assert.equal(JSON.parse(broken.stdout).code, 103);
    assert.match(JSON.parse(broken.stdout).msg, /address 10\.63\.0\.2\/24 is missing on eth0/);

    const del = await call("DEL", "ctr1", netns, conf({ prevResult: result }));
    assert.equal(del.exitCode, 0, del.stdout);
    assert.deepEqual(ipJson(node, ["link", "show", "type", "veth"]), []);
    assert.deepEqual(reservations(), []);
  });

  test("ADD onto a taken interface name: the kernel's refusal is a CNI error and the address is released", async () => {
    const pod = nss.create("pod");
    execFileSync("ip", ["-n", pod, "link", "add", "eth0", "type", "veth", "peer", "name", "other0"]);
    const out = await call("ADD", "ctr2", nss.path(pod), conf());
    assert.equal(out.exitCode, 1);
    const e = JSON.parse(out.stdout);
    assert.equal(e.code, 102);
    assert.match(e.msg, /creating the veth pair failed/);
    assert.deepEqual(reservations(), [], "the undo stack released the IPAM reservation");
    assert.deepEqual(ipJson(node, ["link", "show", "type", "veth"]), [], "no host end left behind");
  });

  test("ADD into a namespace that does not exist is code 3 and reserves nothing", async () => {
    const out = await call("ADD", "ctr3", "/run/netns/strata-t-does-not-exist", conf());
    assert.equal(out.exitCode, 1);
    assert.equal(JSON.parse(out.stdout).code, 3);
    assert.deepEqual(reservations(), []);
  });

  test("GC and STATUS reach the IPAM delegate: GC frees an address no attachment holds", async () => {
    const pod = nss.create("pod");
    const added = await call("ADD", "ctr4", nss.path(pod), conf());
    assert.equal(added.exitCode, 0, added.stdout);
    assert.equal(reservations().length, 1);
    const status = await run({
      env: { CNI_COMMAND: "STATUS", CNI_PATH: "/x" },
      stdin: JSON.stringify(conf()),
    });
    assert.equal(status.exitCode, 0, status.stdout);
    const gc = await run({
      env: { CNI_COMMAND: "GC", CNI_PATH: "/x" },
      stdin: JSON.stringify(conf({ "cni.dev/valid-attachments": [] })),
    });
    assert.equal(gc.exitCode, 0, gc.stdout);
    assert.deepEqual(reservations(), []);
    await call("DEL", "ctr4", nss.path(pod), conf());
  });
});

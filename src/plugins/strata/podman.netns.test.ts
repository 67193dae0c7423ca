import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniSandbox, hasCommands } from "../../../test/support/cni.js";
import { TestNamespaces } from "../../../test/support/netns.js";

/**
 * A real container runtime: podman 4 with its CNI network backend runs a container on a strata
 * network. Podman runs inside a test namespace (nsenter, so /sys stays as it is for the OCI
 * runtime), so the node side of the attachment never touches the machine's own namespace.
 * The container's root filesystem is busybox, built locally: no image registry is needed.
 */
const hasPodman = hasCommands("podman", "runc");

describe("podman (CNI backend) runs containers on a strata network", {
  skip: !hasPodman && "podman/runc not installed",
}, () => {
  const nss = new TestNamespaces("podman");
  const sandbox = new CniSandbox();
  let host = "";
  let podman: (...args: string[]) => string = () => "";
  before(async () => {
    await sandbox.install();
    host = nss.create("host");
    const d = sandbox.dir;
    const rootfs = join(d, "rootfs");
    for (const sub of ["bin", "proc", "sys", "dev", "etc", "tmp"])
      mkdirSync(join(rootfs, sub), { recursive: true });
    copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
    mkdirSync(join(d, "netconf"));
    writeFileSync(
      join(d, "netconf/strata.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "strata-podman",
        plugins: [
          {
            type: "strata",
            mode: "bridge",
            bridge: "cni-strata",
            ipam: { type: "strata-ipam", ranges: [[{ subnet: "10.65.0.0/24" }]], dataDir: sandbox.data },
          },
        ],
      }),
    );
    writeFileSync(
      join(d, "containers.conf"),
      [
        "[network]",
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${sandbox.bin}", "/usr/lib/cni"]`,
        `network_config_dir = "${join(d, "netconf")}"`,
        "[engine]",
        'events_logger = "none"',
        "",
      ].join("\n"),
    );
    podman = (...args: string[]) =>
      execFileSync(
        "nsenter",
        [
          `--net=${nss.path(host)}`,
          "podman",
          "--root",
          join(d, "storage"),
          "--runroot",
          join(d, "run"),
          "--storage-driver",
          "vfs",
          "--runtime",
          "runc",
          "--cgroup-manager",
          "cgroupfs",
          ...args,
        ],
        {
          encoding: "utf8",
          env: { ...process.env, CONTAINERS_CONF: join(d, "containers.conf"), STRATA_NO_AGENT: "1" },
        },
      );
    void rootfs;
  });
  after(() => {
    nss.cleanup();
    sandbox.cleanup();
  });

  test("a container gets a strata address, reaches its gateway, and DEL releases it on exit", () => {
    const out = podman(
      "run",
      "--rm",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=1024:1024",
      "--network",
      "strata-podman",
      "--rootfs",
      join(sandbox.dir, "rootfs"),
      "/bin/busybox",
      "sh",
      "-c",
      "/bin/busybox ip -o -4 addr show eth0 && /bin/busybox ping -c 1 -W 2 10.65.0.1",
    );
    assert.match(out, /inet 10\.65\.0\.\d+\/24/);
    assert.match(out, /1 packets received/);
    assert.equal(sandbox.reservations("strata-podman").length, 0, "podman's DEL released the address");
    const bridge = JSON.parse(
      execFileSync("ip", ["-n", host, "-j", "link", "show", "cni-strata"], { encoding: "utf8" }),
    );
    assert.equal(bridge[0]?.ifname, "cni-strata", "the bridge was made in the node namespace");
  });
});

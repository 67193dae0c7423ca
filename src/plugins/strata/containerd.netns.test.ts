import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CniSandbox, canPing, hasCommands } from "../../../test/support/cni.js";
import { buildPauseImage, CriClient } from "../../../test/support/cri.js";
import { TestNamespaces } from "../../../test/support/netns.js";

/**
 * A real container runtime through its CRI, the way kubelet drives it: containerd (Debian 1.6)
 * runs inside a test namespace (so the node side of each attachment stays there) and calls the
 * strata plugins for RunPodSandbox / StopPodSandbox. Its sandbox image is built locally.
 */
const listNetns = () =>
  execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);

const hasContainerd = hasCommands("containerd", "runc");

describe("containerd (CRI) runs pod sandboxes on a strata network", {
  skip: !hasContainerd && "containerd/runc not installed",
}, () => {
  const nss = new TestNamespaces("ctrd");
  const sandbox = new CniSandbox();
  let host = "";
  let containerd: ChildProcess | undefined;
  let cri: CriClient;
  const image = "strata.local/pause:1";
  let namespacesBefore: string[] = [];
  before(async () => {
    namespacesBefore = listNetns();
    await sandbox.install();
    // containerd always sets up the pod's loopback with the reference plugin of that name.
    symlinkSync("/usr/lib/cni/loopback", join(sandbox.bin, "loopback"));
    host = nss.create("host");
    const d = sandbox.dir;
    const conf = join(d, "net.d");
    mkdirSync(conf);
    writeFileSync(
      join(conf, "10-strata.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "strata-cri",
        plugins: [
          {
            type: "strata",
            mode: "bridge",
            bridge: "cni-cri",
            ipam: { type: "strata-ipam", ranges: [[{ subnet: "10.66.0.0/24" }]], dataDir: sandbox.data },
          },
        ],
      }),
    );
    const sock = join(d, "containerd.sock");
    writeFileSync(
      join(d, "config.toml"),
      [
        "version = 2",
        `root = "${join(d, "root")}"`,
        `state = "${join(d, "state")}"`,
        `[grpc]\n  address = "${sock}"`,
        `[ttrpc]\n  address = "${join(d, "ttrpc.sock")}"`,
        `[debug]\n  address = "${join(d, "debug.sock")}"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${image}"`,
        // This machine does not let processes lower oom_score_adj (kubelet's -998 for sandboxes).
        "  restrict_oom_score_adj = true",
        '[plugins."io.containerd.grpc.v1.cri".cni]',
        `  bin_dir = "${sandbox.bin}"`,
        `  conf_dir = "${conf}"`,
        '[plugins."io.containerd.grpc.v1.cri".containerd]',
        '  snapshotter = "native"',
        "",
      ].join("\n"),
    );
    containerd = spawn(
      "nsenter",
      [`--net=${nss.path(host)}`, "containerd", "--config", join(d, "config.toml")],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, STRATA_NO_AGENT: "1" },
      },
    );
    let log = "";
    containerd.stderr?.setEncoding("utf8").on("data", (x: string) => {
      log += x;
    });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(sock), `containerd did not start: ${log.slice(-2000)}`);
    const tarball = buildPauseImage(d, image);
    execFileSync("ctr", ["--address", sock, "--namespace", "k8s.io", "images", "import", tarball], {
      stdio: "ignore",
    });
    cri = new CriClient(sock);
  });
  after(() => {
    containerd?.kill("SIGKILL");
    try {
      execFileSync("sh", ["-c", `pkill -9 -f '${sandbox.dir}' || true`]);
    } catch {
      // nothing left
    }
    // containerd names pod namespaces cni-<uuid>; remove any this test's sandboxes left.
    for (const n of listNetns()) {
      if (n.startsWith("cni-") && !namespacesBefore.includes(n)) execFileSync("ip", ["netns", "del", n]);
    }
    nss.cleanup();
    sandbox.cleanup();
  });

  test("RunPodSandbox gets a strata address the pod can use; Stop/RemovePodSandbox release it", async () => {
    const id = await cri.runPodSandbox("web-0", "default", "0c6e2d41-5f2a-4a6b-9f0e-7a1d2c3b4e5f");
    const ip = await cri.podIp(id);
    assert.match(ip, /^10\.66\.0\.\d+$/);
    assert.equal(sandbox.reservations("strata-cri").length, 1);
    assert.ok(canPing(host, ip), "the node reaches the pod");
    await cri.stopPodSandbox(id);
    assert.equal(sandbox.reservations("strata-cri").length, 0, "StopPodSandbox ran CNI DEL");
    await cri.removePodSandbox(id);
  });
});

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { join } from "node:path";

/**
 * Just enough of Kubernetes' CRI (runtime.v1.RuntimeService) to drive containerd the way kubelet
 * does for pod networking: RunPodSandbox, PodSandboxStatus, StopPodSandbox, RemovePodSandbox.
 * Protobuf and gRPC framing by hand: four messages do not earn a code generator.
 */
const varint = (n: number): Buffer => {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
};
const field = (no: number, value: Buffer | string): Buffer => {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  return Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
};

/** Read length-delimited fields of a protobuf message (skips varints and fixed fields). */
export function readFields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const readVarint = () => {
    let shift = 0;
    let v = 0;
    for (;;) {
      const b = buf[i++] ?? 0;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = readVarint();
      const list = out.get(no) ?? [];
      list.push(buf.subarray(i, i + len));
      out.set(no, list);
      i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

export class CriClient {
  constructor(private readonly socket: string) {}

  async #call(method: string, body: Buffer): Promise<Buffer> {
    const session = connect("http://localhost", { createConnection: () => netConnect(this.socket) });
    try {
      const frame = Buffer.concat([Buffer.from([0]), Buffer.alloc(4), body]);
      frame.writeUInt32BE(body.length, 1);
      const req = session.request({
        ":method": "POST",
        ":path": `/runtime.v1.RuntimeService/${method}`,
        "content-type": "application/grpc",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      let status = "0";
      let message = "";
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("trailers", (t) => {
        status = String(t["grpc-status"] ?? "0");
        message = decodeURIComponent(String(t["grpc-message"] ?? ""));
      });
      req.on("response", (h) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      });
      req.end(frame);
      await new Promise<void>((resolve, reject) => {
        req.on("end", () => resolve());
        req.on("error", reject);
      });
      if (status !== "0") throw new Error(`CRI ${method}: grpc-status ${status}: ${message}`);
      const all = Buffer.concat(chunks);
      return all.subarray(5, 5 + all.readUInt32BE(1));
    } finally {
      session.close();
    }
  }

  async runPodSandbox(name: string, namespace: string, uid: string): Promise<string> {
    const metadata = Buffer.concat([field(1, name), field(2, uid), field(3, namespace)]);
    const config = Buffer.concat([field(1, metadata), field(2, name), field(3, "/tmp")]);
    const reply = readFields(await this.#call("RunPodSandbox", field(1, config)));
    return reply.get(1)?.[0]?.toString() ?? "";
  }

  /** The pod's IP as the runtime reports it (from the CNI result). */
  async podIp(id: string): Promise<string> {
    const reply = readFields(await this.#call("PodSandboxStatus", field(1, id)));
    const status = readFields(reply.get(1)?.[0] ?? Buffer.alloc(0));
    const network = readFields(status.get(5)?.[0] ?? Buffer.alloc(0));
    return network.get(1)?.[0]?.toString() ?? "";
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.#call("StopPodSandbox", field(1, id));
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.#call("RemovePodSandbox", field(1, id));
  }
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * A sandbox ("pause") image built here, as an OCI layout tarball: busybox sleeping. No registry
 * is reachable from this machine, so containerd gets its sandbox image by `ctr images import`.
 */
export function buildPauseImage(dir: string, name: string): string {
  const rootfs = join(dir, "pause-rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  const layerTar = join(dir, "layer.tar");
  execFileSync("tar", ["-cf", layerTar, "-C", rootfs, "."]);
  const layer = readFileSync(layerTar);
  const layout = join(dir, "layout");
  const blobs = join(layout, "blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  const blob = (b: Buffer) => {
    const d = sha(b);
    writeFileSync(join(blobs, d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const l = blob(layer);
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Entrypoint: ["/bin/busybox", "sleep", "2147483647"] },
        rootfs: { type: "layers", diff_ids: [l.digest] },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l }],
      }),
    ),
  );
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: {
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": name.split(":")[1],
          },
        },
      ],
    }),
  );
  const out = join(dir, "pause.tar");
  execFileSync("tar", ["-cf", out, "-C", layout, "."]);
  return out;
}

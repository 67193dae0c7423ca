import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EtcdPki, etcdServerTlsArgs, makeEtcdPki } from "../../src/datastore/etcd/pki.js";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface EtcdProcess {
  readonly endpoint: string;
  /** With `tls`: the CA and the client pair every client must use (client-certificate auth). */
  readonly pki?: EtcdPki;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/**
 * A real etcd (Debian etcd-server) on loopback with a throwaway data dir. `tls`: https with
 * client-certificate auth (a fresh CA), as the lab runs it.
 */
export async function startEtcd(opts: { tls?: boolean } = {}): Promise<EtcdProcess> {
  const dir = mkdtempSync(join(tmpdir(), "strata-etcd-"));
  const client = await freePort();
  const peer = await freePort();
  const endpoint = `${opts.tls ? "https" : "http"}://127.0.0.1:${client}`;
  const pki = opts.tls ? await makeEtcdPki(join(dir, "pki"), { serverIps: ["127.0.0.1"] }) : undefined;
  const tlsArgs = pki ? etcdServerTlsArgs(pki) : [];
  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = spawn(
      "etcd",
      [
        "--name",
        "strata-test",
        "--data-dir",
        join(dir, "data"),
        "--listen-client-urls",
        endpoint,
        "--advertise-client-urls",
        endpoint,
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-cluster",
        `strata-test=http://127.0.0.1:${peer}`,
        ...tlsArgs,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("etcd did not become ready in 15 s")), 15_000);
      let log = "";
      proc?.stderr?.setEncoding("utf8").on("data", (d: string) => {
        log += d;
        if (log.includes("ready to serve client requests")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc?.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`etcd exited with ${code}: ${log.slice(-500)}`));
      });
    });
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
  };
  await launch();
  return {
    endpoint,
    ...(pki ? { pki } : {}),
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await kill();
      await launch();
    },
  };
}

/**
 * The embedded store's durability costs: start-up time and memory with 10k / 100k / 1M records
 * (all in the log, and after compaction into a snapshot), and durable write throughput for 1, 16
 * and 64 concurrent writers over the store's socket (group commit: writers that arrive during an
 * fdatasync share the next one).
 *
 * References measured in the same run on the same filesystem: a real etcd (test/support/etcd.ts)
 * given the same writes, and the disk's own floor, one 100-byte append + fdatasync at a time.
 *
 * Usage: node dist/bench/embedded-store.js [--sizes 10000,100000,1000000] [--runs 3]
 *        [--writes 2000] [--no-etcd]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import type { Datastore } from "../src/datastore/api.js";
import { connectEmbedded } from "../src/datastore/embedded/client.js";
import { EmbeddedStore } from "../src/datastore/embedded/embedded-store.js";
import { connectEtcd } from "../src/datastore/etcd/etcd-store.js";
import { startEtcd } from "../test/support/etcd.js";
import { median, percentile } from "./stats.js";

const root = resolve(import.meta.dirname, "../..");
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const sizes = opt("--sizes", "10000,100000,1000000").split(",").map(Number);
const runs = Number(opt("--runs", "3"));
const writes = Number(opt("--writes", "2000"));
const withEtcd = !args.includes("--no-etcd");

/** A subnet lease's worth of value, as the agents write. */
const leaseValue = (i: number) =>
  JSON.stringify({
    subnet: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`,
    publicIp: `192.168.${(i >> 8) & 255}.${i & 255}`,
    backend: "vxlan",
    vtepMac: "02:42:ac:11:00:02",
  });

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const dirBytes = (dir: string) => readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

/** Child mode: open the store, print how long it took and the memory it holds. */
async function childLoad(dir: string): Promise<void> {
  const t0 = performance.now();
  const store = new EmbeddedStore({ dir, sweepMs: 3_600_000 });
  const ms = performance.now() - t0;
  const keys = store.state.data.size;
  global.gc?.();
  const rss = process.memoryUsage().rss;
  await store.close();
  console.log(JSON.stringify({ ms, rss, keys }));
}

async function fill(dir: string, n: number): Promise<void> {
  const store = new EmbeddedStore({ dir, sweepMs: 3_600_000, compactBytes: Number.MAX_SAFE_INTEGER });
  const window = 512;
  for (let i = 0; i < n; i += window)
    await Promise.all(
      Array.from({ length: Math.min(window, n - i) }, (_, j) =>
        store.put(`/bench/nodes/node-${i + j}`, leaseValue(i + j)),
      ),
    );
  await store.close();
}

function measureLoad(dir: string): { ms: number; rss: number; keys: number } {
  const out = execFileSync(
    process.execPath,
    ["--expose-gc", "--max-old-space-size=8192", import.meta.filename, "--child-load", dir],
    { encoding: "utf8", maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split("\n").at(-1) as string);
}

async function startup(base: string): Promise<void> {
  console.log(`\nstart-up: open a store with N live keys (${runs} runs each; median, worst in brackets)`);
  console.log(
    `${"records".padStart(9)}  ${"layout".padEnd(22)} ${"on disk MiB".padStart(11)}  ${"start ms".padStart(16)}  ${"RSS MiB".padStart(14)}`,
  );
  for (const n of sizes) {
    const logDir = join(base, `log-${n}`);
    const t0 = performance.now();
    await fill(logDir, n);
    const fillMs = performance.now() - t0;
    const snapDir = join(base, `snap-${n}`);
    execFileSync("cp", ["-a", logDir, snapDir]);
    const s = new EmbeddedStore({ dir: snapDir, sweepMs: 3_600_000 });
    await s.compact();
    await s.close();
    for (const [layout, dir] of [
      ["log only (replay)", logDir],
      ["snapshot (compacted)", snapDir],
    ] as const) {
      const samples = Array.from({ length: runs }, () => measureLoad(dir));
      if (samples.some((x) => x.keys !== n))
        throw new Error(`${dir}: expected ${n} keys, got ${samples.map((x) => x.keys)}`);
      const ms = samples.map((x) => x.ms);
      const rss = samples.map((x) => x.rss);
      console.log(
        `${String(n).padStart(9)}  ${layout.padEnd(22)} ${mib(dirBytes(dir)).padStart(11)}  ${`${median(ms).toFixed(0)} [${Math.max(...ms).toFixed(0)}]`.padStart(16)}  ${`${mib(median(rss))} [${mib(Math.max(...rss))}]`.padStart(14)}`,
      );
    }
    console.log(
      `${"".padStart(9)}  (writing the ${n} records durably, 512 writers: ${(fillMs / 1000).toFixed(1)} s)`,
    );
    rmSync(logDir, { recursive: true, force: true });
    rmSync(snapDir, { recursive: true, force: true });
  }
}

/** `writers` loops, each awaiting its own puts, `writes` puts in all; returns writes/s and latencies. */
async function writeLoad(
  store: Datastore,
  writers: number,
  tag: string,
): Promise<{ perSec: number; lat: number[] }> {
  const lat: number[] = [];
  const per = Math.ceil(writes / writers);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < per; i++) {
        const t = performance.now();
        await store.put(`/bench/${tag}/w${w}/k${i % 50}`, leaseValue(i));
        lat.push(performance.now() - t);
      }
    }),
  );
  return { perSec: (per * writers * 1000) / (performance.now() - t0), lat };
}

function diskFloor(dir: string): number {
  const fd = openSync(join(dir, "floor"), "a");
  const rec = Buffer.alloc(100, 0x61);
  const n = Math.min(writes, 1000);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    writeSync(fd, rec);
    fdatasyncSync(fd);
  }
  closeSync(fd);
  return (n * 1000) / (performance.now() - t0);
}

async function startStoreProcess(dir: string, socket: string): Promise<ChildProcess> {
  const p = spawn(
    process.execPath,
    [join(root, "bin/strata.js"), "datastore", "--socket", socket, "--dir", dir],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 25));
  if (!existsSync(socket)) throw new Error("the embedded store did not start");
  return p;
}

async function throughput(base: string): Promise<void> {
  console.log(
    `\ndurable writes: ${writes} puts of ~120 bytes per run, ${runs} runs (median, worst in brackets)`,
  );
  console.log(
    `${"store".padEnd(30)} ${"writers".padStart(7)}  ${"writes/s".padStart(16)}  ${"p50 ms".padStart(14)}  ${"p99 ms".padStart(14)}`,
  );
  const row = (label: string, writers: number, rs: { perSec: number; lat: number[] }[]) => {
    const ps = rs.map((r) => r.perSec);
    const p50 = rs.map((r) => percentile(r.lat, 50));
    const p99 = rs.map((r) => percentile(r.lat, 99));
    console.log(
      `${label.padEnd(30)} ${String(writers).padStart(7)}  ${`${median(ps).toFixed(0)} [${Math.min(...ps).toFixed(0)}]`.padStart(16)}  ${`${median(p50).toFixed(2)} [${Math.max(...p50).toFixed(2)}]`.padStart(14)}  ${`${median(p99).toFixed(2)} [${Math.max(...p99).toFixed(2)}]`.padStart(14)}`,
    );
  };
  const floor = Array.from({ length: runs }, () => diskFloor(base));
  console.log(
    `${"disk floor (append+fdatasync)".padEnd(30)} ${"1".padStart(7)}  ${`${median(floor).toFixed(0)} [${Math.min(...floor).toFixed(0)}]`.padStart(16)}`,
  );

  const kvDir = join(base, "kv");
  const socketDir = join(base, "sock");
  mkdirSync(socketDir, { mode: 0o700 });
  const socket = join(socketDir, "kv.sock");
  const proc = await startStoreProcess(kvDir, socket);
  const client = connectEmbedded(socket);
  try {
    for (const writers of [1, 16, 64]) {
      const rs = [];
      for (let r = 0; r < runs; r++) rs.push(await writeLoad(client, writers, `e${writers}r${r}`));
      row("embedded (socket, fdatasync)", writers, rs);
    }
  } finally {
    await client.close();
    proc.kill("SIGTERM");
  }
  // In-process, to count batches: how many writers shared each fdatasync.
  const inproc = new EmbeddedStore({ dir: join(base, "kv-inproc"), sweepMs: 3_600_000 });
  for (const writers of [1, 16, 64]) {
    const before = inproc.stats.batches;
    const r = await writeLoad(inproc, writers, `i${writers}`);
    const batches = inproc.stats.batches - before;
    console.log(
      `${"embedded (in-process)".padEnd(30)} ${String(writers).padStart(7)}  ${r.perSec.toFixed(0).padStart(16)}  ${`${(writes / batches).toFixed(1)} writes per fdatasync`.padStart(30)}`,
    );
  }
  await inproc.close();

  if (!withEtcd) return;
  const etcd = await startEtcd();
  const store = connectEtcd([etcd.endpoint]);
  try {
    for (const writers of [1, 16, 64]) {
      const rs = [];
      for (let r = 0; r < runs; r++) rs.push(await writeLoad(store, writers, `etcd${writers}r${r}`));
      row("etcd (reference)", writers, rs);
    }
  } finally {
    await store.close();
    await etcd.stop();
  }
}

async function main(): Promise<void> {
  const i = args.indexOf("--child-load");
  if (i >= 0) return childLoad(args[i + 1] as string);
  // On the disk the store would use (not a tmpfs, where fdatasync costs nothing).
  const base = mkdtempSync(join(root, ".bench-store-"));
  try {
    console.log(
      `embedded store bench in ${base} (filesystem: ${execFileSync("findmnt", ["-no", "FSTYPE", "-T", base], { encoding: "utf8" }).trim()})`,
    );
    await throughput(base);
    await startup(base);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();

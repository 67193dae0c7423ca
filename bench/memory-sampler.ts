/**
 * Preload for a process whose memory a bench takes apart (`node --import=dist/bench/memory-sampler.js ...`):
 * every 5 ms it reads process.memoryUsage() and V8's heap spaces and keeps each figure's peak, and
 * the whole breakdown at the moment RSS peaked; on SIGUSR2 (or exit) it writes them as JSON to
 * $STRATA_MEMORY_SAMPLES (nothing without it; %p in it becomes the pid). What makes up a peak RSS: the V8 heap by space (new
 * = the young generation's semi-spaces, old, code, large objects), memory outside the heap
 * (external, array buffers: socket and encode buffers), and the rest (Node, libuv, code pages).
 */
import { writeFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";

export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Per V8 space: committed size (what it holds of RSS at most) and used. */
  spaces: Record<string, { size: number; used: number }>;
}

const out = process.env.STRATA_MEMORY_SAMPLES?.replace("%p", String(process.pid));
if (out) {
  const snapshot = (): MemorySnapshot => {
    const m = process.memoryUsage();
    const spaces: MemorySnapshot["spaces"] = {};
    for (const s of getHeapSpaceStatistics())
      spaces[s.space_name] = { size: s.space_size, used: s.space_used_size };
    return {
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      spaces,
    };
  };
  let atPeakRss = snapshot();
  const peaks: Record<string, number> = {};
  const sample = () => {
    const s = snapshot();
    if (s.rss > atPeakRss.rss) atPeakRss = s;
    for (const k of ["rss", "heapUsed", "heapTotal", "external", "arrayBuffers"] as const)
      peaks[k] = Math.max(peaks[k] ?? 0, s[k]);
    for (const [name, v] of Object.entries(s.spaces))
      peaks[`${name}.size`] = Math.max(peaks[`${name}.size`] ?? 0, v.size);
  };
  const timer = setInterval(sample, 5).unref();
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    clearInterval(timer);
    sample();
    writeFileSync(out, JSON.stringify({ peaks, atPeakRss, atEnd: snapshot() }));
  };
  // SIGUSR2: the bench says "converged" (what comes after, sessions going down, is not counted).
  process.on("SIGUSR2", write);
  process.on("exit", write);
}

/** What /proc says of a process: CPU, memory, start time (the lab benches' accounting). */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** /proc/PID/stat fields after the command name. */
export const statFields = (pid: number): string[] | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
};
export const childrenOf = (pid: number): number[] => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
};
/** utime + stime + reaped children's, seconds. */
export const cpuOf = (pid: number): number => {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clockTicks : 0;
};
export const pssKiB = (pid: number): number => {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
/** Seconds since boot now, and a process's start in the same clock. */
export const uptimeS = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
export const startedAtS = (pid: number) => Number(statFields(pid)?.[19] ?? 0) / clockTicks;

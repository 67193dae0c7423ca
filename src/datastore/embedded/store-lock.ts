import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hasEnded, identify, type ProcessIdentity } from "../../process/process-identity.js";
import { StoreInUseError } from "./store-errors.js";

export const lockFile = (dir: string) => join(dir, "LOCK");

/** Pure: the holder a lock file names, or undefined when it names none (empty, torn, foreign). */
export function parseLockHolder(text: string): ProcessIdentity | undefined {
  try {
    const v = JSON.parse(text) as { pid?: unknown; startTime?: unknown };
    return typeof v.pid === "number" && Number.isInteger(v.pid) && typeof v.startTime === "string"
      ? { pid: v.pid, startTime: v.startTime }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Hold a store directory for this process: a `LOCK` file created exclusively, naming this process
 * by PID and kernel start time. A lock whose holder has ended (a crash, a reboot, a reused PID) is
 * taken over and said so; one whose holder still runs refuses with StoreInUseError. Node has no
 * flock(2); a PID with its start time tells a live holder from a stale file as exactly (see
 * process/process-identity.ts). The same process may open the directory again (a test reopening
 * after a simulated crash): the lock guards against other processes.
 * Returns the release function (removes the file if it still names this process).
 */
export function lockStoreDir(dir: string, log: (line: string) => void): () => void {
  const self = identify(process.pid);
  if (!self) return () => {};
  const path = lockFile(dir);
  const mine = `${JSON.stringify(self)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx", mode: 0o600 });
      return () => {
        try {
          if (readFileSync(path, "utf8") === mine) unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue; // Removed between our create and our read: try again.
    }
    const holder = parseLockHolder(text);
    if (holder && holder.pid !== process.pid && !hasEnded(holder)) throw new StoreInUseError(dir, holder.pid);
    if (holder?.pid !== process.pid)
      log(
        `datastore: ${path} named ${holder ? `process ${holder.pid}, which has ended` : "no process"}; taking it over`,
      );
    try {
      unlinkSync(path);
    } catch {
      // Another starter removed it first; the exclusive create decides between us.
    }
  }
  throw new StoreInUseError(dir, -1);
}

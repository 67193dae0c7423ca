import { randomBytes } from "node:crypto";
import {
  access,
  constants,
  link,
  mkdir,
  readdir,
  readFile,
  rename,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import type { Reservation, ReservationStore } from "./store.js";

/** host-local's line break between container id and ifname inside a reservation file. */
const lineBreak = "\r\n";
const tmpPrefix = ".strata-tmp-";
/** Strata's owner index lives in a hidden subdirectory; host-local ignores its contents. */
const indexDir = ".strata-owners";

/** IPv6 addresses contain ':' which host-local keeps as-is in file names; so do we. */
const isReservationFile = (name: string) =>
  !name.startsWith(".") && !name.startsWith("last_reserved_ip") && name !== "lock";

/**
 * host-local's on-disk layout: `<dataDir>/<network>/<ip>` holding "<containerID>\r\n<ifname>", and
 * `last_reserved_ip.<rangeset>`. A reservation is published by hard-linking a fully written temp
 * file to the address's name: link(2) fails with EEXIST if the name exists, so concurrent
 * processes never both win, and a crash can leave only a temp file — never a half-written one.
 */
export class DiskReservationStore implements ReservationStore {
  readonly dir: string;
  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  async reserve(ip: string, containerId: string, ifName: string, rangeSetIndex: number): Promise<boolean> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `${tmpPrefix}${process.pid}-${randomBytes(4).toString("hex")}`);
    await writeFile(tmp, `${containerId}${lineBreak}${ifName}`);
    try {
      await link(tmp, join(this.dir, ip));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    // Best effort, like host-local: only steers where the next search starts.
    const last = join(this.dir, `last_reserved_ip.${rangeSetIndex}`);
    const lastTmp = `${last}.${process.pid}.${randomBytes(2).toString("hex")}`;
    await writeFile(lastTmp, ip)
      .then(() => rename(lastTmp, last))
      .catch(() => unlink(lastTmp).catch(() => undefined));
    return true;
  }

  async lastReserved(rangeSetIndex: number): Promise<string | undefined> {
    try {
      return (
        (await readFile(join(this.dir, `last_reserved_ip.${rangeSetIndex}`), "utf8")).trim() || undefined
      );
    } catch {
      return undefined;
    }
  }

  async list(): Promise<Reservation[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const found = await Promise.all(names.filter(isReservationFile).map((name) => this.holder(name)));
    return found.filter((r): r is Reservation => r !== undefined); // a file may go while we list
  }

  async remove(ip: string): Promise<void> {
    await unlink(join(this.dir, ip)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }

  /** Remove temp files a crashed writer left behind. */
  async removeStaleTemps(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const n of names)
      if (n.startsWith(tmpPrefix)) await unlink(join(this.dir, n)).catch(() => undefined);
  }

  #indexPath(containerId: string, ifName: string): string {
    // Container ids are [A-Za-z0-9_.-]; interface names have no '/'. '@' separates them safely.
    return join(this.dir, indexDir, `${containerId}@${ifName}`);
  }

  async indexedAddresses(containerId: string, ifName: string): Promise<string[] | undefined> {
    try {
      const text = await readFile(this.#indexPath(containerId, ifName), "utf8");
      return text.split("\n").filter(Boolean);
    } catch {
      return undefined;
    }
  }

  async writeIndex(containerId: string, ifName: string, ips: readonly string[]): Promise<void> {
    const path = this.#indexPath(containerId, ifName);
    await mkdir(join(this.dir, indexDir), { recursive: true });
    const tmp = `${path}.${process.pid}.${randomBytes(2).toString("hex")}`;
    await writeFile(tmp, `${ips.join("\n")}\n`);
    await rename(tmp, path);
  }

  async dropIndex(containerId: string, ifName: string): Promise<void> {
    await unlink(this.#indexPath(containerId, ifName)).catch(() => undefined);
  }

  async holder(ip: string): Promise<Reservation | undefined> {
    try {
      const [containerId = "", ifName = ""] = (await readFile(join(this.dir, ip), "utf8")).split(lineBreak);
      return { ip, containerId: containerId.trim(), ifName: ifName.trim() };
    } catch {
      return undefined;
    }
  }

  /** Owners that have an index (for GC). */
  async indexedOwners(): Promise<{ containerId: string; ifName: string }[]> {
    const names = await readdir(join(this.dir, indexDir)).catch(() => [] as string[]);
    return names
      .filter((n) => n.includes("@") && !/\.\d+\.[0-9a-f]{4}$/.test(n))
      .map((n) => ({ containerId: n.slice(0, n.indexOf("@")), ifName: n.slice(n.indexOf("@") + 1) }));
  }

  async writable(): Promise<boolean> {
    try {
      await mkdir(this.dir, { recursive: true });
      await access(this.dir, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }
}

import { randomBytes } from "node:crypto";
import {
  access,
  constants,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import ipaddr from "ipaddr.js";
import { type Owner, parseRecord, reservationRecord } from "./reservation.js";
import type { Reservation, ReservationStore } from "./store.js";

/** Every half-written file of ours starts with this; host-local ignores names that are not IPs. */
const tmpPrefix = ".strata-tmp-";
/** Strata's owner index lives in a hidden subdirectory; host-local never matches its contents. */
const indexDir = ".strata-owners";

const isEnoent = (err: unknown) => (err as NodeJS.ErrnoException).code === "ENOENT";
const tmpName = () => `${tmpPrefix}${process.pid}-${randomBytes(4).toString("hex")}`;

/** host-local names a reservation file by the address (IPv6 keeps its ':' on Linux); nothing else is one. */
const isReservationFile = (name: string) => !name.startsWith(".") && ipaddr.isValid(name);

/** Write a file so it is whole on disk before anyone can see it under `path` (rename replaces). */
async function replaceFile(path: string, dir: string, content: string): Promise<void> {
  const tmp = join(dir, tmpName());
  try {
    await writeFile(tmp, content);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * host-local's on-disk layout: `<dataDir>/<network>/<ip>` holding "<containerID>\r\n<ifname>", and
 * `last_reserved_ip.<rangeset>`. host-local reserves by creating the address's file with O_EXCL and
 * then writing it. We keep the exclusive-create guarantee but make it whole: the record is written
 * and fsynced in a private temp file, then hard-linked to the address's name. link(2) fails with
 * EEXIST when the name exists — exactly O_EXCL's guarantee, so of concurrent processes only one
 * wins — and the file appears complete, so no reader (GC, DEL, host-local) ever sees a half-written
 * reservation of ours in flight. A crash leaves at most a temp file, which GC sweeps.
 */
export class DiskReservationStore implements ReservationStore {
  readonly dir: string;
  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  async reserve(ip: string, owner: Owner, rangeSetIndex: number): Promise<boolean> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, tmpName());
    try {
      const fh = await open(tmp, "wx");
      try {
        await fh.writeFile(reservationRecord(owner));
        // Durable before visible: after a power loss the name never points at an empty file.
        await fh.sync();
      } finally {
        await fh.close();
      }
      await link(tmp, join(this.dir, ip));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    // Best effort, like host-local: it only steers where the next search starts.
    await replaceFile(join(this.dir, `last_reserved_ip.${rangeSetIndex}`), this.dir, ip).catch(
      () => undefined,
    );
    return true;
  }

  async lastReserved(rangeSetIndex: number): Promise<string | undefined> {
    try {
      const text = (await readFile(join(this.dir, `last_reserved_ip.${rangeSetIndex}`), "utf8")).trim();
      return ipaddr.isValid(text) ? text : undefined;
    } catch {
      return undefined;
    }
  }

  async list(): Promise<Reservation[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
    const found = await Promise.all(names.filter(isReservationFile).map((name) => this.holder(name)));
    return found.filter((r): r is Reservation => r !== undefined); // a file may go while we list
  }

  async holder(ip: string): Promise<Reservation | undefined> {
    const path = join(this.dir, ip);
    try {
      const [record, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
      return { ip, ...parseRecord(record), record, modifiedMs: st.mtimeMs };
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  async remove(ip: string): Promise<void> {
    await unlink(join(this.dir, ip)).catch((err: unknown) => {
      if (!isEnoent(err)) throw err;
    });
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

  #indexPath(owner: Owner): string {
    // Container ids are [A-Za-z0-9_.-] (no '@'), so the first '@' separates them from the ifname.
    return join(this.dir, indexDir, `${owner.containerId}@${owner.ifName}`);
  }

  async indexedAddresses(owner: Owner): Promise<string[] | undefined> {
    try {
      return (await readFile(this.#indexPath(owner), "utf8")).split("\n").filter(Boolean);
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  async writeIndex(owner: Owner, ips: readonly string[]): Promise<void> {
    const dir = join(this.dir, indexDir);
    await mkdir(dir, { recursive: true });
    await replaceFile(this.#indexPath(owner), dir, `${ips.join("\n")}\n`);
  }

  async dropIndex(owner: Owner): Promise<void> {
    await unlink(this.#indexPath(owner)).catch((err: unknown) => {
      if (!isEnoent(err)) throw err;
    });
  }

  async indexedOwners(): Promise<Owner[]> {
    const names = await readdir(join(this.dir, indexDir)).catch(() => [] as string[]);
    return names
      .filter((n) => !n.startsWith(tmpPrefix) && n.includes("@"))
      .map((n) => ({ containerId: n.slice(0, n.indexOf("@")), ifName: n.slice(n.indexOf("@") + 1) }));
  }

  async sweepAbandonedWrites(beforeMs: number): Promise<void> {
    for (const dir of [this.dir, join(this.dir, indexDir)]) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const n of names.filter((x) => x.startsWith(tmpPrefix))) {
        const st = await stat(join(dir, n)).catch(() => undefined);
        if (st && st.mtimeMs < beforeMs) await unlink(join(dir, n)).catch(() => undefined);
      }
    }
  }
}

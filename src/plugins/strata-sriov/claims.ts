import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * Which VF belongs to which attachment: one file per claimed VF, `<dataDir>/<pf>/vf<N>`, made
 * with O_CREAT|O_EXCL (the way host-local reserves an address), so of two ADDs racing for one VF
 * exactly one makes the file and the other moves on to the next VF. The file records what DEL
 * needs to give the VF back: the netdev's original name and MAC and the driver it had.
 */
export interface VfClaim {
  readonly containerId: string;
  readonly ifName: string;
  readonly pf: string;
  readonly vfIndex: number;
  readonly pciAddress: string;
  readonly deviceType: "netdevice" | "vfio-pci";
  /** netdevice: the VF's netdev name and MAC before ADD. */
  readonly netdev?: string;
  readonly mac?: string;
  /** The driver bound before ADD (vfio-pci mode restores it). */
  readonly driver?: string;
  /** vfio-pci mode: this ADD bound it (else it was vfio-pci already and stays so). */
  readonly boundByUs?: boolean;
}

const claimDir = (dataDir: string, pf: string) => join(dataDir, pf);
const claimPath = (dataDir: string, pf: string, vfIndex: number) =>
  join(claimDir(dataDir, pf), `vf${vfIndex}`);

/** Claim VF `claim.vfIndex` of its PF; false when another attachment holds it. */
export async function tryClaim(dataDir: string, claim: VfClaim): Promise<boolean> {
  await mkdir(claimDir(dataDir, claim.pf), { recursive: true, mode: 0o700 });
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(claimPath(dataDir, claim.pf, claim.vfIndex), "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    await file.writeFile(`${JSON.stringify(claim)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  return true;
}

/** Update a claim this attachment holds (after the VF's state is known). */
export async function rewriteClaim(dataDir: string, claim: VfClaim): Promise<void> {
  const file = await open(claimPath(dataDir, claim.pf, claim.vfIndex), "r+");
  try {
    await file.truncate(0);
    await file.write(`${JSON.stringify(claim)}\n`, 0);
    await file.sync();
  } finally {
    await file.close();
  }
}

export async function releaseClaim(dataDir: string, pf: string, vfIndex: number): Promise<void> {
  await rm(claimPath(dataDir, pf, vfIndex), { force: true });
}

/** Indexes of the claimed VFs of `pf` (a file that cannot be read still holds its VF). */
export async function claimedIndexes(dataDir: string, pf: string): Promise<Set<number>> {
  try {
    const names = await readdir(claimDir(dataDir, pf));
    return new Set(names.filter((n) => /^vf\d+$/.test(n)).map((n) => Number(n.slice(2))));
  } catch {
    return new Set();
  }
}

/** Every readable claim of `pf`. */
export async function readClaims(dataDir: string, pf: string): Promise<VfClaim[]> {
  const out: VfClaim[] = [];
  for (const index of await claimedIndexes(dataDir, pf)) {
    try {
      out.push(JSON.parse(await readFile(claimPath(dataDir, pf, index), "utf8")) as VfClaim);
    } catch {
      // An empty file: a claim cut short by a crash; it still holds its VF (GC may free it).
    }
  }
  return out;
}

/** The claim of one attachment, if it holds a VF of `pf`. */
export async function claimOf(
  dataDir: string,
  pf: string,
  containerId: string,
  ifName: string,
): Promise<VfClaim | undefined> {
  return (await readClaims(dataDir, pf)).find((c) => c.containerId === containerId && c.ifName === ifName);
}

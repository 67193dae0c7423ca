import { constants } from "node:fs";
import { chmod, lstat, mkdir, stat, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { StrataError } from "../common/errors.js";

/**
 * Where the agent listens for the shim. Not an abstract socket: those have no permissions, so any
 * local user could connect, or bind the name first and answer the root shim. A socket file in a
 * directory only root can enter cannot be reached or squatted by anyone else. One socket per network
 * namespace (named by the namespace's inode), so each emulated node's shim finds its own node's agent.
 * The shim (src/shim/cni-shim.c) computes the same path and also checks that the listener is root.
 */
export const defaultCniSocketDir = "/run/strata-cni";

export class CniSocketError extends StrataError {
  constructor(message: string) {
    super("agent.cni-socket", message);
  }
}

/** The inode of a network namespace: of this process's (default) or of a namespace file. */
export async function netnsInode(nsPath = "/proc/self/ns/net"): Promise<number> {
  return (await stat(nsPath)).ino;
}

/** Pure: the socket of the agent serving the network namespace with this inode. */
export function cniSocketPath(dir: string, inode: number): string {
  return join(dir, `${inode}.sock`);
}

/**
 * Make `dir` a root-only directory on purpose (not by umask): created 0700, and refused when it is a
 * symlink, not a directory or owned by another user; group/other bits are removed.
 */
export async function prepareSocketDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory())
    throw new CniSocketError(`${dir} is not a directory (a symlink or file is in the way): remove it`);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid)
    throw new CniSocketError(`${dir} belongs to uid ${st.uid}, not to the agent (uid ${uid}): remove it`);
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** Is something accepting connections on this socket path? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Free the path for a new listener: a socket left by an agent that died is removed; a live one means
 * another agent already serves this namespace, which is refused (two agents would both lease).
 */
export async function claimSocketPath(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if ((st.mode & constants.S_IFMT) !== constants.S_IFSOCK)
    throw new CniSocketError(`${path} exists and is not a socket: remove it`);
  if (await answers(path))
    throw new CniSocketError(
      `another strata agent already serves CNI requests in this network namespace (${path}); stop it first`,
    );
  await unlink(path);
}

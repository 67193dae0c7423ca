import { chmodSync, lstatSync, mkdirSync, type Stats } from "node:fs";
import { DatastoreError } from "../api.js";

const who = (uid: number) => (uid === 0 ? "root" : `uid ${uid}`);
const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * The directory of the embedded store's socket must be one only root (the server's user) can
 * change: otherwise anyone could swap the socket for their own and answer the agents. Created 0700
 * when missing; an existing one is checked, never loosened or tightened behind the operator's back.
 */
export function prepareSocketDir(dir: string): void {
  const uid = process.geteuid?.() ?? 0;
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700); // on purpose, whatever the umask
    st = lstatSync(dir);
  }
  if (!st.isDirectory())
    throw new DatastoreError(
      "insecure",
      `datastore socket directory ${dir} is not a directory (a symlink?): use a real directory owned by ${who(uid)}, mode 0700`,
    );
  if (st.uid !== uid)
    throw new DatastoreError(
      "insecure",
      `datastore socket directory ${dir} is owned by ${who(st.uid)}, not ${who(uid)}: chown ${who(uid)} ${dir} (mode 0700), or pick another directory`,
    );
  if ((st.mode & 0o022) !== 0)
    throw new DatastoreError(
      "insecure",
      `datastore socket directory ${dir} is writable by group or others (mode ${octal(st.mode)}): chmod 0700 ${dir}`,
    );
}

/**
 * A client talks only to a socket root owns: a socket of another user could be a squatter
 * answering with forged data.
 */
export function checkSocketOwner(path: string): void {
  const uid = process.geteuid?.() ?? 0;
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    throw new DatastoreError(
      "unavailable",
      `embedded datastore socket ${path} does not exist (is the store running?)`,
      {
        cause: err,
      },
    );
  }
  if (!st.isSocket())
    throw new DatastoreError(
      "insecure",
      `${path} is not a socket: point --datastore embedded:<path> at the store's socket`,
    );
  if (st.uid !== 0 && st.uid !== uid)
    throw new DatastoreError(
      "insecure",
      `embedded datastore socket ${path} belongs to ${who(st.uid)}, not root: refusing to talk to it (remove it and restart the store as root)`,
    );
}

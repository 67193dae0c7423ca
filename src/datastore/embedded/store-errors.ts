import { StrataError } from "../../common/errors.js";

/**
 * The store's files hold damage the store cannot safely skip: valid records follow a bad one
 * (dropping them would lose acknowledged writes), or a snapshot is incomplete.
 */
export class StoreCorruptError extends StrataError {
  constructor(
    readonly file: string,
    readonly offset: number,
    detail: string,
    readonly dir: string,
  ) {
    super(
      "datastore.corrupt",
      `datastore file ${file} is damaged at byte ${offset} (${detail}): refusing to start, since going on would silently drop acknowledged writes. Run \`strata datastore repair --dir ${dir}\` to keep every intact record and print what it drops`,
    );
  }
}

/** The disk refused a write (ENOSPC, EIO, ...): the request was not applied. */
export class StoreDiskError extends StrataError {
  constructor(
    readonly file: string,
    readonly errno: string,
    cause: unknown,
  ) {
    const full = errno === "ENOSPC" || errno === "EDQUOT";
    super(
      full ? "datastore.disk-full" : "datastore.io",
      full
        ? `datastore disk full: appending to ${file} failed (${errno}); the write was not applied. Free space on that filesystem: the store goes on by itself once it can write`
        : `datastore disk error: appending to ${file} failed (${errno}); the write was not applied. Check the disk (dmesg); the store retries with the next write`,
      { cause },
    );
  }
}

export const errnoOf = (err: unknown): string =>
  (err as { code?: unknown })?.code && typeof (err as { code?: unknown }).code === "string"
    ? String((err as { code: string }).code)
    : "EIO";

/** Another live process holds the store directory: two writers would interleave their logs. */
export class StoreInUseError extends StrataError {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      "datastore.in-use",
      `datastore directory ${dir} is in use by process ${pid}: two stores writing one directory would corrupt it. Stop that process first, or give this one another --dir`,
    );
  }
}

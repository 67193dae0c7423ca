/**
 * How often `lab up` writes its state file while it attaches pods. The file holds every node,
 * process and pod (~150 KB at 200 nodes and 400 pods) and was written whole, synchronously, after
 * each pod: 400 writes of a growing file on the lab's event loop while the pods' ADDs wait on it.
 * Pods need no record to be removed (`lab down` removes every `strata-lab-*` namespace, the pods'
 * with them, and a failed `up` runs it), so the file records them in batches: after every
 * `every`-th pod and after the last, so `lab status` still sees an attach in progress.
 */

/** Pods attached between two writes of the state file during `lab up`'s attach step. */
export const podSaveEvery = 50;

/** Pure: is the state file due after `attached` of `total` pods have been attached? */
export function podStateWriteDue(attached: number, total: number, every = podSaveEvery): boolean {
  if (attached <= 0) return false;
  return attached >= total || attached % Math.max(1, every) === 0;
}

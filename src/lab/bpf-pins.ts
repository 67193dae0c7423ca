import { readdir, rm, stat } from "node:fs/promises";
import { pinName, strataPinRoot } from "../kernel/bpf-tunnel/pin-paths.js";

/**
 * The tc-BPF tunnel datapath pins its programs and maps on the host's bpffs, per namespace
 * (`/sys/fs/bpf/strata/ino-<netns inode>/`), so a restarted agent finds them and traffic never
 * stops. The lab's agents share the host's mount namespace for that (as a DaemonSet mounts the
 * host's /sys/fs/bpf); `lab down` removes the pins of the namespaces it deletes, or the programs
 * and maps would outlive the lab.
 */
export async function removeLabBpfPins(prefix: string): Promise<void> {
  const names = (await readdir("/run/netns").catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
  for (const name of names) {
    const ino = await stat(`/run/netns/${name}`).then(
      (s) => s.ino,
      () => undefined,
    );
    const ids = [name, ...(ino === undefined ? [] : [`ino-${ino}`])];
    for (const id of ids) await rm(`${strataPinRoot}/${pinName(id)}`, { recursive: true, force: true });
  }
}

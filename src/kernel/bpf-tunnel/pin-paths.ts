/**
 * Where the datapath pins its programs and maps, so a restarted agent finds them:
 * /sys/fs/bpf/strata/<namespace>/<tunnel device>/{tunnel_egress,tunnel_ingress,config,...}.
 * bpffs refuses names with a dot (they are reserved for its own files), so "strata.ipip" is
 * stored as "strata_2eipip": every character outside [A-Za-z0-9-] becomes _ and its hex code,
 * which keeps distinct names distinct.
 */
export const bpffsMount = "/sys/fs/bpf";
export const strataPinRoot = `${bpffsMount}/strata`;

export function pinName(text: string): string {
  return text.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The pin directory of one datapath: a namespace id (its name, or ino-N) and its tunnel device. */
export function pinDir(netnsId: string, tunnelDev: string): string {
  return `${strataPinRoot}/${pinName(netnsId)}/${pinName(tunnelDev)}`;
}

/** The program and map names in tunnel.bpf.c, pinned under pinDir by these names. */
export const pinnedPrograms = ["tunnel_egress", "tunnel_ingress"] as const;
export const pinnedMaps = ["config", "peer_cidrs", "peer_nodes", "counters"] as const;
export type PinnedMap = (typeof pinnedMaps)[number];

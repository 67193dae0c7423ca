import type { Netns } from "../api.js";

export { netnsPath, netnsRunDir } from "../api.js";

/**
 * iproute2's `-n NAME` opens NETNS_RUN_DIR/NAME. To reach any namespace file (CNI_NETNS is often
 * /proc/PID/ns/net or a runtime's own bind mount) without an extra nsenter exec, climb out of
 * the run dir with "..": extra ".." at "/" stay at "/", so six of them always reach the root.
 */
export function ipNetnsArgs(ns: Netns): string[] {
  switch (ns.kind) {
    case "current":
      return [];
    case "named":
      return ["-n", ns.name];
    case "path":
      return ["-n", `../../../../../..${ns.path}`];
  }
}

/** A value for `netns` arguments inside commands (`link set ... netns X`, veth `peer ... netns X`). */
export function netnsRef(ns: Netns): string {
  switch (ns.kind) {
    case "current":
      // The caller's own namespace: /proc/self is the ip process, which lives there.
      return "/proc/self/ns/net";
    case "named":
      return ns.name;
    case "path":
      return ns.path;
  }
}

/**
 * Route protocol names as iproute2 prints and reads them (its built-in table, the same as Debian's
 * /etc/iproute2/rt_protos): a number without a name is its decimal text ("147", Strata's own).
 */
const protocolNames: ReadonlyMap<number, string> = new Map([
  [0, "unspec"],
  [1, "redirect"],
  [2, "kernel"],
  [3, "boot"],
  [4, "static"],
  [8, "gated"],
  [9, "ra"],
  [10, "mrt"],
  [11, "zebra"],
  [12, "bird"],
  [13, "dnrouted"],
  [14, "xorp"],
  [15, "ntk"],
  [16, "dhcp"],
  [18, "keepalived"],
  [42, "babel"],
  [99, "openr"],
  [186, "bgp"],
  [187, "isis"],
  [188, "ospf"],
  [189, "rip"],
  [192, "eigrp"],
]);

const protocolNumbers: ReadonlyMap<string, number> = new Map(
  [...protocolNames].map(([n, name]) => [name, n] as const),
);

/** "147" or "kernel" → its number; undefined for a name this table does not hold. */
export function protocolNumber(text: string): number | undefined {
  if (/^\d{1,3}$/.test(text)) {
    const n = Number(text);
    return n <= 255 ? n : undefined;
  }
  return protocolNumbers.get(text);
}

/** A protocol number as iproute2 prints it. */
export function protocolText(n: number): string {
  return protocolNames.get(n) ?? String(n);
}

/** Address scopes as iproute2 names them (its built-in table, as Debian's /etc/iproute2/rt_scopes). */
const scopeNames: ReadonlyMap<number, string> = new Map([
  [0, "global"],
  [200, "site"],
  [253, "link"],
  [254, "host"],
  [255, "nowhere"],
]);

/** A scope number as iproute2 prints it: its name, else its decimal text. */
export function scopeText(n: number): string {
  return scopeNames.get(n) ?? String(n);
}

/** IF_OPER_* (RFC 2863 operational states) as `ip` prints them; beyond the table it prints none. */
const operStates = ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"] as const;

export const operStateText = (n: number): string | undefined => operStates[n];

/** MACVLAN_MODE_* as `ip -details` prints them. */
const macvlanModes: ReadonlyMap<number, string> = new Map([
  [1, "private"],
  [2, "vepa"],
  [4, "bridge"],
  [8, "passthru"],
  [16, "source"],
]);

export const macvlanModeText = (n: number): string => macvlanModes.get(n) ?? "unknown";

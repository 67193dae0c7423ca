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

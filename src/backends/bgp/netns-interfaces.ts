import type { InterfaceAddress } from "../../bgp/speaker/session-link.js";
import type { Address } from "../../kernel/api.js";

/** Interfaces as node:os networkInterfaces() lists them. */
export type InterfaceTable = Record<string, InterfaceAddress[]>;

/**
 * Pure: a namespace's addresses (as the kernel layer reads them) in the shape of node:os
 * networkInterfaces(), which only ever sees this process's own namespace. The speaker of an agent
 * that runs for another namespace finds a session's link and link-local address in this.
 */
export function interfacesFromAddresses(addresses: readonly Address[]): InterfaceTable {
  const table: InterfaceTable = {};
  for (const a of addresses) {
    const address = a.cidr.split("/")[0] ?? "";
    const entry: InterfaceAddress = {
      address,
      cidr: a.cidr,
      family: a.family === 6 ? "IPv6" : "IPv4",
      internal: a.scope === "host",
    };
    const list = table[a.dev] ?? [];
    list.push(entry);
    table[a.dev] = list;
  }
  return table;
}

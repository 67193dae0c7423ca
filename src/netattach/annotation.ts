import ipaddr from "ipaddr.js";
import { isUnicastMac } from "../kernel/mac-address.js";
import { NetAttachError } from "./errors.js";
import { interfaceNameProblem, namespaceProblem, objectNameProblem } from "./names.js";

/** The pod annotation that asks for secondary networks (Multus' key). */
export const networksAnnotation = "k8s.v1.cni.cncf.io/networks";
/** The pod annotation the meta plugin writes: what each network gave the pod. */
export const networkStatusAnnotation = "k8s.v1.cni.cncf.io/network-status";
/** The interface of the cluster network; a secondary network may not take it. */
export const clusterInterface = "eth0";

/**
 * One network a pod asks for (the Network Plumbing WG's "NetworkSelectionElement"): which
 * definition, and what the pod wants of it. `namespace` is filled in (the pod's own when absent).
 */
export interface NetworkSelection {
  readonly name: string;
  readonly namespace: string;
  /** The interface name asked for; net1, net2, ... by position when absent. */
  readonly interface?: string;
  /** Static addresses (the "ips" capability), as given: an address or address/prefix. */
  readonly ips?: readonly string[];
  /** The interface's MAC (the "mac" capability). */
  readonly mac?: string;
  /** Gateways that become the pod's default route through this network. */
  readonly defaultRoute?: readonly string[];
  /** Extra arguments for the delegate (`args.cni` in its configuration, as Multus passes them). */
  readonly cniArgs?: Readonly<Record<string, unknown>>;
}

/** A selection with the interface it gets in the pod. */
export interface PlannedAttachment {
  readonly selection: NetworkSelection;
  readonly ifName: string;
}

const jsonKeys = ["name", "namespace", "interface", "ips", "mac", "default-route", "cni-args"] as const;

const fail = (where: string, what: string): never => {
  throw new NetAttachError("invalid-annotation", `${networksAnnotation}: ${where} ${what}`);
};

function checkIp(where: string, text: unknown, allowPrefix: boolean): string {
  if (typeof text !== "string")
    return fail(where, `${JSON.stringify(text)} is not a string; write e.g. "10.1.1.5/24"`);
  const [addr, prefix, ...more] = text.split("/");
  const prefixOk =
    prefix === undefined ||
    (allowPrefix &&
      more.length === 0 &&
      /^\d{1,3}$/.test(prefix) &&
      Number(prefix) <= (addr?.includes(":") ? 128 : 32));
  if (
    !addr ||
    !ipaddr.isValid(addr) ||
    (addr.includes(".") && !ipaddr.IPv4.isValidFourPartDecimal(addr)) ||
    !prefixOk
  )
    fail(
      where,
      `"${text}" is not ${allowPrefix ? "an IP address or address/prefix" : "an IP address"}; write e.g. ${allowPrefix ? '"10.1.1.5/24"' : '"10.1.1.1"'}`,
    );
  return text;
}

function checkName(where: string, name: string, namespace: string): void {
  const problem = objectNameProblem(name);
  if (problem) fail(where, `the network name ${problem}`);
  const nsProblem = namespaceProblem(namespace);
  if (nsProblem) fail(where, `the namespace ${nsProblem}`);
}

function checkInterface(where: string, ifName: string): void {
  const problem = interfaceNameProblem(ifName);
  if (problem) fail(where, `${problem}; name it e.g. "net1"`);
  if (ifName === clusterInterface)
    fail(where, `"${clusterInterface}" is the cluster network's interface; pick another name, e.g. "net1"`);
}

/** One item of the comma form: `[namespace/]name[@interface]`. */
function parseShortItem(item: string, index: number, podNamespace: string): NetworkSelection {
  const where = `item ${index + 1} ("${item}")`;
  if (item === "") fail(`item ${index + 1}`, "is empty; remove the extra comma");
  const at = item.split("@");
  if (at.length > 2) fail(where, "has more than one '@'; write [namespace/]name[@interface]");
  const [ref = "", ifName] = at;
  const slash = ref.split("/");
  if (slash.length > 2) fail(where, "has more than one '/'; write [namespace/]name[@interface]");
  const [first = "", second] = slash;
  const namespace = second === undefined ? podNamespace : first;
  const name = second === undefined ? first : second;
  if (second !== undefined && namespace === "") fail(where, "has an empty namespace before '/'");
  if (name === "") fail(where, "names no network; write [namespace/]name[@interface]");
  checkName(where, name, namespace);
  if (ifName !== undefined) {
    if (ifName === "") fail(where, "has an empty interface name after '@'");
    checkInterface(where, ifName);
  }
  return { name, namespace, ...(ifName !== undefined ? { interface: ifName } : {}) };
}

/** One object of the JSON form. */
function parseJsonItem(raw: unknown, index: number, podNamespace: string): NetworkSelection {
  const where = `item ${index + 1}`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    return fail(where, 'is not an object; write {"name": "..."}');
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!(jsonKeys as readonly string[]).includes(key))
      fail(where, `unknown key "${key}"; the keys are ${jsonKeys.join(", ")}`);
  if (typeof o.name !== "string" || o.name === "") return fail(where, '"name" is required (a string)');
  if (o.namespace !== undefined && (typeof o.namespace !== "string" || o.namespace === ""))
    fail(where, '"namespace" must be a non-empty string');
  const namespace = (o.namespace as string | undefined) ?? podNamespace;
  checkName(where, o.name, namespace);
  const out: {
    -readonly [K in keyof NetworkSelection]: NetworkSelection[K];
  } = { name: o.name, namespace };
  if (o.interface !== undefined) {
    if (typeof o.interface !== "string") fail(where, '"interface" must be a string, e.g. "net1"');
    checkInterface(where, o.interface as string);
    out.interface = o.interface as string;
  }
  if (o.ips !== undefined) {
    if (!Array.isArray(o.ips) || o.ips.length === 0)
      fail(where, '"ips" must be a non-empty list, e.g. ["10.1.1.5/24"]');
    out.ips = (o.ips as unknown[]).map((ip, i) => checkIp(`${where} ips[${i}]`, ip, true));
  }
  if (o.mac !== undefined) {
    if (typeof o.mac !== "string" || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(o.mac))
      fail(where, `"mac" ${JSON.stringify(o.mac)} is not a MAC address; write e.g. "02:00:00:00:00:01"`);
    if (!isUnicastMac(o.mac as string))
      fail(where, `"mac" ${o.mac} is a multicast address; clear the lowest bit of the first octet`);
    out.mac = (o.mac as string).toLowerCase();
  }
  if (o["default-route"] !== undefined) {
    const gws = o["default-route"];
    if (!Array.isArray(gws) || gws.length === 0)
      fail(where, '"default-route" must be a non-empty list of gateways, e.g. ["10.1.1.1"]');
    out.defaultRoute = (gws as unknown[]).map((gw, i) => checkIp(`${where} default-route[${i}]`, gw, false));
    const families = new Set(out.defaultRoute.map((gw) => (gw.includes(":") ? 6 : 4)));
    if (families.size !== out.defaultRoute.length)
      fail(where, '"default-route" has two gateways of one family; keep one per IPv4/IPv6');
  }
  if (o["cni-args"] !== undefined) {
    const args = o["cni-args"];
    if (args === null || typeof args !== "object" || Array.isArray(args))
      fail(where, '"cni-args" must be an object');
    out.cniArgs = args as Record<string, unknown>;
  }
  return out;
}

/**
 * Parse the `k8s.v1.cni.cncf.io/networks` annotation in both of Multus' forms: a comma list of
 * `[namespace/]name[@interface]` (spaces around items allowed), or a JSON list of objects with
 * `name`, `namespace`, `interface`, `ips`, `mac`, `default-route`, `cni-args`. An empty value asks
 * for nothing. Throws NetAttachError naming the item and what to fix.
 */
export function parseNetworksAnnotation(text: string, podNamespace: string): NetworkSelection[] {
  const nsProblem = namespaceProblem(podNamespace);
  if (nsProblem) throw new NetAttachError("invalid-annotation", `the pod's namespace: ${nsProblem}`);
  const trimmed = text.trim();
  if (trimmed === "") return [];
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      return fail("the JSON form", `is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!Array.isArray(value))
      return fail("the JSON form", 'must be a list: [{"name": "..."}], not a single object');
    return value.map((item, i) => parseJsonItem(item, i, podNamespace));
  }
  return trimmed.split(",").map((item, i) => parseShortItem(item.trim(), i, podNamespace));
}

/**
 * The interface of each selection: its own name, or `net<position>` (net1 for the first item, as
 * Multus counts). Two selections on one name, or one on eth0, are refused before anything is attached.
 */
export function planInterfaces(selections: readonly NetworkSelection[]): PlannedAttachment[] {
  const planned = selections.map((selection, i) => ({
    selection,
    ifName: selection.interface ?? `net${i + 1}`,
  }));
  const seen = new Map<string, number>();
  planned.forEach((p, i) => {
    const earlier = seen.get(p.ifName);
    if (earlier !== undefined)
      fail(
        `item ${i + 1} (${p.selection.namespace}/${p.selection.name})`,
        `gets interface "${p.ifName}", as item ${earlier + 1} does; name the interfaces apart with @name or "interface"`,
      );
    seen.set(p.ifName, i);
  });
  const defaults = planned.filter((p) => p.selection.defaultRoute);
  if (defaults.length > 1)
    fail(
      `items ${planned
        .map((p, i) => (p.selection.defaultRoute ? i + 1 : 0))
        .filter((i) => i > 0)
        .join(" and ")}`,
      'all ask for "default-route"; a pod has one default route: keep it on one network',
    );
  return planned;
}

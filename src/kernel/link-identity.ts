import type { Link, LinkKind, LinkSpec } from "./api.js";

/**
 * Whether an existing link is the one a spec asks for: its kind and the identity fields of that
 * kind that the kernel cannot change in place (a VXLAN device's VNI, a macvlan's mode). Settings
 * that can be changed in place (MTU, MAC, up) are not identity: a planner corrects them instead
 * of replacing the link. Only fields that `Link` carries are compared; a kind whose identity the
 * driver does not read back is identified by its kind alone.
 */
type IdentityCheck<K extends LinkKind> = (spec: Extract<LinkSpec, { kind: K }>, link: Link) => boolean;

/** The kernel's IFLA_INFO_KIND for a spec's kind (tun and tap are both "tun"). */
const kernelKind = (kind: LinkKind): string => (kind === "tap" ? "tun" : kind);

const kindOnly = (spec: LinkSpec, link: Link) => link.kind === kernelKind(spec.kind);

const identity: { readonly [K in LinkKind]: IdentityCheck<K> } = {
  // The local address matters only when the spec names one (else the kernel picks per packet).
  vxlan: (spec, link) =>
    link.kind === "vxlan" &&
    link.vxlan?.vni === spec.vni &&
    link.vxlan.port === spec.port &&
    (spec.local === undefined || link.vxlan.local === spec.local) &&
    link.vxlan.learning === spec.learning,
  // A macvlan's mode is fixed at creation; its parent when the driver can name it.
  macvlan: (spec, link) =>
    link.kind === "macvlan" &&
    (link.macvlan === undefined || link.macvlan.mode === spec.mode) &&
    (link.macvlan?.parent === undefined || link.macvlan.parent === spec.parent),
  // A tun device is not a tap device although both are made by the tuntap driver.
  tun: (_spec, link) => link.kind === "tun" && (link.tun === undefined || link.tun.type === "tun"),
  tap: (_spec, link) => link.kind === "tun" && (link.tun === undefined || link.tun.type === "tap"),
  veth: kindOnly,
  bridge: kindOnly,
  ipvlan: kindOnly,
  ipip: kindOnly,
  gre: kindOnly,
  vlan: kindOnly,
  wireguard: kindOnly,
  geneve: kindOnly,
  dummy: kindOnly,
  vrf: kindOnly,
};

/** Is `link` the device `spec` asks for? When not, it cannot be edited into it: replace it. */
export function linkMatchesSpec(spec: LinkSpec, link: Link): boolean {
  const check = identity[spec.kind] as IdentityCheck<LinkKind>;
  return check(spec as Extract<LinkSpec, { kind: LinkKind }>, link);
}

import ipaddr from "ipaddr.js";

/** An IP address as a number, so ranges can be walked and compared for IPv4 and IPv6 alike. */
export interface Ip {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export function parseIp(text: string): Ip {
  const a = ipaddr.parse(text);
  const bytes = a.toByteArray();
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return { family: a.kind() === "ipv4" ? 4 : 6, value };
}

export function formatIp(ip: Ip): string {
  const len = ip.family === 4 ? 4 : 16;
  const bytes: number[] = [];
  let v = ip.value;
  for (let i = 0; i < len; i++) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

export const bits = (family: 4 | 6) => (family === 4 ? 32 : 128);

export const offset = (ip: Ip, delta: bigint): Ip => ({ family: ip.family, value: ip.value + delta });

export const sameIp = (a: Ip, b: Ip) => a.family === b.family && a.value === b.value;

import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { isIPv6, Socket } from "node:net";
import { resolve } from "node:path";
import { StrataError } from "../../common/errors.js";

/**
 * TCP protection of BGP sessions that Node has no API for, through the small native addon
 * (src/bgp/native/tcp-sockopt.c, built by `npm run build` into dist/native/):
 *   - TCP-MD5 signatures (RFC 2385): the key is set on the socket *before* connect, and on the
 *     listener per peer address (Linux copies it to the connections it accepts); a segment without
 *     the right signature is dropped by the kernel, so no session can even start.
 *   - GTSM (RFC 5082): send with TTL 255 and drop segments that arrive with less — a directly
 *     connected peer's packets arrive with 255, anything from farther away with less.
 * Without the addon a peer that asks for either fails with a clear error; it never runs unprotected.
 */
interface SockoptAddon {
  /** With `netnsPath`: the socket is made inside that network namespace (the thread returns at once). */
  tcpSocket(family: 4 | 6, netnsPath?: string): number;
  bindTo(fd: number, address: string, port: number): void;
  setMd5Key(fd: number, peerAddress: string, key: Buffer): void;
  setTtl(fd: number, family: 4 | 6, ttl: number, minTtl: number): void;
  closeFd(fd: number): void;
}

/** Where the build puts the addon (dist/native/, from dist/src/bgp/speaker/). */
export const sockoptAddonPath = resolve(import.meta.dirname, "../../../native/strata-tcp-sockopt.node");

let addon: SockoptAddon | null | undefined;
function loadAddon(): SockoptAddon | undefined {
  if (addon === undefined) {
    addon = null;
    if (existsSync(sockoptAddonPath))
      addon = createRequire(import.meta.url)(sockoptAddonPath) as SockoptAddon;
  }
  return addon ?? undefined;
}

export class TcpSecurityError extends StrataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("bgp.tcp-security", message, options);
  }
}

/** What a session to one peer needs from its TCP connection. */
export interface TcpProtection {
  /** RFC 2385 key (1..80 bytes). */
  readonly md5Key?: Uint8Array;
  /** RFC 5082: TTL 255 out, nothing accepted below 255 (directly connected peers only). */
  readonly ttlSecurity?: boolean;
}

const needsAddon = (p: TcpProtection) => p.md5Key !== undefined || p.ttlSecurity === true;

/** The addon, or an error naming what asked for it and how to get it. */
function requireAddon(what: string): SockoptAddon {
  const a = loadAddon();
  if (!a)
    throw new TcpSecurityError(
      `${what} needs the native addon ${sockoptAddonPath}, which is not built (run \`npm run build\` with a C compiler and Node's headers, e.g. Debian nodejs-dev / libnode-dev); refusing to run this peer without it`,
    );
  return a;
}

/** True when TCP-MD5 and GTSM can be used here. */
export const tcpSecurityAvailable = (): boolean => loadAddon() !== undefined;

/** Throws when `p` asks for protection this process cannot give (call before any session starts). */
export function checkProtection(peer: string, p: TcpProtection): void {
  if (needsAddon(p)) requireAddon(`peer ${peer} (${p.md5Key ? "TCP-MD5 password" : "ttl-security"})`);
}

const family = (address: string): 4 | 6 => (isIPv6(address) ? 6 : 4);

/** A TCP socket made here, or inside the namespace file `netnsPath`; its failure names the namespace. */
function socketIn(a: SockoptAddon, f: 4 | 6, netnsPath: string | undefined): number {
  if (!netnsPath) return a.tcpSocket(f);
  try {
    return a.tcpSocket(f, netnsPath);
  } catch (err) {
    throw new TcpSecurityError(`cannot make a socket in the network namespace ${netnsPath}: ${String(err)}`, {
      cause: err,
    });
  }
}

/**
 * A plain TCP listening socket on `host:port` made inside the namespace file `netnsPath` (not yet
 * listening: pass `{ fd }` to `server.listen`, which listens on it). For a server an agent host
 * runs for a node from outside its namespace (the agent's /healthz).
 */
export function listenerInNetns(host: string, port: number, netnsPath: string): number {
  const a = requireAddon(`a listener in ${netnsPath}`);
  const fd = socketIn(a, family(host), netnsPath);
  try {
    a.bindTo(fd, host, port);
  } catch (err) {
    a.closeFd(fd);
    throw err;
  }
  return fd;
}

function applyTtl(a: SockoptAddon, fd: number, f: 4 | 6): void {
  a.setTtl(fd, f, 255, 255);
}

/**
 * An outgoing TCP connection with the protection set before the SYN leaves: the socket is made
 * natively, keyed, and handed to Node (`new Socket({fd})`, then an ordinary connect).
 */
export function connectProtected(
  o: { host: string; port: number; localAddress?: string; netnsPath?: string },
  p: TcpProtection,
): Socket {
  const a = requireAddon(o.netnsPath ? `a connection from ${o.netnsPath}` : `peer ${o.host}`);
  const f = family(o.host);
  const fd = socketIn(a, f, o.netnsPath);
  try {
    if (p.md5Key) a.setMd5Key(fd, o.host, Buffer.from(p.md5Key));
    if (p.ttlSecurity) applyTtl(a, fd, f);
  } catch (err) {
    a.closeFd(fd);
    throw new TcpSecurityError(`protecting the connection to ${o.host}: ${String(err)}`, { cause: err });
  }
  return new Socket({ fd }).connect({ host: o.host, port: o.port, localAddress: o.localAddress });
}

/**
 * A listening socket made natively, so keys can be set on it per peer later (`setListenerKey`);
 * pass `{ fd }` to `server.listen`. undefined when the addon is missing (plain listen then, and
 * any peer with a password is refused by `checkProtection`).
 */
export function protectableListener(
  host: string | undefined,
  port: number,
  /** Listen inside this network namespace (a namespace file); then the addon is required. */
  netnsPath?: string,
): { readonly fd: number; readonly family: 4 | 6 } | undefined {
  const a = netnsPath ? requireAddon(`a listener in ${netnsPath}`) : loadAddon();
  if (!a) return undefined;
  // No host: every address of both families, as Node's own listen does (IPv4 peers then arrive
  // IPv4-mapped); IPv4 alone where the host has no IPv6.
  const candidates = host !== undefined ? [host] : ["::", "0.0.0.0"];
  let last: unknown;
  for (const address of candidates) {
    const fd = socketIn(a, family(address), netnsPath);
    try {
      a.bindTo(fd, address, port);
      // The SYN-ACK leaves with the listener's TTL: at 255 a GTSM peer (which drops anything lower)
      // can complete the handshake. Sending at 255 costs nothing for peers without GTSM.
      a.setTtl(fd, family(address), 255, 0);
      return { fd, family: family(address) };
    } catch (err) {
      a.closeFd(fd);
      last = err;
    }
  }
  throw new TcpSecurityError(`cannot listen on ${host ?? "any address"}:${port}: ${String(last)}`, {
    cause: last,
  });
}

/** Set (or, with no key, remove) the TCP-MD5 key for connections from `peer` on a listener. */
export function setListenerKey(
  fd: number,
  listenFamily: 4 | 6,
  peer: string,
  key: Uint8Array | undefined,
): void {
  const a = requireAddon(`peer ${peer}`);
  // An IPv6 listener sees IPv4 peers as IPv4-mapped addresses, and keys them that way.
  const address = listenFamily === 6 && !isIPv6(peer) ? `::ffff:${peer}` : peer;
  a.setMd5Key(fd, address, Buffer.from(key ?? []));
}

/**
 * GTSM on a connection the listener accepted (TTL 255 out, minimum 255 in). The handshake itself
 * was accepted by the listener, but from here on every segment below TTL 255 is dropped, so a
 * far-away sender never gets an OPEN through.
 */
export function protectAccepted(socket: Socket): void {
  const a = requireAddon(`peer ${socket.remoteAddress}`);
  // Node keeps the descriptor of a TCP handle on `_handle.fd` (Unix); there is no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0)
    throw new TcpSecurityError("cannot reach the accepted socket's descriptor for ttl-security");
  applyTtl(a, fd, family(socket.remoteAddress ?? ""));
}

/**
 * A TCP-MD5 password from a file (one line; a final newline is not part of it). Files, not
 * command-line values: every local user can read a process's command line.
 */
export function readPasswordFile(path: string): Buffer {
  let text: Buffer;
  try {
    // A key other users can read (or replace) is no key: refuse it rather than use it.
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0)
      throw new TcpSecurityError(
        `the BGP password file ${path} is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${path}`,
      );
    if (st.uid !== (process.getuid?.() ?? st.uid))
      throw new TcpSecurityError(
        `the BGP password file ${path} belongs to uid ${st.uid}, not to this process`,
      );
    text = readFileSync(path);
  } catch (err) {
    if (err instanceof TcpSecurityError) throw err;
    throw new TcpSecurityError(`cannot read the BGP password file ${path}: ${String(err)}`, { cause: err });
  }
  let end = text.length;
  if (text[end - 1] === 0x0a) end--;
  if (text[end - 1] === 0x0d) end--;
  const key = text.subarray(0, end);
  if (key.length === 0) throw new TcpSecurityError(`the BGP password file ${path} is empty`);
  if (key.length > 80)
    throw new TcpSecurityError(
      `the BGP password in ${path} is ${key.length} bytes; TCP-MD5 keys are at most 80`,
    );
  if (key.includes(0x0a)) throw new TcpSecurityError(`the BGP password file ${path} has more than one line`);
  return key;
}

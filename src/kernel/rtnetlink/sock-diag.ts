/**
 * Pure NETLINK_SOCK_DIAG framing for TCP (Linux include/uapi/linux/{sock_diag,inet_diag}.h): the
 * SOCK_DIAG_BY_FAMILY dump request (inet_diag_req_v2) and its answers (inet_diag_msg), decoded
 * into the kernel API's TcpSessions. Ports and addresses in inet_diag_sockid are network order;
 * the rest host order (little-endian only, as the driver checks).
 */
import type { TcpSession } from "../api.js";
import { socketAddressText } from "../tcp-sessions.js";
import { af, message, NetlinkDecodeError, nlm, splitMessages } from "./codec.js";

export const sockDiagByFamily = 20;
/** The older request (inet_diag_req): TCP sockets of both families in one walk of the hash. */
export const tcpDiagGetSock = 18;
export const ipprotoTcp = 6;
/** TCP_ESTABLISHED (include/net/tcp_states.h); idiag_states is a mask of 1 << state. */
export const tcpEstablished = 1;
/** inet_diag_req_v2: family, protocol, ext, pad (4) + states (4) + inet_diag_sockid (48). */
const reqLen = 56;
/** inet_diag_req: family, src_len, dst_len, ext (4) + sockid (48) + states (4) + dbs (4). */
const compatReqLen = 60;
/** inet_diag_msg: family, state, timer, retrans (4) + sockid (48) + expires..inode (20). */
const msgLen = 72;

/** A dump of the sockets of one family in the given TCP states (a mask of 1 << state). */
export function tcpDumpRequest(family: 4 | 6, states: number, seq: number): Buffer {
  const req = Buffer.alloc(reqLen);
  req.writeUInt8(family === 6 ? af.inet6 : af.inet, 0);
  req.writeUInt8(ipprotoTcp, 1);
  req.writeUInt32LE(states >>> 0, 4);
  return message(sockDiagByFamily, nlm.request | nlm.dump, seq, req, Buffer.alloc(0));
}

/**
 * A TCPDIAG_GETSOCK dump: TCP sockets of both families in the given states. The kernel answers
 * it (inet_diag's compatibility entry) with one walk of its connection hash table, which is
 * shared by every namespace and so costs the same however few sockets this one holds; the
 * per-family request walks it once a family.
 */
export function tcpBothFamiliesRequest(states: number, seq: number): Buffer {
  const req = Buffer.alloc(compatReqLen);
  req.writeUInt8(af.inet, 0);
  req.writeUInt32LE(states >>> 0, 52);
  return message(tcpDiagGetSock, nlm.request | nlm.dump, seq, req, Buffer.alloc(0));
}

/**
 * The sockets of a SOCK_DIAG_BY_FAMILY (or TCPDIAG_GETSOCK) dump in `state` (TCP), IPv4 ones
 * first, in the dump's order; with `port`,
 * those with it as local or remote port (what `ss '( sport = :P or dport = :P )'` keeps).
 */
export function decodeTcpSessions(dump: Buffer, o: { state: number; port?: number }): TcpSession[] {
  const out: TcpSession[] = [];
  for (const m of splitMessages(dump)) {
    if (m.type !== sockDiagByFamily && m.type !== tcpDiagGetSock) continue;
    if (m.body.length < msgLen) throw new NetlinkDecodeError(`an inet_diag_msg of ${m.body.length} octets`);
    const family = m.body.readUInt8(0);
    if ((family !== af.inet && family !== af.inet6) || m.body.readUInt8(1) !== o.state) continue;
    const size = family === af.inet ? 4 : 16;
    const sport = m.body.readUInt16BE(4);
    const dport = m.body.readUInt16BE(6);
    if (o.port !== undefined && sport !== o.port && dport !== o.port) continue;
    out.push({
      family: family === af.inet ? 4 : 6,
      local: { address: socketAddressText(m.body.subarray(8, 8 + size)), port: sport },
      remote: { address: socketAddressText(m.body.subarray(24, 24 + size)), port: dport },
    });
  }
  // IPv4 sockets first, each family in the dump's order: what two per-family dumps (and ss) give.
  return [...out.filter((x) => x.family === 4), ...out.filter((x) => x.family === 6)];
}

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NetlinkDecodeError } from "./codec.js";
import { decodeTcpSessions, tcpBothFamiliesRequest, tcpDumpRequest } from "./sock-diag.js";

/** One inet_diag_msg, byte by byte as the kernel writes it (header: len, type, flags, seq, pid). */
function diagMsg(
  family: 2 | 10,
  state: number,
  sport: number,
  dport: number,
  src: number[],
  dst: number[],
  type = 20,
) {
  const b = Buffer.alloc(16 + 72);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(0x2, 6); // NLM_F_MULTI
  b.writeUInt32LE(7, 8);
  b.writeUInt8(family, 16);
  b.writeUInt8(state, 17);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  Buffer.from(src).copy(b, 24);
  Buffer.from(dst).copy(b, 40);
  b.writeUInt32LE(3, 56); // idiag_if
  b.writeUInt32LE(0xdeadbeef, 60); // cookie
  b.writeUInt32LE(1000, 84); // inode
  return b;
}
const v6 = (...tail: number[]) => [...Array(16 - tail.length).fill(0), ...tail];
const mapped = (...v4: number[]) => [...Array(10).fill(0), 0xff, 0xff, ...v4];
const done = () => {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(20, 0);
  b.writeUInt16LE(3, 4);
  return b;
};

describe("NETLINK_SOCK_DIAG for TCP", () => {
  test("the request is an inet_diag_req_v2 dump of one family's TCP sockets in the given states", () => {
    const r = tcpDumpRequest(6, 1 << 1, 42);
    assert.equal(
      r.toString("hex"),
      [
        "48000000", // nlmsg_len 72
        "1400", // SOCK_DIAG_BY_FAMILY
        "0103", // NLM_F_REQUEST | NLM_F_DUMP
        "2a000000", // seq
        "00000000", // pid
        "0a", // AF_INET6
        "06", // IPPROTO_TCP
        "00", // idiag_ext
        "00", // pad
        "02000000", // idiag_states: 1 << TCP_ESTABLISHED
        "00".repeat(48), // inet_diag_sockid: any
      ].join(""),
    );
    assert.equal(tcpDumpRequest(4, 2, 1).readUInt8(16), 2);
  });

  test("the older request asks for both families' TCP sockets in one inet_diag_req", () => {
    assert.equal(
      tcpBothFamiliesRequest(1 << 1, 9).toString("hex"),
      [
        "4c000000", // nlmsg_len 76
        "1200", // TCPDIAG_GETSOCK
        "0103", // NLM_F_REQUEST | NLM_F_DUMP
        "09000000",
        "00000000",
        "02000000", // family (the kernel answers both), src_len, dst_len, ext
        "00".repeat(48), // inet_diag_sockid: any
        "02000000", // idiag_states
        "00000000", // idiag_dbs
      ].join(""),
    );
  });

  test("its answer, families interleaved in the kernel's table order: IPv4 first, each in order", () => {
    const both = Buffer.concat([
      diagMsg(10, 1, 179, 1, v6(1), v6(1), 18),
      diagMsg(2, 1, 2, 179, [10, 0, 0, 1], [10, 0, 0, 2], 18),
      diagMsg(10, 1, 3, 179, v6(1), v6(1), 18),
      diagMsg(2, 1, 179, 4, [10, 0, 0, 1], [10, 0, 0, 2], 18),
      diagMsg(2, 1, 5, 6, [10, 0, 0, 1], [10, 0, 0, 2], 18),
      done(),
    ]);
    assert.deepEqual(
      decodeTcpSessions(both, { state: 1, port: 179 }).map((s) => [s.family, s.local.port, s.remote.port]),
      [
        [4, 2, 179],
        [4, 179, 4],
        [6, 179, 1],
        [6, 3, 179],
      ],
    );
  });

  const dump = Buffer.concat([
    diagMsg(2, 1, 179, 40000, [10, 0, 0, 1], [10, 0, 0, 2]),
    diagMsg(2, 1, 40001, 179, [10, 0, 0, 2], [10, 0, 0, 1]),
    diagMsg(2, 1, 8080, 40002, [10, 0, 0, 1], [10, 0, 0, 2]), // another port
    diagMsg(2, 10, 179, 0, [0, 0, 0, 0], [0, 0, 0, 0]), // TCP_LISTEN
    diagMsg(10, 1, 179, 40003, [0xfd, ...v6(1).slice(1)], v6(1)),
    diagMsg(10, 1, 179, 40004, mapped(127, 0, 0, 1), mapped(127, 0, 0, 1)),
    done(),
  ]);

  test("established sockets with the port at either end, IPv4 and IPv6 (mapped addresses dotted)", () => {
    assert.deepEqual(decodeTcpSessions(dump, { state: 1, port: 179 }), [
      { family: 4, local: { address: "10.0.0.1", port: 179 }, remote: { address: "10.0.0.2", port: 40000 } },
      { family: 4, local: { address: "10.0.0.2", port: 40001 }, remote: { address: "10.0.0.1", port: 179 } },
      {
        family: 6,
        local: { address: "fd00::1", port: 179 },
        remote: { address: "::1", port: 40003 },
      },
      {
        family: 6,
        local: { address: "::ffff:127.0.0.1", port: 179 },
        remote: { address: "::ffff:127.0.0.1", port: 40004 },
      },
    ]);
  });

  test("without a port, every socket in the state; no other state", () => {
    assert.deepEqual(
      decodeTcpSessions(dump, { state: 1 }).map((s) => s.local.port),
      [179, 40001, 8080, 179, 179],
    );
    assert.deepEqual(
      decodeTcpSessions(dump, { state: 10 }).map((s) => s.local.address),
      ["0.0.0.0"],
    );
    assert.deepEqual(decodeTcpSessions(done(), { state: 1 }), []);
  });

  test("a short inet_diag_msg or a message cut off is a decode error", () => {
    const short = diagMsg(2, 1, 179, 1, [1, 1, 1, 1], [2, 2, 2, 2]).subarray(0, 60);
    short.writeUInt32LE(60, 0);
    assert.throws(() => decodeTcpSessions(short, { state: 1 }), NetlinkDecodeError);
    assert.throws(() => decodeTcpSessions(dump.subarray(0, 120), { state: 1 }), NetlinkDecodeError);
  });
});

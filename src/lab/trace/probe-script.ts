/**
 * The probe as one Python process (run by prove.ts): it opens an AF_PACKET socket (ETH_P_ALL) in
 * every namespace of the path (setns, then socket(): a socket stays in the namespace it was made
 * in), then, from the sender's namespace, sends one IPv4 or IPv6 packet through a raw socket
 * (IP_HDRINCL, DF set on IPv4, any source address; ICMPv6 echo for icmp over IPv6), and reports
 * every frame that carries the probe's marker, on which namespace and device, with the innermost
 * IP header and, for VXLAN, IPIP and GRE (IPv4 underlays), the outer
 * one (also on L3 devices such as a TUN or ipip device, whose frames have no Ethernet header). It stops
 * as soon as the packet arrived in `doneNs` (addressed to `dst`), or at the deadline.
 *
 * One process for all namespaces: measured against a tcpdump per namespace in prove.ts's header.
 * Input: one JSON argument; output: one JSON line.
 */
export const probeScript = String.raw`
import ctypes, errno, json, os, select, socket, struct, sys, time
a = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns " + ns + ": " + os.strerror(e))
    finally:
        os.close(fd)
socks = {}
for ns in a["capture"]:
    enter(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setblocking(False)
    socks[s.fileno()] = (ns, s)
enter(a["srcNs"])
marker = a["marker"].encode()
size, port = a["size"], a.get("port") or 0
proto = {"icmp": 1, "tcp": 6, "udp": 17}[a["proto"]]
v6 = ":" in a["dst"]
fam = socket.AF_INET6 if v6 else socket.AF_INET
src, dst = socket.inet_pton(fam, a["src"]), socket.inet_pton(fam, a["dst"])
iph = 40 if v6 else 20
if v6 and proto == 1: proto = 58
def csum(b):
    if len(b) % 2: b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return (~t) & 0xffff
hl = {1: 8, 58: 8, 6: 20, 17: 8}[proto]
body = (marker * (1 + (size - iph - hl) // len(marker)))[: size - iph - hl]
sport = 33000 + (os.getpid() % 20000)
def pseudo(length):
    # RFC 8200 §8.1 (IPv6: 32-bit length, next header) or RFC 793 (IPv4) pseudo-header.
    if v6: return src + dst + struct.pack("!IxxxB", length, proto)
    return src + dst + struct.pack("!BBH", 0, proto, length)
if proto == 1:
    h = struct.pack("!BBHHH", 8, 0, 0, a["ident"], 1)
    l4 = h[:2] + struct.pack("!H", csum(h + body)) + h[4:] + body
elif proto == 58:
    # ICMPv6 echo request (RFC 4443): its checksum covers the IPv6 pseudo-header.
    h = struct.pack("!BBHHH", 128, 0, 0, a["ident"], 1)
    l4 = h[:2] + struct.pack("!H", csum(pseudo(8 + len(body)) + h + body)) + h[4:] + body
elif proto == 17:
    h = struct.pack("!HHHH", sport, port, 8 + len(body), 0)
    c = csum(pseudo(8 + len(body)) + h + body) if v6 else 0
    l4 = h[:6] + struct.pack("!H", (c or 0xffff) if v6 else 0) + body
else:
    h = struct.pack("!HHIIBBHHH", sport, port, a["ident"], 0, 5 << 4, 0x02, 64240, 0, 0)
    l4 = h[:16] + struct.pack("!H", csum(pseudo(len(h) + len(body)) + h + body)) + h[18:] + body
if v6:
    # IPv6 has no DF bit: no router fragments, so a packet over a link's MTU is dropped there.
    ip = struct.pack("!IHBB16s16s", 6 << 28, size - 40, proto, 64, src, dst)
else:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, size, a["ident"], 0x4000, 64, proto, 0, src, dst)
def ipv4(b, o):
    if len(b) < o + 20 or b[o] >> 4 != 4: return None
    ihl = (b[o] & 15) * 4
    return {"src": socket.inet_ntoa(b[o + 12:o + 16]), "dst": socket.inet_ntoa(b[o + 16:o + 20]),
            "proto": b[o + 9], "l4": o + ihl}
def ipv6(b, o):
    if len(b) < o + 40 or b[o] >> 4 != 6: return None
    return {"src": socket.inet_ntop(socket.AF_INET6, b[o + 8:o + 24]),
            "dst": socket.inet_ntop(socket.AF_INET6, b[o + 24:o + 40])}
def parse(b, hatype):
    # Ethernet (1) and loopback (772) frames carry a link header; L3 devices (a TUN device 65534,
    # ipip 768, gre 778) hand over the IP packet itself.
    if hatype in (1, 772):
        if len(b) < 14: return None
        if b[12:14] == b"\x86\xdd": return ipv6(b, 14)
        if b[12:14] != b"\x08\x00": return None
        o = 14
    else:
        o = 0
        if len(b) and b[0] >> 4 == 6: return ipv6(b, 0)
    h = ipv4(b, o)
    if not h: return None
    if h["proto"] == 4:
        inner = ipv4(b, h["l4"])
        if inner:
            return {"src": inner["src"], "dst": inner["dst"],
                    "outer": {"src": h["src"], "dst": h["dst"], "proto": "ipip"}}
    if h["proto"] == 47 and len(b) >= h["l4"] + 4:
        # RFC 2784/2890: flags (C 0x8000, K 0x2000, S 0x1000), protocol, then checksum, key, sequence.
        flags, ptype = struct.unpack("!HH", b[h["l4"]:h["l4"] + 4])
        g = h["l4"] + 4 + (4 if flags & 0x8000 else 0)
        key = struct.unpack("!I", b[g:g + 4])[0] if flags & 0x2000 and len(b) >= g + 4 else None
        g += (4 if flags & 0x2000 else 0) + (4 if flags & 0x1000 else 0)
        inner = ipv4(b, g) if ptype == 0x0800 else None
        if inner:
            outer = {"src": h["src"], "dst": h["dst"], "proto": "gre"}
            if key is not None: outer["key"] = key
            return {"src": inner["src"], "dst": inner["dst"], "outer": outer}
    if h["proto"] == 17 and len(b) >= h["l4"] + 16:
        dport = struct.unpack("!H", b[h["l4"] + 2:h["l4"] + 4])[0]
        if dport in (8472, 4789):
            v = h["l4"] + 8
            inner = ipv4(b, v + 8 + 14) if b[v + 8 + 12:v + 8 + 14] == b"\x08\x00" else None
            if inner:
                vni = int.from_bytes(b[v + 4:v + 7], "big")
                return {"src": inner["src"], "dst": inner["dst"],
                        "outer": {"src": h["src"], "dst": h["dst"], "port": dport, "vni": vni}}
    return {"src": h["src"], "dst": h["dst"]}
# IPPROTO_RAW: the header is ours (IP_HDRINCL; on IPv6 the kernel implies it for IPPROTO_RAW too).
tx = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
t0 = time.monotonic()
err = None
try:
    tx.sendto(ip + l4, (a["dst"], 0, 0, 0) if v6 else (a["dst"], 0))
except OSError as e:
    err = errno.errorcode.get(e.errno, str(e.errno)) + ": " + e.strerror
seen, done = [], False
deadline = t0 + a["timeoutMs"] / 1000
while err is None:
    left = deadline - time.monotonic()
    if left <= 0: break
    r, _, _ = select.select(list(socks), [], [], 0.005 if done else left)
    if not r and done: break
    for fd in r:
        ns, s = socks[fd]
        while True:
            try: data, addr = s.recvfrom(65535)
            except BlockingIOError: break
            if marker not in data: continue
            p = parse(data, addr[3])
            if not p: continue
            p.update(ns=ns, dev=addr[0], outgoing=addr[2] == 4, atUs=int((time.monotonic() - t0) * 1e6))
            seen.append(p)
            if ns == a["doneNs"] and p["dst"] == a["dst"] and "outer" not in p and not p["outgoing"]:
                done = True
print(json.dumps({"error": err, "sightings": seen, "doneAtUs": int((time.monotonic() - t0) * 1e6)}))
`;

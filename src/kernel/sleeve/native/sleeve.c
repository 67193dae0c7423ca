// strata-sleeve: Strata's userspace datapath (Weave's "sleeve" idea), for kernels with TUN but
// neither the ipip/gre/vxlan modules nor BPF. Pod packets routed into a TUN device are carried in
// UDP between nodes and written to the peer's TUN device. The agent starts one per node
// (src/kernel/sleeve/datapath.ts), feeds it the peer table on stdin and reads its counters.
//
// Wire format (UDP payload, all integers big-endian):
//   0      magic 0x53 ('S')
//   1      flags: bit 0 = the packet starts with a 10-byte virtio_net_hdr (little-endian, as
//          virtio 1.0): a GSO super-packet the receiving kernel segments or delivers whole
//   2      chunk index   3  chunk count (1..255)
//   4..7   packet id (per sender)
//   8..    chunk data: a slice of [virtio_net_hdr] + inner IPv4 packet
// A packet that fits one datagram is one chunk (count 1): overhead 20 (IPv4) + 8 (UDP) + 8 = 36 B.
// A GSO super-packet (up to 64 KB, read from the TUN with IFF_VNET_HDR + TUNSETOFFLOAD) is cut
// into chunks of the path's size and sent with one sendmsg (UDP_SEGMENT: the kernel makes the
// datagrams); the receiver (UDP_GRO: many datagrams per read) joins the chunks and writes the
// super-packet to its TUN in one write. No TCP segmentation or coalescing in userspace.
//
// The receiver accepts a packet only from a known node address (the outer source), and only with
// an inner IPv4 source inside that node's pod CIDR and an inner destination inside ours; all else
// is dropped and counted by reason.
//
// Control (stdin, one command per line; one reply line each on stdout):
//   peer <node-ip> <pod-cidr> [<port>]  add or change a peer -> ok | err <why>
//   unpeer <node-ip>            remove a peer                 -> ok
//   stats                       counters                      -> stats {json}
// EOF on stdin (the agent is gone) ends the helper; so does SIGTERM, and the agent's death
// (PR_SET_PDEATHSIG).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define MAGIC 0x53
#define F_VNET 0x01
#define CHUNK_HDR 8
#define VNET_LEN ((int)sizeof(struct virtio_net_hdr))
#define MAX_PKT (65535 + 16)
#define MAX_BATCH 64
#define MAX_PEERS 4096
#define MAX_CHUNKS 255
#define GSO_MAX_SEGS 64 /* UDP_MAX_SEGMENTS of older kernels */

/* Counter slots: the order of COUNTERS in src/kernel/sleeve/api.ts. */
enum {
  C_ENCAP, /* packets taken from the TUN and sent */
  C_DECAP, /* packets written to the TUN */
  C_DATAGRAMS_OUT,
  C_DATAGRAMS_IN,
  D_UNKNOWN_OUTER,
  D_INNER_SRC,
  D_INNER_DST,
  D_MALFORMED,
  D_NOT_IPV4,
  D_NO_PEER,
  D_REASSEMBLY,
  D_SEND_ERROR,
  D_TUN_WRITE_ERROR,
  N_COUNTERS
};
static const char *counter_names[N_COUNTERS] = {
    "encapsulated", "decapsulated", "datagramsOut", "datagramsIn", "unknown-outer-source",
    "inner-source-not-in-peer-cidr", "inner-destination-not-local", "malformed", "not-ipv4",
    "no-peer", "reassembly", "send-error", "tun-write-error",
};
static uint64_t counters[N_COUNTERS];

struct peer {
  uint32_t ip;   /* network order */
  uint16_t port; /* network order: where this peer's helper listens */
  uint32_t net;  /* host order */
  uint32_t mask; /* host order */
  int plen;
  /* reassembly of one packet at a time (chunks arrive in order on one path) */
  uint8_t *buf;
  uint32_t id;
  int next, count, len;
};
static struct peer peers[MAX_PEERS];
static int npeers;

static struct {
  const char *tun, *netns;
  uint32_t local_ip; /* network order */
  uint32_t local_net, local_mask;
  int port, max_datagram, batch, offload, udp_gso, udp_gro;
} cfg = {.batch = 32, .offload = 1, .udp_gso = 1, .udp_gro = 1, .max_datagram = 1472};

static int tun_fd = -1, udp_fd = -1;
static volatile sig_atomic_t stopping;
static uint32_t next_id;

static void die(const char *what) {
  fprintf(stderr, "strata-sleeve: %s: %s\n", what, strerror(errno));
  exit(1);
}
static void usage(const char *why) {
  fprintf(stderr,
          "strata-sleeve: %s\nusage: strata-sleeve --tun DEV --port P --local-ip A --local-cidr C "
          "[--max-datagram N] [--netns PATH] [--batch N] [--no-offload] [--no-udp-gso] [--no-udp-gro]\n",
          why);
  exit(2);
}

static int parse_cidr(const char *s, uint32_t *net, uint32_t *mask, int *plen) {
  char ip[32];
  const char *slash = strchr(s, '/');
  if (!slash || (size_t)(slash - s) >= sizeof ip) return -1;
  memcpy(ip, s, slash - s);
  ip[slash - s] = 0;
  char *end;
  long p = strtol(slash + 1, &end, 10);
  if (*end || p < 0 || p > 32) return -1;
  struct in_addr a;
  if (inet_pton(AF_INET, ip, &a) != 1) return -1;
  *mask = p == 0 ? 0 : 0xffffffffu << (32 - p);
  *net = ntohl(a.s_addr) & *mask;
  *plen = (int)p;
  return 0;
}

static struct peer *peer_by_ip(uint32_t ip) {
  for (int i = 0; i < npeers; i++)
    if (peers[i].ip == ip) return &peers[i];
  return NULL;
}

/* Longest prefix match over the peers' pod CIDRs (peer counts are small: a linear scan). */
static struct peer *peer_for_dst(uint32_t dst_host) {
  struct peer *best = NULL;
  for (int i = 0; i < npeers; i++)
    if ((dst_host & peers[i].mask) == peers[i].net && (!best || peers[i].plen > best->plen))
      best = &peers[i];
  return best;
}

/* ---- checksums (a non-GSO packet that asks for one gets it here: it travels without vnet hdr) */
static uint16_t csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}
static uint64_t csum_add(const uint8_t *p, int len, uint64_t sum) {
  for (; len > 1; len -= 2, p += 2) sum += (uint32_t)(p[0] << 8 | p[1]);
  if (len) sum += (uint32_t)(p[0] << 8);
  return sum;
}

/* ---- sending */
#define OUT_MSGS (MAX_BATCH * 48)
#define OUT_IOV (OUT_MSGS * 2)
static struct mmsghdr out_mh[OUT_MSGS];
static struct iovec out_iov[OUT_IOV];
static uint8_t out_hdr[OUT_IOV / 2][CHUNK_HDR]; /* the chunk header of iovec pair i/2 */
static struct sockaddr_in out_addr[OUT_MSGS];
static union {
  char buf[CMSG_SPACE(sizeof(uint16_t))];
  struct cmsghdr align;
} out_ctl[OUT_MSGS];
static int out_n, out_iovn;

static void flush_out(void) {
  int done = 0;
  while (done < out_n) {
    int r = sendmmsg(udp_fd, out_mh + done, out_n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      counters[D_SEND_ERROR]++;
      done++; /* skip the message the kernel refused (EMSGSIZE, no route) */
      continue;
    }
    done += r;
  }
  out_n = out_iovn = 0;
}

/* Queue chunks of `data` (len bytes) to `to`: one message with UDP_SEGMENT, or one per chunk. */
static void queue_packet(struct peer *to, const uint8_t *data, int len, int flags) {
  int payload = cfg.max_datagram - CHUNK_HDR;
  int chunks = (len + payload - 1) / payload;
  if (chunks > MAX_CHUNKS) {
    counters[D_MALFORMED]++;
    return;
  }
  uint32_t id = next_id++;
  int per_msg = cfg.udp_gso ? GSO_MAX_SEGS : 1;
  if (cfg.udp_gso && per_msg * cfg.max_datagram > 65000) per_msg = 65000 / cfg.max_datagram;
  for (int c = 0; c < chunks;) {
    int in_msg = chunks - c < per_msg ? chunks - c : per_msg;
    if (out_n + 1 > OUT_MSGS || out_iovn + 2 * in_msg > OUT_IOV) flush_out();
    struct mmsghdr *m = &out_mh[out_n];
    memset(m, 0, sizeof *m);
    struct sockaddr_in *sa = &out_addr[out_n];
    sa->sin_family = AF_INET;
    sa->sin_port = to->port;
    sa->sin_addr.s_addr = to->ip;
    m->msg_hdr.msg_name = sa;
    m->msg_hdr.msg_namelen = sizeof *sa;
    m->msg_hdr.msg_iov = &out_iov[out_iovn];
    for (int k = 0; k < in_msg; k++, c++) {
      uint8_t *h = out_hdr[out_iovn / 2];
      h[0] = MAGIC;
      h[1] = (uint8_t)flags;
      h[2] = (uint8_t)c;
      h[3] = (uint8_t)chunks;
      uint32_t nid = htonl(id);
      memcpy(h + 4, &nid, 4);
      int off = c * payload;
      int n = len - off < payload ? len - off : payload;
      out_iov[out_iovn++] = (struct iovec){h, CHUNK_HDR};
      out_iov[out_iovn++] = (struct iovec){(void *)(data + off), (size_t)n};
    }
    m->msg_hdr.msg_iovlen = 2 * in_msg;
    if (cfg.udp_gso && in_msg > 1) {
      m->msg_hdr.msg_control = out_ctl[out_n].buf;
      m->msg_hdr.msg_controllen = sizeof out_ctl[out_n].buf;
      struct cmsghdr *cm = CMSG_FIRSTHDR(&m->msg_hdr);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = (uint16_t)cfg.max_datagram;
      memcpy(CMSG_DATA(cm), &seg, sizeof seg);
    }
    counters[C_DATAGRAMS_OUT] += in_msg;
    out_n++;
  }
}

/* TUN read buffers: one per packet of a batch; data must stay valid until flush_out. */
static uint8_t *tun_bufs[MAX_BATCH];

static void from_tun(void) {
  for (;;) {
    int got = 0;
    for (; got < cfg.batch; got++) {
      uint8_t *b = tun_bufs[got];
      ssize_t n = read(tun_fd, b, MAX_PKT + VNET_LEN);
      if (n < 0) {
        if (errno == EINTR) {
          got--;
          continue;
        }
        break;
      }
      uint8_t *pkt = b;
      int len = (int)n, flags = 0;
      if (cfg.offload) {
        if (len < VNET_LEN) {
          counters[D_MALFORMED]++;
          got--;
          continue;
        }
        struct virtio_net_hdr *vh = (struct virtio_net_hdr *)b;
        pkt = b + VNET_LEN;
        len -= VNET_LEN;
        if ((vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE) {
          flags = F_VNET; /* carried to the peer as it is (host order is little-endian here) */
          pkt = b;
          len += VNET_LEN;
        } else if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
          int start = vh->csum_start, at = vh->csum_start + vh->csum_offset;
          if (at + 2 > len || start > len) {
            counters[D_MALFORMED]++;
            got--;
            continue;
          }
          /* the field holds the pseudo-header's sum: summing over it completes the checksum */
          uint16_t s = csum_fold(csum_add(pkt + start, len - start, 0));
          pkt[at] = (uint8_t)(s >> 8);
          pkt[at + 1] = (uint8_t)s;
        }
      }
      const uint8_t *ip = flags & F_VNET ? pkt + VNET_LEN : pkt;
      int iplen = flags & F_VNET ? len - VNET_LEN : len;
      if (iplen < 20 || (ip[0] >> 4) != 4) {
        counters[D_NOT_IPV4]++;
        got--;
        continue;
      }
      uint32_t dst;
      memcpy(&dst, ip + 16, 4);
      struct peer *p = peer_for_dst(ntohl(dst));
      if (!p) {
        counters[D_NO_PEER]++;
        got--;
        continue;
      }
      queue_packet(p, pkt, len, flags);
      counters[C_ENCAP]++;
    }
    if (got > 0) flush_out();
    if (got < cfg.batch) return;
  }
}

/* ---- receiving */
static uint8_t *in_bufs[MAX_BATCH];
static struct mmsghdr in_mh[MAX_BATCH];
static struct iovec in_iov[MAX_BATCH];
static struct sockaddr_in in_addr_[MAX_BATCH];
static union {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} in_ctl[MAX_BATCH];
static const uint8_t zero_vnet[VNET_LEN];

/* A whole packet from `p`: check it, then write it to the TUN. */
static void deliver(struct peer *p, const uint8_t *data, int len, int flags) {
  const uint8_t *vnet = NULL;
  if (flags & F_VNET) {
    if (len < VNET_LEN) {
      counters[D_MALFORMED]++;
      return;
    }
    vnet = data;
    data += VNET_LEN;
    len -= VNET_LEN;
    const struct virtio_net_hdr *vh = (const void *)vnet;
    /* IPv4 TCP only (what TUNSETOFFLOAD asked for; the kernel checks the rest when it takes it) */
    int t = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
    if (t != VIRTIO_NET_HDR_GSO_TCPV4) {
      counters[D_MALFORMED]++;
      return;
    }
  }
  if (len < 20 || (data[0] >> 4) != 4) {
    counters[len < 1 ? D_MALFORMED : D_NOT_IPV4]++;
    return;
  }
  int ihl = (data[0] & 0xf) * 4;
  int tot = data[2] << 8 | data[3];
  if (ihl < 20 || ihl > len || tot != len) {
    counters[D_MALFORMED]++;
    return;
  }
  uint32_t src, dst;
  memcpy(&src, data + 12, 4);
  memcpy(&dst, data + 16, 4);
  if ((ntohl(src) & p->mask) != p->net) {
    counters[D_INNER_SRC]++;
    return;
  }
  if ((ntohl(dst) & cfg.local_mask) != cfg.local_net) {
    counters[D_INNER_DST]++;
    return;
  }
  ssize_t w;
  if (cfg.offload) {
    struct iovec v[2] = {{(void *)(vnet ? vnet : zero_vnet), VNET_LEN}, {(void *)data, (size_t)len}};
    w = writev(tun_fd, v, 2);
  } else if (vnet) {
    counters[D_MALFORMED]++; /* we cannot hand a GSO packet to a TUN without vnet headers */
    return;
  } else {
    w = write(tun_fd, data, len);
  }
  if (w < 0)
    counters[D_TUN_WRITE_ERROR]++;
  else
    counters[C_DECAP]++;
}

static void chunk_in(struct peer *p, const uint8_t *d, int n) {
  counters[C_DATAGRAMS_IN]++;
  if (n < CHUNK_HDR || d[0] != MAGIC || d[3] == 0 || d[2] >= d[3]) {
    counters[D_MALFORMED]++;
    return;
  }
  int idx = d[2], count = d[3], flags = d[1];
  uint32_t id;
  memcpy(&id, d + 4, 4);
  id = ntohl(id);
  d += CHUNK_HDR;
  n -= CHUNK_HDR;
  if (count == 1) {
    deliver(p, d, n, flags);
    return;
  }
  if (!p->buf && !(p->buf = malloc(MAX_PKT + VNET_LEN + 64))) die("malloc");
  if (idx == 0) {
    if (p->next != 0) counters[D_REASSEMBLY]++; /* the previous packet lost a chunk */
    p->id = id;
    p->count = count;
    p->len = 0;
  } else if (p->next != idx || p->id != id || p->count != count) {
    if (p->next != 0) counters[D_REASSEMBLY]++;
    p->next = 0;
    counters[D_REASSEMBLY]++;
    return;
  }
  if (p->len + n > MAX_PKT + VNET_LEN) {
    p->next = 0;
    counters[D_MALFORMED]++;
    return;
  }
  memcpy(p->buf + p->len, d, n);
  p->len += n;
  p->next = idx + 1;
  if (p->next == count) {
    p->next = 0;
    deliver(p, p->buf, p->len, flags);
  }
}

static void from_udp(void) {
  for (;;) {
    for (int i = 0; i < cfg.batch; i++) {
      in_iov[i] = (struct iovec){in_bufs[i], 65536};
      in_mh[i].msg_hdr = (struct msghdr){
          .msg_name = &in_addr_[i],
          .msg_namelen = sizeof in_addr_[i],
          .msg_iov = &in_iov[i],
          .msg_iovlen = 1,
          .msg_control = in_ctl[i].buf,
          .msg_controllen = sizeof in_ctl[i].buf,
      };
    }
    int r = recvmmsg(udp_fd, in_mh, cfg.batch, MSG_DONTWAIT, NULL);
    if (r <= 0) return;
    for (int i = 0; i < r; i++) {
      int len = (int)in_mh[i].msg_len;
      int seg = len;
      for (struct cmsghdr *cm = CMSG_FIRSTHDR(&in_mh[i].msg_hdr); cm;
           cm = CMSG_NXTHDR(&in_mh[i].msg_hdr, cm))
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
          int s;
          memcpy(&s, CMSG_DATA(cm), sizeof s);
          if (s > 0) seg = s;
        }
      struct peer *p = peer_by_ip(in_addr_[i].sin_addr.s_addr);
      for (int off = 0; off < len; off += seg) {
        int n = len - off < seg ? len - off : seg;
        if (!p) {
          counters[D_UNKNOWN_OUTER]++;
          continue;
        }
        chunk_in(p, in_bufs[i] + off, n);
      }
    }
    if (r < cfg.batch) return;
  }
}

/* ---- control */
static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static void command(char *line) {
  char a[64], b[64];
  int port = cfg.port;
  if (sscanf(line, "peer %63s %63s %d", a, b, &port) >= 2) {
    if (port <= 0 || port > 65535) return reply("err peer %s: port %d is not 1 to 65535", a, port);
    struct in_addr ip;
    uint32_t net, mask;
    int plen;
    if (inet_pton(AF_INET, a, &ip) != 1) return reply("err peer %s: not an IPv4 address", a);
    if (parse_cidr(b, &net, &mask, &plen) != 0) return reply("err peer %s %s: not an IPv4 CIDR", a, b);
    struct peer *p = peer_by_ip(ip.s_addr);
    if (!p) {
      if (npeers == MAX_PEERS) return reply("err peer %s: more than %d peers", a, MAX_PEERS);
      p = &peers[npeers++];
      memset(p, 0, sizeof *p);
      p->ip = ip.s_addr;
    }
    p->port = htons((uint16_t)port);
    p->net = net;
    p->mask = mask;
    p->plen = plen;
    p->next = 0;
    return reply("ok");
  }
  if (sscanf(line, "unpeer %63s", a) == 1) {
    struct in_addr ip;
    if (inet_pton(AF_INET, a, &ip) != 1) return reply("err unpeer %s: not an IPv4 address", a);
    struct peer *p = peer_by_ip(ip.s_addr);
    if (p) {
      free(p->buf);
      *p = peers[--npeers];
    }
    return reply("ok");
  }
  if (strcmp(line, "stats") == 0) {
    char out[2048];
    int o = snprintf(out, sizeof out, "stats {\"peers\":%d", npeers);
    for (int i = 0; i < N_COUNTERS; i++)
      o += snprintf(out + o, sizeof out - o, ",\"%s\":%llu", counter_names[i],
                    (unsigned long long)counters[i]);
    return reply("%s}", out);
  }
  reply("err unknown command: %.80s", line);
}

static char ctl_buf[65536];
static int ctl_len;

/* Returns 0 on EOF (the agent is gone). */
static int from_control(void) {
  ssize_t n = read(0, ctl_buf + ctl_len, sizeof ctl_buf - 1 - ctl_len);
  if (n == 0) return 0;
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  ctl_len += (int)n;
  char *start = ctl_buf, *nl;
  while ((nl = memchr(start, '\n', ctl_len - (start - ctl_buf)))) {
    *nl = 0;
    command(start);
    start = nl + 1;
  }
  ctl_len -= (int)(start - ctl_buf);
  memmove(ctl_buf, start, ctl_len);
  if (ctl_len == (int)sizeof ctl_buf - 1) ctl_len = 0; /* a line too long: drop it */
  return 1;
}

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

static void open_tun(void) {
  tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (tun_fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg.tun);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (cfg.offload ? IFF_VNET_HDR : 0);
  if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  /* Offloads are a property of the device, not of this attachment: a helper before us may have
     left them on, and without vnet headers the kernel would hand us unfinished checksums. */
  if (!cfg.offload && ioctl(tun_fd, TUNSETOFFLOAD, 0) < 0) die("TUNSETOFFLOAD 0");
  if (cfg.offload) {
    int hl = VNET_LEN;
    if (ioctl(tun_fd, TUNSETVNETHDRSZ, &hl) < 0) die("TUNSETVNETHDRSZ");
    /* The TUN takes and gives checksum-less and 64 KB TCP packets (what virtio-net does). */
    unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    if (ioctl(tun_fd, TUNSETOFFLOAD, off) < 0) {
      fprintf(stderr, "strata-sleeve: TUNSETOFFLOAD refused (%s); carrying packets one by one\n",
              strerror(errno));
      cfg.offload = 0;
      close(tun_fd);
      open_tun();
      return;
    }
  }
  if (fcntl(tun_fd, F_SETFL, O_NONBLOCK) < 0) die("O_NONBLOCK on tun");
}

static void open_udp(void) {
  udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (udp_fd < 0) die("socket");
  int one = 1, sz = 8 << 20;
  setsockopt(udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
    setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(udp_fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
    setsockopt(udp_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  /* DF on every datagram, sized by the interface MTU: the pod MTU leaves no room for fragments. */
  int pmtu = IP_PMTUDISC_PROBE;
  if (setsockopt(udp_fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) < 0) die("IP_MTU_DISCOVER");
  if (cfg.udp_gro && setsockopt(udp_fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) {
    fprintf(stderr, "strata-sleeve: UDP_GRO refused (%s)\n", strerror(errno));
    cfg.udp_gro = 0;
  }
  if (cfg.udp_gso) {
    /* probe: a socket that refuses UDP_SEGMENT falls back to a datagram per message */
    int seg = cfg.max_datagram;
    if (setsockopt(udp_fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0) {
      fprintf(stderr, "strata-sleeve: UDP_SEGMENT refused (%s)\n", strerror(errno));
      cfg.udp_gso = 0;
    } else {
      seg = 0;
      setsockopt(udp_fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg);
    }
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg.port)};
  sa.sin_addr.s_addr = cfg.local_ip;
  if (bind(udp_fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  if (fcntl(udp_fd, F_SETFL, O_NONBLOCK) < 0) die("O_NONBLOCK on udp");
  /* sends block when the socket buffer is full (backpressure), receives never */
  fcntl(udp_fd, F_SETFL, 0);
}

int main(int argc, char **argv) {
  int plen;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-offload")) cfg.offload = 0;
    else if (!strcmp(a, "--no-udp-gso")) cfg.udp_gso = 0;
    else if (!strcmp(a, "--no-udp-gro")) cfg.udp_gro = 0;
    else if (!v) usage("a flag without its value");
    else if (!strcmp(a, "--tun")) cfg.tun = v, i++;
    else if (!strcmp(a, "--netns")) cfg.netns = v, i++;
    else if (!strcmp(a, "--port")) cfg.port = atoi(v), i++;
    else if (!strcmp(a, "--max-datagram")) cfg.max_datagram = atoi(v), i++;
    else if (!strcmp(a, "--batch")) cfg.batch = atoi(v), i++;
    else if (!strcmp(a, "--local-ip")) {
      struct in_addr ip;
      if (inet_pton(AF_INET, v, &ip) != 1) usage("--local-ip: not an IPv4 address");
      cfg.local_ip = ip.s_addr, i++;
    } else if (!strcmp(a, "--local-cidr")) {
      if (parse_cidr(v, &cfg.local_net, &cfg.local_mask, &plen)) usage("--local-cidr: not an IPv4 CIDR");
      i++;
    } else usage("unknown flag");
  }
  if (!cfg.tun || cfg.port <= 0 || cfg.port > 65535 || !cfg.local_ip || !cfg.local_mask)
    usage("--tun, --port, --local-ip and --local-cidr are required");
  if (cfg.batch < 1 || cfg.batch > MAX_BATCH) usage("--batch: 1 to 64");
  if (cfg.max_datagram < 68 + CHUNK_HDR || cfg.max_datagram > 65507) usage("--max-datagram: 76 to 65507");
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  if (cfg.netns) {
    int fd = open(cfg.netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) die(cfg.netns);
    close(fd);
  }
  for (int i = 0; i < MAX_BATCH; i++)
    if (!(tun_bufs[i] = malloc(MAX_PKT + VNET_LEN)) || !(in_bufs[i] = malloc(65536))) die("malloc");
  open_tun();
  open_udp();
  fcntl(0, F_SETFL, O_NONBLOCK);
  reply("ready {\"offload\":%s,\"udpGso\":%s,\"udpGro\":%s,\"batch\":%d}", cfg.offload ? "true" : "false",
        cfg.udp_gso ? "true" : "false", cfg.udp_gro ? "true" : "false", cfg.batch);
  struct pollfd pf[3] = {{.fd = 0, .events = POLLIN}, {.fd = tun_fd, .events = POLLIN}, {.fd = udp_fd, .events = POLLIN}};
  while (!stopping) {
    int r = poll(pf, 3, 1000);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pf[0].revents & (POLLIN | POLLHUP | POLLERR))
      if (!from_control()) break;
    if (pf[2].revents & POLLIN) from_udp();
    if (pf[1].revents & POLLIN) from_tun();
  }
  return 0;
}

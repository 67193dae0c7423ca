// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Strata's tc-BPF tunnel datapath: IPIP (IP protocol 4, RFC 2003) and GRE (IP protocol 47,
 * RFC 2784, with the optional key of RFC 2890) without the kernel's ipip/gre modules, with the
 * same wire format, so a node that uses the kernel device interoperates with one that uses this.
 *
 * Two programs, both tc direct-action classifiers:
 *
 *  tunnel_egress  on the egress of a TUN device (e.g. strata.ipip). Routes choose it
 *                 (`<peer pod cidr> dev strata.ipip`), so the kernel has already checked the
 *                 packet against the device MTU (DF packets over it get ICMP frag-needed, as
 *                 with a kernel tunnel). It looks the inner destination up in peer_cidrs (LPM
 *                 trie: pod CIDR -> peer node address), grows the packet by the outer header,
 *                 writes it, and hands it to the underlay with bpf_redirect_neigh, which does
 *                 the FIB lookup and neighbour resolution for the outer destination (a direct
 *                 neighbour on an l2 underlay, the router on an l3 one).
 *
 *  tunnel_ingress on the ingress of the underlay device (e.g. eth0). Protocol 4/47 packets
 *                 addressed to this node are checked (RFC 2003 §4 / RFC 2784 §2 leave this to
 *                 the implementation; an open tunnel endpoint lets anyone inject packets with
 *                 any inner source): the outer source must be a known node (peer_nodes) and the
 *                 inner source inside that node's pod CIDR (or the node's own address). Then the outer header is removed and
 *                 the inner packet is delivered into the TUN device's ingress, so it arrives
 *                 "from strata.ipip" exactly as it would from a kernel tunnel device (rp_filter,
 *                 firewall rules and traces see the same interface). Anything else to us with
 *                 protocol 4/47 is dropped and counted per reason; all other traffic is left to
 *                 the next filter and the stack (TC_ACT_UNSPEC).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Newer than Debian 12's UAPI headers. DECAP_L3_IPV4 (Linux 6.3) says the header left in front is
 * IPv4. DECAP_L4_GRE and DECAP_IPXIP4 (proposed on netdev in 2025; this machine's 6.18 refuses
 * them) also clear the tunnel's GSO type and the skb's encapsulation mark. Without them a
 * decapsulated GSO packet still counts as encapsulated, and a device without tunnel offloads
 * (a bridge: cni0) cuts it into MTU-sized segments in software: a million small packets per GByte
 * to the pod, reordered between the CPUs' backlogs, TCP retransmits. So the ipip/gre backends
 * attach pods routed (their own veths, which keep the GSO packet whole). Older kernels refuse
 * unknown flags, so decapsulation retries with fewer. */
#define STRATA_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define STRATA_ADJ_ROOM_DECAP_L4_GRE (1ULL << 9)
#define STRATA_ADJ_ROOM_DECAP_IPXIP4 (1ULL << 11)

#define GRE_FLAG_CSUM 0x8000
#define GRE_FLAG_ROUTING 0x4000
#define GRE_FLAG_KEY 0x2000
#define GRE_FLAG_SEQ 0x1000
#define GRE_VERSION_MASK 0x0007

/* Counter slots (per CPU). Keep in step with COUNTER_NAMES in counters.ts. */
enum counter {
	C_ENCAPSULATED = 0,
	C_DECAPSULATED = 1,
	C_UNKNOWN_OUTER_SOURCE = 2, /* outer source is not a known node */
	C_INNER_SOURCE_NOT_IN_PEER_CIDR = 3, /* spoofed inner source */
	C_MALFORMED = 4, /* truncated, not IPv4, fragmented outer, bad header length */
	C_GRE_KEY_OR_FLAGS = 5, /* wrong/missing key, checksum/routing/sequence bits, version, inner type */
	C_NO_PEER = 6, /* egress: no peer owns the inner destination */
	C_NOT_IPV4 = 7, /* egress: not an IPv4 packet (IPv4 tunnels only) */
	C_COUNT = 8,
};

struct tunnel_config {
	__be32 local_ip; /* this node's underlay address: outer source, and our decap address */
	__u32 underlay_ifindex;
	__u32 tunnel_ifindex;
	__u8 proto; /* IPPROTO_IPIP or IPPROTO_GRE */
	__u8 has_key; /* GRE: 1 when a key is sent and required */
	__u16 pad;
	__be32 key; /* GRE key, network order */
};

struct cidr_key {
	__u32 prefixlen;
	__be32 addr;
};

struct peer_node {
	__be32 pod_net; /* the node's pod CIDR, network address */
	__be32 pod_mask;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tunnel_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cidr_key);
	__type(value, __be32); /* peer node's underlay address */
} peer_cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32); /* peer node's underlay address */
	__type(value, struct peer_node);
} peer_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &slot);
	if (c)
		*c += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline int drop(__u32 slot)
{
	count(slot);
	return TC_ACT_SHOT;
}

static __always_inline __u16 ip_checksum(struct iphdr *iph)
{
	__u32 sum = 0;
	__u16 *p = (__u16 *)iph;
#pragma unroll
	for (int i = 0; i < (int)sizeof(*iph) / 2; i++)
		sum += p[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u32 outer_len(const struct tunnel_config *cfg)
{
	if (cfg->proto == IPPROTO_IPIP)
		return sizeof(struct iphdr);
	/* RFC 2784 §2: 4-byte base header; RFC 2890 §2: +4 with the key. */
	return sizeof(struct iphdr) + 4 + (cfg->has_key ? 4 : 0);
}

SEC("tc")
int tunnel_egress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct tunnel_config *cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || cfg->underlay_ifindex == 0)
		return TC_ACT_SHOT; /* not configured yet: never send an unencapsulated packet */
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return drop(C_NOT_IPV4);

	/* A TUN device has no link-layer header: the inner IP header is at offset 0. */
	struct iphdr inner;
	if (bpf_skb_load_bytes(skb, 0, &inner, sizeof(inner)) < 0 || inner.version != 4)
		return drop(C_MALFORMED);

	struct cidr_key k = { .prefixlen = 32, .addr = inner.daddr };
	__be32 *peer = bpf_map_lookup_elem(&peer_cidrs, &k);
	if (!peer)
		return drop(C_NO_PEER);
	__be32 peer_ip = *peer;

	__u32 olen = outer_len(cfg);
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
	if (cfg->proto == IPPROTO_GRE)
		flags |= BPF_F_ADJ_ROOM_ENCAP_L4_GRE;
	/* FIXED_GSO: the pods' MTU already leaves room for the outer header, so a GRO'd TCP train
	 * keeps its segment size (without it the kernel would cut every segment by olen and send
	 * more, smaller packets than the wire carries). */
#ifndef STRATA_VARIANT_GSO_SHRINK /* bench/bpf-tunnel.ts builds the alternative to compare */
	flags |= BPF_F_ADJ_ROOM_FIXED_GSO;
#endif
	if (bpf_skb_adjust_room(skb, olen, BPF_ADJ_ROOM_MAC, flags) < 0)
		return drop(C_MALFORMED);

	struct iphdr outer = {
		.version = 4,
		.ihl = 5,
		.tos = inner.tos, /* DSCP and ECN copied (RFC 2003 §3.1; RFC 6040 normal mode) */
		.tot_len = bpf_htons(skb->len),
		.id = 0,
		/* DF set, as Linux tunnels do with pmtudisc: the path MTU is the operator's promise
		 * (device MTU = underlay - overhead), never silent fragmentation on the way. */
		.frag_off = bpf_htons(0x4000),
		.ttl = 64,
		.protocol = cfg->proto,
		.saddr = cfg->local_ip,
		.daddr = peer_ip,
	};
	outer.check = ip_checksum(&outer);
	if (bpf_skb_store_bytes(skb, 0, &outer, sizeof(outer), 0) < 0)
		return drop(C_MALFORMED);
	if (cfg->proto == IPPROTO_GRE) {
		/* RFC 2784 §2.1 flags/version word, then the protocol type of the payload. */
		__be16 gre[2] = { bpf_htons(cfg->has_key ? GRE_FLAG_KEY : 0), bpf_htons(ETH_P_IP) };
		if (bpf_skb_store_bytes(skb, sizeof(outer), gre, sizeof(gre), 0) < 0)
			return drop(C_MALFORMED);
		if (cfg->has_key) {
			__be32 key = cfg->key;
			if (bpf_skb_store_bytes(skb, sizeof(outer) + 4, &key, 4, 0) < 0)
				return drop(C_MALFORMED);
		}
	}

	/* bpf_redirect_neigh wants an Ethernet header to replace: push an empty one (Cilium's
	 * pattern for L3 devices); the neighbour subsystem fills both addresses in. */
	if (bpf_skb_change_head(skb, ETH_HLEN, 0) < 0)
		return drop(C_MALFORMED);
	__be16 eth_proto = bpf_htons(ETH_P_IP);
	if (bpf_skb_store_bytes(skb, 2 * ETH_ALEN, &eth_proto, sizeof(eth_proto), 0) < 0)
		return drop(C_MALFORMED);

	count(C_ENCAPSULATED);
	return bpf_redirect_neigh(cfg->underlay_ifindex, NULL, 0, 0);
}

SEC("tc")
int tunnel_ingress(struct __sk_buff *skb)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	__u32 zero = 0;
	struct tunnel_config *cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || cfg->tunnel_ifindex == 0)
		return TC_ACT_UNSPEC;

	struct iphdr outer;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &outer, sizeof(outer)) < 0)
		return TC_ACT_UNSPEC; /* not ours to judge: the stack drops a truncated header */
	if (outer.protocol != cfg->proto || outer.daddr != cfg->local_ip)
		return TC_ACT_UNSPEC; /* other traffic, or tunnel traffic passing through this node */

	/* From here on the packet is tunnel traffic addressed to us: it is decapsulated or dropped. */
	if (outer.version != 4 || outer.ihl < 5)
		return drop(C_MALFORMED);
	/* Peers set DF; a fragment would need reassembly first, which this datapath does not do. */
	if (outer.frag_off & bpf_htons(0x3fff))
		return drop(C_MALFORMED);

	struct peer_node *node = bpf_map_lookup_elem(&peer_nodes, &outer.saddr);
	if (!node)
		return drop(C_UNKNOWN_OUTER_SOURCE);

	__u32 olen = outer.ihl * 4;
	if (cfg->proto == IPPROTO_GRE) {
		__be16 gre[2];
		if (bpf_skb_load_bytes(skb, ETH_HLEN + olen, gre, sizeof(gre)) < 0)
			return drop(C_MALFORMED);
		__u16 gflags = bpf_ntohs(gre[0]);
		/* Version 0 only (RFC 2784 §2.3.1); no checksum, routing or sequence numbers, which
		 * our peers never send; the key present exactly when configured (RFC 2890 §2.1). */
		if ((gflags & (GRE_VERSION_MASK | GRE_FLAG_CSUM | GRE_FLAG_ROUTING | GRE_FLAG_SEQ)) ||
		    !!(gflags & GRE_FLAG_KEY) != !!cfg->has_key || gre[1] != bpf_htons(ETH_P_IP))
			return drop(C_GRE_KEY_OR_FLAGS);
		olen += 4;
		if (cfg->has_key) {
			__be32 key;
			if (bpf_skb_load_bytes(skb, ETH_HLEN + olen, &key, sizeof(key)) < 0)
				return drop(C_MALFORMED);
			if (key != cfg->key)
				return drop(C_GRE_KEY_OR_FLAGS);
			olen += 4;
		}
	}
	if (olen > 64)
		return drop(C_MALFORMED); /* bounds the offsets for the verifier; ihl is at most 15 */

	struct iphdr inner;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + olen, &inner, sizeof(inner)) < 0 || inner.version != 4)
		return drop(C_MALFORMED);
	/* The inner source is one of the node's pods, or the node itself: a node answering a pod that
	 * reached it over the underlay replies from its underlay address through the tunnel (the
	 * route to the pod's CIDR points there), as with Calico's tunl0. */
	if ((inner.saddr & node->pod_mask) != node->pod_net && inner.saddr != outer.saddr)
		return drop(C_INNER_SOURCE_NOT_IN_PEER_CIDR);

	/* FIXED_GSO: a GSO packet keeps its segment size; without it the kernel grows gso_size by the
	 * outer header and the segments no longer fit the pod MTU (forwarding drops them, TCP stalls). */
	__u64 decap = BPF_F_ADJ_ROOM_FIXED_GSO | STRATA_ADJ_ROOM_DECAP_L3_IPV4;
	__u64 tunnel_gso = cfg->proto == IPPROTO_GRE ? STRATA_ADJ_ROOM_DECAP_L4_GRE : STRATA_ADJ_ROOM_DECAP_IPXIP4;
	if (bpf_skb_adjust_room(skb, -(__s32)olen, BPF_ADJ_ROOM_MAC, decap | tunnel_gso) < 0 &&
	    bpf_skb_adjust_room(skb, -(__s32)olen, BPF_ADJ_ROOM_MAC, decap) < 0 &&
	    bpf_skb_adjust_room(skb, -(__s32)olen, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO) < 0)
		return drop(C_MALFORMED);

	count(C_DECAPSULATED);
#ifdef STRATA_VARIANT_DECAP_TO_STACK /* bench alternative: go on as if received on the underlay */
	return TC_ACT_OK;
#endif
	/* Into the tunnel device's receive path: the kernel routes the inner packet to the pod. */
	return bpf_redirect(cfg->tunnel_ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

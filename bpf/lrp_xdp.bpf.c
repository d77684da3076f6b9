// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Early demultiplexing for lrp: parse Ethernet / VLAN / IPv4 / IPv6 / UDP,
 * find the owning socket's slot and hand the frame to its AF_XDP socket.
 * Everything that is not UDP for a bound flow goes to the kernel stack
 * untouched, so ARP, ICMP, ssh and all other traffic keep working.
 *
 * Only the headers needed to find the owner are checked here. Checksums
 * and delivery are protocol work: they run in user space and are charged
 * to the application that owns the flow.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

/* The helper headers need the kernel types above. */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lrp_shared.h"

/* Extension headers walked before giving up (hop-by-hop, routing, dest opts). */
#define LRP_IPV6_EXT_MAX 4

#define LRP_IP_MF 0x2000
#define LRP_IP_OFFSET 0x1fff

#define LRP_NEXTHDR_HOP 0
#define LRP_NEXTHDR_ROUTING 43
#define LRP_NEXTHDR_FRAGMENT 44
#define LRP_NEXTHDR_DEST 60

struct lrp_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, LRP_MAX_QUEUES *LRP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LRP_MAX_FLOWS);
	__type(key, struct lrp_flow_key);
	__type(value, struct lrp_flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LRP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct lrp_slot_control);
} slot_control SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LRP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct lrp_slot_counters);
} slot_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LRP_G_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} global_counters SEC(".maps");

/* Per-CPU maps: a plain increment cannot race with another CPU. */
static __always_inline void count_global(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&global_counters, &counter);

	if (value)
		*value += 1;
}

static __always_inline void count_slot(__u32 slot, __u32 counter)
{
	struct lrp_slot_counters *c = bpf_map_lookup_elem(&slot_counters, &slot);

	if (c && counter < LRP_SLOT_COUNTER_MAX)
		c->value[counter] += 1;
}

static __always_inline int pass(__u32 reason)
{
	count_global(reason);
	return XDP_PASS;
}

/*
 * Most specific first. On entry the key holds the full tuple; each miss
 * clears the fields the next, wider kind does not match on.
 */
static __always_inline int lookup_flow(struct lrp_flow_key *key, __u32 *slot)
{
	struct lrp_flow_value *value;

	key->kind = LRP_FLOW_CONNECTED;
	value = bpf_map_lookup_elem(&flows, key);
	if (value)
		goto found;

	__builtin_memset(key->remote_addr, 0, sizeof(key->remote_addr));
	key->remote_port = 0;
	key->kind = LRP_FLOW_LOCAL;
	value = bpf_map_lookup_elem(&flows, key);
	if (value)
		goto found;

	__builtin_memset(key->local_addr, 0, sizeof(key->local_addr));
	key->kind = LRP_FLOW_WILDCARD;
	value = bpf_map_lookup_elem(&flows, key);
	if (value)
		goto found;
	return 0;
found:
	*slot = value->slot;
	return 1;
}

/*
 * l4_len is the IP payload length the IP header claims; ip_ok says whether
 * the IP lengths were consistent with the frame. The flow is looked up as
 * soon as the ports are readable, so a malformed datagram aimed at a bound
 * socket is charged to that socket's counters before it is passed.
 */
static __always_inline int handle_udp(struct udphdr *udp, void *data_end, struct lrp_flow_key *key,
				      __u32 l4_len, int ip_ok, __u32 queue)
{
	struct lrp_slot_control *control;
	__u32 slot = 0;
	__u32 udp_len;
	int found;
	long ret;

	if ((void *)(udp + 1) > data_end)
		return pass(LRP_G_PASS_MALFORMED);

	key->local_port = udp->dest;
	key->remote_port = udp->source;
	found = lookup_flow(key, &slot);

	/* Shorter than the IP payload is fine (trailing bytes are ignored). */
	udp_len = bpf_ntohs(udp->len);
	if (!ip_ok || udp_len < sizeof(*udp) || udp_len > l4_len) {
		if (found)
			count_slot(slot, LRP_SLOT_MALFORMED);
		return pass(LRP_G_PASS_MALFORMED);
	}
	if (!found)
		return pass(LRP_G_PASS_NO_FLOW);

	/* Drop at the first touch, before the copy, when the owner cannot keep up. */
	control = bpf_map_lookup_elem(&slot_control, &slot);
	if (control && control->shed) {
		count_slot(slot, LRP_SLOT_SHED);
		count_global(LRP_G_SHED);
		return XDP_DROP;
	}

	/* An empty slot (socket closed, owner died) falls back to the stack. */
	if (queue >= LRP_MAX_QUEUES || slot >= LRP_MAX_SLOTS)
		return pass(LRP_G_PASS_SLOT_EMPTY);
	ret = bpf_redirect_map(&xsks, queue * LRP_MAX_SLOTS + slot, XDP_PASS);
	if (ret == XDP_REDIRECT) {
		count_slot(slot, LRP_SLOT_REDIRECTED);
		count_global(LRP_G_REDIRECTED);
		return XDP_REDIRECT;
	}
	count_slot(slot, LRP_SLOT_EMPTY);
	return pass(LRP_G_PASS_SLOT_EMPTY);
}

static __always_inline int handle_ipv4(void *l3, void *data_end, __u32 queue)
{
	struct iphdr *ip = l3;
	struct lrp_flow_key key;
	__u32 hdr_len, tot_len;
	int ip_ok;

	if ((void *)(ip + 1) > data_end)
		return pass(LRP_G_PASS_MALFORMED);
	if (ip->version != 4 || ip->ihl < 5)
		return pass(LRP_G_PASS_MALFORMED);
	hdr_len = ip->ihl * 4;
	if (l3 + hdr_len > data_end)
		return pass(LRP_G_PASS_MALFORMED);

	/* Ethernet padding may follow the datagram, so only an upper bound. */
	tot_len = bpf_ntohs(ip->tot_len);
	ip_ok = tot_len >= hdr_len && l3 + tot_len <= data_end;

	if (ip->frag_off & bpf_htons(LRP_IP_MF | LRP_IP_OFFSET))
		return pass(ip_ok ? LRP_G_PASS_FRAGMENT : LRP_G_PASS_MALFORMED);
	if (ip->protocol != IPPROTO_UDP)
		return pass(ip_ok ? LRP_G_PASS_NOT_UDP : LRP_G_PASS_MALFORMED);

	/* One key type for both families: IPv4 is stored as ::ffff:a.b.c.d. */
	__builtin_memset(&key, 0, sizeof(key));
	key.family = 4;
	key.local_addr[10] = 0xff;
	key.local_addr[11] = 0xff;
	__builtin_memcpy(&key.local_addr[12], &ip->daddr, 4);
	key.remote_addr[10] = 0xff;
	key.remote_addr[11] = 0xff;
	__builtin_memcpy(&key.remote_addr[12], &ip->saddr, 4);

	return handle_udp(l3 + hdr_len, data_end, &key, tot_len - hdr_len, ip_ok, queue);
}

static __always_inline int ipv6_walkable(__u8 nexthdr)
{
	return nexthdr == LRP_NEXTHDR_HOP || nexthdr == LRP_NEXTHDR_ROUTING ||
	       nexthdr == LRP_NEXTHDR_DEST;
}

static __always_inline int handle_ipv6(void *l3, void *data_end, __u32 queue)
{
	struct ipv6hdr *ip6 = l3;
	struct ipv6_opt_hdr *opt;
	struct lrp_flow_key key;
	__u32 payload_len, ext_len = 0, len;
	__u8 nexthdr;
	void *cur;
	int ip_ok;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return pass(LRP_G_PASS_MALFORMED);
	if (ip6->version != 6)
		return pass(LRP_G_PASS_MALFORMED);
	payload_len = bpf_ntohs(ip6->payload_len);
	ip_ok = (void *)(ip6 + 1) + payload_len <= data_end;

	/* A fixed bound keeps the verifier's work and our per-frame cost small. */
	nexthdr = ip6->nexthdr;
	cur = ip6 + 1;
#pragma unroll
	for (i = 0; i < LRP_IPV6_EXT_MAX; i++) {
		if (!ipv6_walkable(nexthdr))
			break;
		opt = cur;
		/* Every extension header is at least 8 bytes long. */
		if (cur + 8 > data_end)
			return pass(LRP_G_PASS_MALFORMED);
		nexthdr = opt->nexthdr;
		len = (opt->hdrlen + 1) * 8;
		cur += len;
		ext_len += len;
	}
	if (ext_len > payload_len)
		ip_ok = 0;

	if (nexthdr == LRP_NEXTHDR_FRAGMENT)
		return pass(ip_ok ? LRP_G_PASS_FRAGMENT : LRP_G_PASS_MALFORMED);
	if (ipv6_walkable(nexthdr))
		return pass(LRP_G_PASS_IPV6_EXT);
	if (nexthdr != IPPROTO_UDP)
		return pass(ip_ok ? LRP_G_PASS_NOT_UDP : LRP_G_PASS_MALFORMED);

	__builtin_memset(&key, 0, sizeof(key));
	key.family = 6;
	__builtin_memcpy(key.local_addr, &ip6->daddr, sizeof(key.local_addr));
	__builtin_memcpy(key.remote_addr, &ip6->saddr, sizeof(key.remote_addr));

	return handle_udp(cur, data_end, &key, payload_len - ext_len, ip_ok, queue);
}

SEC("xdp")
int lrp_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct lrp_vlan_hdr *vlan;
	__be16 proto;
	void *l3;

	count_global(LRP_G_SEEN);

	if ((void *)(eth + 1) > data_end)
		return pass(LRP_G_PASS_MALFORMED);
	proto = eth->h_proto;
	l3 = eth + 1;

	/*
	 * One tag (802.1Q or 802.1ad) is parsed. A second one is not: the
	 * stack handles stacked VLANs, and lrp never binds inside them.
	 */
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		vlan = l3;
		if ((void *)(vlan + 1) > data_end)
			return pass(LRP_G_PASS_MALFORMED);
		proto = vlan->proto;
		l3 = vlan + 1;
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
			return pass(LRP_G_PASS_MALFORMED);
	}

	if (proto == bpf_htons(ETH_P_IP))
		return handle_ipv4(l3, data_end, ctx->rx_queue_index);
	if (proto == bpf_htons(ETH_P_IPV6))
		return handle_ipv6(l3, data_end, ctx->rx_queue_index);
	return pass(LRP_G_PASS_NOT_IP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

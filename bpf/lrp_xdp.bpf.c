// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Early demultiplexing for lrp: parse Ethernet / VLAN / IPv4 / IPv6 / UDP,
 * check that the datagram is addressed to this host, find the owning
 * socket's slot and hand the frame to that socket's AF_XDP socket on the
 * frame's own receive queue. Everything else goes to the kernel stack
 * untouched, so ARP, ICMP, ssh, forwarded traffic and everything the host
 * only overhears keep working as before.
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

#define LRP_VLAN_VID_MASK 0x0fff

/* A slot value that no map holds: the result of a flow that leads nowhere. */
#define LRP_NO_SLOT 0xffffffffU

struct lrp_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* What the link layer says about the frame's destination. */
enum lrp_mac_class {
	LRP_MAC_OURS = 0,
	LRP_MAC_BROADCAST,
	LRP_MAC_MULTICAST,
	LRP_MAC_OTHER,
};

struct lrp_link {
	__u32 mac_class; /* enum lrp_mac_class */
	__u32 vlan;	 /* VLAN ID of the tag in the frame, 0 when untagged */
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, LRP_XSK_ENTRIES);
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
	__uint(max_entries, LRP_MAX_REUSEPORT_GROUPS);
	__type(key, __u32);
	__type(value, struct lrp_reuseport_group);
} reuseport_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lrp_iface_config);
} iface_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LRP_MAX_ADDRS);
	__type(key, struct lrp_addr_key);
	__type(value, __u32);
} local_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LRP_MAX_GROUPS);
	__type(key, struct lrp_addr_key);
	__type(value, __u32);
} mcast_groups SEC(".maps");

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

static __always_inline int is_multicast_addr(const struct lrp_flow_key *key)
{
	if (key->family == 4)
		return (key->local_addr[12] & 0xf0) == 0xe0; /* 224.0.0.0/4 */
	return key->local_addr[0] == 0xff;		     /* ff00::/8 */
}

/* ::ffff:0:0/96 in an IPv6 header: never an address of this host. */
static __always_inline int is_v4_mapped(const struct lrp_flow_key *key)
{
	__u8 zeros = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		zeros |= key->local_addr[i];
	return zeros == 0 && key->local_addr[10] == 0xff && key->local_addr[11] == 0xff;
}

/*
 * Is the datagram addressed to this host? 0 if so, else the reason to pass.
 * The VLAN must be the served one; a unicast MAC must be the interface's;
 * a multicast destination must be a joined group (and not sent to the
 * broadcast MAC); any other destination must be a local address (with the
 * interface's MAC) or a broadcast address (with its MAC or broadcast).
 */
static __always_inline __u32 for_this_host(const struct lrp_link *link,
					   const struct lrp_flow_key *key)
{
	const struct lrp_addr_key *dst = (const struct lrp_addr_key *)key->local_addr;
	struct lrp_iface_config *config;
	__u32 zero = 0;
	__u32 *flags;

	config = bpf_map_lookup_elem(&iface_config, &zero);
	if (!config || link->vlan != config->vlan)
		return LRP_G_PASS_OTHER_VLAN;
	if (link->mac_class == LRP_MAC_OTHER)
		return LRP_G_PASS_OTHER_MAC;

	if (is_multicast_addr(key)) {
		if (!bpf_map_lookup_elem(&mcast_groups, dst))
			return LRP_G_PASS_NOT_JOINED;
		if (link->mac_class == LRP_MAC_BROADCAST)
			return LRP_G_PASS_NOT_LOCAL;
		return 0;
	}
	if (link->mac_class == LRP_MAC_MULTICAST)
		return LRP_G_PASS_NOT_LOCAL;
	if (key->family == 6 && is_v4_mapped(key))
		return LRP_G_PASS_NOT_LOCAL;
	flags = bpf_map_lookup_elem(&local_addrs, dst);
	if (!flags)
		return LRP_G_PASS_NOT_LOCAL;
	if (link->mac_class == LRP_MAC_BROADCAST)
		return (*flags & LRP_ADDR_BROADCAST) ? 0 : LRP_G_PASS_NOT_LOCAL;
	return (*flags & (LRP_ADDR_LOCAL | LRP_ADDR_BROADCAST)) ? 0 : LRP_G_PASS_NOT_LOCAL;
}

/* The slot a flow leads to: its own, or a reuseport member chosen by the peer. */
static __always_inline __u32 flow_target(const struct lrp_flow_value *value, const __u32 remote[4],
					 __u16 remote_port)
{
	struct lrp_reuseport_group *group;
	__u32 index, target = value->target;

	if (value->kind == LRP_TARGET_SLOT)
		return target;
	if (value->kind != LRP_TARGET_GROUP)
		return LRP_NO_SLOT;
	group = bpf_map_lookup_elem(&reuseport_groups, &target);
	if (!group || group->count == 0 || group->count > LRP_REUSEPORT_MAX)
		return LRP_NO_SLOT;
	index = lrp_reuseport_hash(remote, remote_port) % group->count;
	/* The compiler knows index < count <= LRP_REUSEPORT_MAX; the verifier does not. */
	asm volatile("" : "+r"(index));
	if (index >= LRP_REUSEPORT_MAX)
		return LRP_NO_SLOT;
	return group->member[index];
}

/*
 * Most specific first. On entry the key holds the full tuple; each miss
 * clears the fields the next, wider kind does not match on.
 */
static __always_inline int lookup_flow(struct lrp_flow_key *key, __u32 *slot)
{
	struct lrp_flow_value *value;
	__u16 remote_port = key->remote_port;
	__u32 remote[4];

	__builtin_memcpy(remote, key->remote_addr, sizeof(remote));

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
	*slot = flow_target(value, remote, remote_port);
	return 1;
}

/*
 * l4_len is the IP payload length the IP header claims; ip_ok says whether
 * the IP lengths were consistent with the frame. Traffic for other hosts is
 * passed before any flow is looked up. The flow is looked up as soon as the
 * ports are readable, so a malformed datagram aimed at a bound socket is
 * charged to that socket's counters before it is passed.
 */
static __always_inline int handle_udp(struct xdp_md *ctx, const struct lrp_link *link,
				      struct udphdr *udp, void *data_end, struct lrp_flow_key *key,
				      __u32 l4_len, int ip_ok)
{
	struct lrp_slot_control *control;
	__u32 queue = ctx->rx_queue_index;
	__u32 slot = LRP_NO_SLOT;
	__u32 udp_len, reason;
	int found;
	long ret;

	reason = for_this_host(link, key);
	if (reason)
		return pass(reason);

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
	/* A slot outside the maps (a user-space bug) has no socket anywhere. */
	if (slot >= LRP_MAX_SLOTS)
		return pass(LRP_G_PASS_SLOT_EMPTY);

	/* Drop at the first touch, before the copy, when the owner cannot keep up. */
	control = bpf_map_lookup_elem(&slot_control, &slot);
	if (control && control->shed) {
		count_slot(slot, LRP_SLOT_SHED);
		count_global(LRP_G_SHED);
		return XDP_DROP;
	}

	/*
	 * A redirect must stay on the frame's own queue: the XSKMAP has one row
	 * of slots per queue. A queue past the map, or an empty entry (no socket
	 * on this queue, socket closed, owner died), falls back to the stack.
	 */
	if (queue >= LRP_MAX_QUEUES)
		return pass(LRP_G_PASS_QUEUE);
	ret = bpf_redirect_map(&xsks, queue * LRP_MAX_SLOTS + slot, XDP_PASS);
	if (ret == XDP_REDIRECT) {
		count_slot(slot, LRP_SLOT_REDIRECTED);
		count_global(LRP_G_REDIRECTED);
		return XDP_REDIRECT;
	}
	count_slot(slot, LRP_SLOT_EMPTY);
	return pass(LRP_G_PASS_SLOT_EMPTY);
}

static __always_inline int handle_ipv4(struct xdp_md *ctx, const struct lrp_link *link, void *l3,
				       void *data_end, __u32 l3_room)
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
	ip_ok = tot_len >= hdr_len && tot_len <= l3_room;

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

	return handle_udp(ctx, link, l3 + hdr_len, data_end, &key, tot_len - hdr_len, ip_ok);
}

static __always_inline int ipv6_walkable(__u8 nexthdr)
{
	return nexthdr == LRP_NEXTHDR_HOP || nexthdr == LRP_NEXTHDR_ROUTING ||
	       nexthdr == LRP_NEXTHDR_DEST;
}

static __always_inline int handle_ipv6(struct xdp_md *ctx, const struct lrp_link *link, void *l3,
				       void *data_end, __u32 l3_room)
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
	ip_ok = sizeof(*ip6) + payload_len <= l3_room;

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

	return handle_udp(ctx, link, cur, data_end, &key, payload_len - ext_len, ip_ok);
}

static __always_inline __u32 mac_class(const struct ethhdr *eth)
{
	struct lrp_iface_config *config;
	__u32 zero = 0;
	__u8 diff = 0;
	int i;

	if (eth->h_dest[0] & 1) {
		if ((eth->h_dest[0] & eth->h_dest[1] & eth->h_dest[2] & eth->h_dest[3] &
		     eth->h_dest[4] & eth->h_dest[5]) == 0xff)
			return LRP_MAC_BROADCAST;
		return LRP_MAC_MULTICAST;
	}
	config = bpf_map_lookup_elem(&iface_config, &zero);
	if (!config)
		return LRP_MAC_OTHER;
#pragma unroll
	for (i = 0; i < ETH_ALEN; i++)
		diff |= eth->h_dest[i] ^ config->mac[i];
	return diff ? LRP_MAC_OTHER : LRP_MAC_OURS;
}

/*
 * xdp.frags: the program handles frames larger than one buffer, so drivers
 * attach it at MTUs above a page (veth refuses others above about 3.5 kB).
 */
SEC("xdp.frags")
int lrp_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct lrp_vlan_hdr *vlan;
	struct lrp_link link;
	__u32 l3_room;
	__be16 proto;
	void *l3;

	count_global(LRP_G_SEEN);

	if ((void *)(eth + 1) > data_end)
		return pass(LRP_G_PASS_MALFORMED);
	proto = eth->h_proto;
	l3 = eth + 1;
	link.vlan = 0;

	/*
	 * One tag (802.1Q or 802.1ad) is parsed. A second one is not: the
	 * stack handles stacked VLANs, and lrp never binds inside them. A tag
	 * a driver stripped into metadata is not seen here: such frames look
	 * untagged, and the address check is what keeps other VLANs out.
	 */
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		vlan = l3;
		if ((void *)(vlan + 1) > data_end)
			return pass(LRP_G_PASS_MALFORMED);
		proto = vlan->proto;
		l3 = vlan + 1;
		link.vlan = bpf_ntohs(vlan->tci) & LRP_VLAN_VID_MASK;
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
			return pass(LRP_G_PASS_MALFORMED);
	}
	link.mac_class = mac_class(eth);

	/*
	 * Bytes from the network header to the end of the frame. A frame
	 * larger than one buffer (multi-buffer XDP, MTUs above a page) has
	 * only its first part between data and data_end: the headers are
	 * read there, the lengths are checked against the whole frame.
	 */
	l3_room = bpf_xdp_get_buff_len(ctx) - (__u32)(l3 - data);

	if (proto == bpf_htons(ETH_P_IP))
		return handle_ipv4(ctx, &link, l3, data_end, l3_room);
	if (proto == bpf_htons(ETH_P_IPV6))
		return handle_ipv6(ctx, &link, l3, data_end, l3_room);
	return pass(LRP_G_PASS_NOT_IP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Layout shared by the XDP program and the C++ side: map keys, values and
 * counter indices. This file is the single source of the layout; both sides
 * include it and static asserts pin every size.
 */
#ifndef LRP_SHARED_H
#define LRP_SHARED_H

#include <linux/types.h>

/* Receive queues of one interface the program serves (rx_queue_index). */
#define LRP_MAX_QUEUES 64
/*
 * Sockets of one interface. A slot is interface-wide: one lrp socket is one
 * AF_XDP socket on every served queue, all at the same slot index.
 */
#define LRP_MAX_SLOTS 256
/* XSKMAP key = rx_queue_index * LRP_MAX_SLOTS + slot. */
#define LRP_XSK_ENTRIES (LRP_MAX_QUEUES * LRP_MAX_SLOTS)
/* Flow entries across all sockets of one interface. */
#define LRP_MAX_FLOWS 4096
/* Local and broadcast addresses of one interface. */
#define LRP_MAX_ADDRS 256
/* Multicast groups joined on one interface. */
#define LRP_MAX_GROUPS 256
/* Members of one reuseport group, and groups (each needs a slot of its own). */
#define LRP_REUSEPORT_MAX 32
#define LRP_MAX_REUSEPORT_GROUPS LRP_MAX_SLOTS

/*
 * Flow lookup order in the XDP program, most specific first. Addresses are
 * 16 bytes; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) so one key type
 * serves both families. Ports are in network byte order.
 */
enum lrp_flow_kind {
	LRP_FLOW_CONNECTED = 1, /* local addr+port and remote addr+port */
	LRP_FLOW_LOCAL = 2,	/* local addr+port, any remote */
	LRP_FLOW_WILDCARD = 3,	/* any local addr (of this family), port */
};

struct lrp_flow_key {
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u16 local_port;  /* network byte order */
	__u16 remote_port; /* network byte order */
	__u8 kind;	   /* enum lrp_flow_kind */
	__u8 family;	   /* 4 or 6: a wildcard v4 bind must not catch v6 */
	__u8 pad[2];	   /* zero */
};

/* What a flow points at. */
enum lrp_target_kind {
	LRP_TARGET_SLOT = 0,  /* target is a slot */
	LRP_TARGET_GROUP = 1, /* target is an index into reuseport_groups */
};

struct lrp_flow_value {
	__u32 target; /* slot, or reuseport group index */
	__u32 kind;   /* enum lrp_target_kind */
};

/*
 * Sockets sharing one port (SO_REUSEPORT). XDP picks
 * member[lrp_reuseport_hash(remote address, remote port) % count], so one
 * remote endpoint always reaches the same member while the group is stable.
 * Members past count are ignored.
 */
struct lrp_reuseport_group {
	__u32 count;
	__u32 member[LRP_REUSEPORT_MAX];
};

/*
 * The spread over reuseport members: a 32-bit mix of the remote address
 * (the 16-byte flow-key form, as four native-order words) and the remote
 * port (network order). Both sides compute it with this one function.
 */
static inline __u32 lrp_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	return h;
}

static inline __u32 lrp_reuseport_hash(const __u32 remote_words[4], __u16 remote_port)
{
	__u32 h = 0x9e3779b9U;

	h = lrp_mix32(h ^ remote_words[0]);
	h = lrp_mix32(h ^ remote_words[1]);
	h = lrp_mix32(h ^ remote_words[2]);
	h = lrp_mix32(h ^ remote_words[3]);
	return lrp_mix32(h ^ remote_port);
}

/*
 * The interface the program serves (iface_config[0]). A frame is for this
 * host only when its VLAN ID equals vlan and its destination MAC is mac, or
 * it is broadcast or multicast to an address or group the maps below hold.
 */
struct lrp_iface_config {
	__u8 mac[6];
	__u16 vlan;  /* VLAN ID served (tag in the frame); 0: untagged only */
	__u32 flags; /* reserved, zero */
};

/* 16-byte address, IPv4-mapped for IPv4: the key of local_addrs and mcast_groups. */
struct lrp_addr_key {
	__u8 addr[16];
};

/* local_addrs values. */
enum lrp_addr_flags {
	LRP_ADDR_LOCAL = 1,	/* a unicast address of the interface */
	LRP_ADDR_BROADCAST = 2, /* an IPv4 broadcast address of one of its subnets */
};

/* Per-slot control written by user space, read by XDP at the first touch. */
struct lrp_slot_control {
	__u32 shed; /* non-zero: drop at XDP before the copy */
	__u32 pad;
};

/* Per-slot, per-CPU counters kept by XDP. */
enum lrp_slot_counter {
	LRP_SLOT_REDIRECTED = 0, /* handed to the slot's AF_XDP socket */
	LRP_SLOT_SHED,		 /* dropped at XDP because the shed flag was up */
	LRP_SLOT_MALFORMED,	 /* matched the slot's port, passed: unsafe to parse */
	LRP_SLOT_EMPTY,		 /* matched, but no socket at (queue, slot): passed */
	LRP_SLOT_COUNTER_MAX,
};

struct lrp_slot_counters {
	__u64 value[LRP_SLOT_COUNTER_MAX];
};

/*
 * Global per-CPU counters: why a frame went to the kernel stack, and totals.
 * New reasons are appended so that existing indices keep their meaning.
 */
enum lrp_global_counter {
	LRP_G_SEEN = 0,	       /* every frame the program saw */
	LRP_G_PASS_NOT_IP,     /* ARP and other ethertypes */
	LRP_G_PASS_NOT_UDP,    /* ICMP, TCP, ... */
	LRP_G_PASS_FRAGMENT,   /* IPv4 fragment or IPv6 fragment header */
	LRP_G_PASS_MALFORMED,  /* truncated or inconsistent headers */
	LRP_G_PASS_IPV6_EXT,   /* extension header chain not walked */
	LRP_G_PASS_NO_FLOW,    /* UDP to a port nobody bound */
	LRP_G_PASS_SLOT_EMPTY, /* flow found, no socket at (queue, slot) */
	LRP_G_REDIRECTED,      /* handed to an AF_XDP socket */
	LRP_G_SHED,	       /* dropped by a shed flag */
	LRP_G_PASS_QUEUE,      /* arrived on a queue >= LRP_MAX_QUEUES */
	LRP_G_PASS_OTHER_VLAN, /* VLAN ID (in the frame) not the served one */
	LRP_G_PASS_OTHER_MAC,  /* unicast to another MAC (promiscuous, macvlan) */
	LRP_G_PASS_NOT_LOCAL,  /* IP destination neither local nor broadcast */
	LRP_G_PASS_NOT_JOINED, /* multicast to a group no socket joined */
	LRP_G_COUNTER_MAX,
};

#ifdef __cplusplus
#define LRP_STATIC_ASSERT static_assert
#else
#define LRP_STATIC_ASSERT _Static_assert
#endif
LRP_STATIC_ASSERT(sizeof(struct lrp_flow_key) == 40, "flow key layout");
LRP_STATIC_ASSERT(sizeof(struct lrp_flow_value) == 8, "flow value layout");
LRP_STATIC_ASSERT(sizeof(struct lrp_reuseport_group) == 4 + 4 * LRP_REUSEPORT_MAX,
		  "reuseport group layout");
LRP_STATIC_ASSERT(sizeof(struct lrp_iface_config) == 12, "interface config layout");
LRP_STATIC_ASSERT(sizeof(struct lrp_addr_key) == 16, "address key layout");
LRP_STATIC_ASSERT(sizeof(struct lrp_slot_control) == 8, "slot control layout");
LRP_STATIC_ASSERT(sizeof(struct lrp_slot_counters) == 8 * LRP_SLOT_COUNTER_MAX, "slot counters");
LRP_STATIC_ASSERT(LRP_XSK_ENTRIES == 16384, "XSKMAP size");
#undef LRP_STATIC_ASSERT

#endif /* LRP_SHARED_H */

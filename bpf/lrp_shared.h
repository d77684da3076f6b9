/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Layout shared by the XDP program and the C++ side: map keys, values and
 * counter indices. This file is the single source of the layout; both sides
 * include it and static asserts pin every size.
 */
#ifndef LRP_SHARED_H
#define LRP_SHARED_H

#include <linux/types.h>

/* Receive queues served per interface. */
#define LRP_MAX_QUEUES 64
/* lrp sockets per interface; each has an AF_XDP socket on every queue. */
#define LRP_MAX_SLOTS 256
/* Flow entries across all sockets of one interface. */
#define LRP_MAX_FLOWS 1024

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

struct lrp_flow_value {
	__u32 slot; /* index into the XSKMAP and the per-slot maps */
	__u32 pad;
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
	LRP_SLOT_EMPTY,		 /* matched, but the XSKMAP slot was empty: passed */
	LRP_SLOT_COUNTER_MAX,
};

struct lrp_slot_counters {
	__u64 value[LRP_SLOT_COUNTER_MAX];
};

/* Global per-CPU counters: why a frame went to the kernel stack, and totals. */
enum lrp_global_counter {
	LRP_G_SEEN = 0,	       /* every frame the program saw */
	LRP_G_PASS_NOT_IP,     /* ARP and other ethertypes */
	LRP_G_PASS_NOT_UDP,    /* ICMP, TCP, ... */
	LRP_G_PASS_FRAGMENT,   /* IPv4 fragment or IPv6 fragment header */
	LRP_G_PASS_MALFORMED,  /* truncated or inconsistent headers */
	LRP_G_PASS_IPV6_EXT,   /* extension header chain not walked */
	LRP_G_PASS_NO_FLOW,    /* UDP to a port nobody bound */
	LRP_G_PASS_SLOT_EMPTY, /* flow found, socket gone */
	LRP_G_REDIRECTED,      /* handed to an AF_XDP socket */
	LRP_G_SHED,	       /* dropped by a shed flag */
	LRP_G_COUNTER_MAX,
};

#ifdef __cplusplus
static_assert(sizeof(struct lrp_flow_key) == 40, "flow key layout");
static_assert(sizeof(struct lrp_flow_value) == 8, "flow value layout");
static_assert(sizeof(struct lrp_slot_control) == 8, "slot control layout");
static_assert(sizeof(struct lrp_slot_counters) == 8 * LRP_SLOT_COUNTER_MAX, "slot counters");
#else
_Static_assert(sizeof(struct lrp_flow_key) == 40, "flow key layout");
_Static_assert(sizeof(struct lrp_flow_value) == 8, "flow value layout");
_Static_assert(sizeof(struct lrp_slot_control) == 8, "slot control layout");
_Static_assert(sizeof(struct lrp_slot_counters) == 8 * LRP_SLOT_COUNTER_MAX, "slot counters");
#endif

#endif /* LRP_SHARED_H */

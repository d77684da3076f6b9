"""One load step, measured at the receiver: counters before and after,
taken while no traffic is in flight, so offered load, deliveries and drops
of the step are differences of counters.

Where a drop happens, earliest first:
  drop_backlog   the per-CPU input queue (RPS backlog) was full: dropped
                 before any protocol work (kernel sockets and generic XDP);
  drop_shed      lrp raised the shed flag: XDP dropped it at the first touch;
  drop_ring_full the lrp socket's AF_XDP ring was full: tail drop, no work;
  drop_late      dropped after the protocol work was spent: a full kernel
                 socket buffer, or (lrp eager) a full application queue;
  drop_other     the rest (the offered count includes a few packets that
                 are not the load, such as IPv6 neighbour discovery)."""

import time

from bench import cpu_busy_seconds, cpu_sample
from servers import SERVER_CPU

SETTLE_MAX_S = 3.0


def settle(server):
    """Waits until the server stops receiving: what was queued when the load
    stopped (rings, backlog, application queue) belongs to this step."""
    end = time.monotonic() + SETTLE_MAX_S
    last = server.report().get("received")
    while time.monotonic() < end:
        time.sleep(0.1)
        now = server.report().get("received")
        if now == last:
            return
        last = now


class Snapshot:
    def __init__(self, lab, server):
        self.t = time.monotonic()
        self.net = lab.bench.server_counters()
        self.srv = server.report()


def step(lab, server, config, placement, seconds, run_load):
    """Runs `run_load()` (which offers load for `seconds`) between two
    snapshots; returns the step's figures merged with what run_load
    returned. Rates are per second of load; the server core's busy share is
    taken over the time the load programs ran."""
    before = Snapshot(lab, server)
    cpu0 = cpu_sample(SERVER_CPU)
    extra = run_load()
    cpu1 = cpu_sample(SERVER_CPU)
    settle(server)
    after = Snapshot(lab, server)
    r = figures(before, after, config, placement, seconds)
    r["server_cpu_pct"] = round(100.0 * cpu_busy_seconds(cpu0, cpu1) / (cpu1[0] - cpu0[0]), 1)
    return {**r, **extra}


def figures(a, b, config, placement, seconds):
    d_net = {k: b.net[k] - a.net[k] for k in a.net}
    d_srv = {k: b.srv.get(k, 0) - a.srv.get(k, 0)
             for k in b.srv if isinstance(b.srv[k], float)}
    native_lrp = placement == "native" and not config.kernel
    # Native XDP on veth counts every frame it saw in rx_packets (its own
    # drops included); otherwise rx_dropped are frames the backlog refused.
    offered = d_net["rx_packets"] + (0 if native_lrp else d_net["rx_dropped"])
    delivered = d_srv.get("received", 0)
    drops = {
        "drop_backlog": 0 if native_lrp else d_net["rx_dropped"],
        "drop_shed": d_srv.get("xdp_shed", 0),
        "drop_ring_full": d_srv.get("ring_full", 0),
        "drop_late": (d_net["udp_rcvbuf_errors"] if config.kernel
                      else d_srv.get("app_queue_full", 0)),
    }
    drops["drop_other"] = max(0, offered - delivered - sum(drops.values()))
    r = {
        "seconds": round(seconds, 3),
        "offered_pps": round(offered / seconds),
        "delivered_pps": round(delivered / seconds),
        "offered": int(offered),
        "delivered": int(delivered),
    }
    r.update({k: int(v) for k, v in drops.items()})
    if not config.kernel:
        # The XDP program's own count of frames it saw: a cross-check of the
        # interface counter (equal up to frames that are not IP).
        r["xdp_seen"] = int(d_srv.get("xdp_seen", 0))
        r["lrp_charged_ns_per_pkt"] = (round(d_srv.get("charged_ns", 0) / delivered)
                                       if delivered else 0)
        r["mode_switches"] = int(d_srv.get("switches_to_poll", 0)
                                 + d_srv.get("switches_to_interrupt", 0))
    return r

"""crosstalk: a victim application (sockperf ping-pong at a low fixed rate)
and a flooded application on another port of the same server; the flood is
swept from nothing to the generator's maximum. The victim's p50/p99 latency
and loss against the flood rate show whether one application's overload
leaks into another's service (the LRP isolation figure).

LRP's scenarios, all in one run, differ in what the flooded application
does with its flood:
  served  it does the same 10 us of work per datagram as the victim;
  slow    it does heavy work per datagram (SLOW_WORK_NS), far too slow for
          its flood;
  unread  its port is bound but never read.

Both servers run one application per port, each with its own thread: in
lrp each port is a separate scheduler application, on kernel sockets each
port is a separate socket served by its own thread. Then the victim and
the flooded application run as separate processes: two kernel-echo
processes, or two lrp-echo processes attached to one lrpd.

Before the configurations, each placement measures the single-application
reference: one server, one port, sockperf alone. A configuration whose idle
victim p99 is more than REFERENCE_LIMIT times that is flagged: the idle
victim should be served as fast as a server with nothing else to do."""

import contextlib

import load
import measure
import servers
from bench import ns_exec
from lrpd import Daemon
from procs import Server

NAME = "crosstalk"
VICTIM_PORT = 9001
FLOOD_PORT = 9000
WORK_NS = 10_000
SLOW_WORK_NS = 200_000
SCENARIOS = {
    "served": [],
    "slow": ["--port-work", f"{FLOOD_PORT}:{SLOW_WORK_NS}"],
    "unread": ["--unread-port", str(FLOOD_PORT)],
}
REFERENCES = [servers.KERNEL, servers.Config("lrp-adaptive", "adaptive")]
# Victim and flooded application in separate processes.
SEPARATE = [servers.Config("kernel-2proc", "", "-"), servers.Config("lrpd-adaptive", "adaptive")]
FLOODS = [None, 30_000, 100_000, 0]  # None: no flood, 0: maximum
QUICK_FLOODS = [None, 0]
REFERENCE_LIMIT = 2.0


def plan(lab):
    return (QUICK_FLOODS if lab.quick else FLOODS), (1.0 if lab.quick else 2.0)


def steps(lab):
    floods, _ = plan(lab)
    configs = len(lab.selected(servers.STANDARD + SEPARATE))
    per_placement = len(REFERENCES) + len(SCENARIOS) * configs * len(floods)
    return len(servers.PLACEMENTS) * per_placement


def run_load(lab, flood, seconds):
    probe = load.start_probe(lab, VICTIM_PORT, seconds)
    sent = {}
    if flood is not None:
        sent = load.finish_flood(load.start_flood(lab, flood, seconds, FLOOD_PORT), seconds)
    r = load.finish_probe(probe, seconds)
    r["flood_target_pps"] = "none" if flood is None else (flood or "max")
    r["generator_sent_pps"] = sent.get("sent_pps", 0)
    return r


def reference(lab, placement, config, seconds):
    """sockperf against a server with one application and nothing else."""
    with lab.server(config, placement, [VICTIM_PORT], WORK_NS,
                    extra=["--reply", "sockperf"]) as srv:
        r = measure.step(lab, srv, config, placement, seconds, lambda: run_load(lab, None, seconds))
    lab.progress(f"{NAME} {placement:6} reference {config.name:14} p50 {r['probe_p50_us']} "
                 f"p99 {r['probe_p99_us']} us")
    return {"experiment": NAME, "scenario": "single-app", "placement": placement,
            "config": config.name, "step": 0, **r}


class Processes:
    """Several servers measured as one: their received counts add up."""

    def __init__(self, members):
        self.members = members

    def report(self):
        return {"received": sum(m.report().get("received", 0) for m in self.members)}


@contextlib.contextmanager
def separate_processes(lab, config, placement, options):
    """The flooded application and the victim as two processes."""
    common = ["--reply", "sockperf", "--app-per-port"]
    started, daemon = [], None
    try:
        if config.kernel:
            lab.bench.set_rps(servers.rps_mask(placement))
            for port, extra in ((FLOOD_PORT, options), (VICTIM_PORT, [])):
                cmd = ns_exec(lab.bench.srv) + [
                    f"{lab.bin}/kernel-echo", "--port", str(port), "--cpu",
                    str(servers.SERVER_CPU), "--work-ns", str(WORK_NS), "--quiet", *common,
                    *extra]
                lab.log.write(f"--- start {' '.join(cmd)}\n")
                started.append(Server(cmd, lab.log, f"kernel-echo:{port}"))
                started[-1].wait_ready()
        else:
            daemon = Daemon(lab, placement, config.mode)
            for port, extra in ((FLOOD_PORT, options), (VICTIM_PORT, [])):
                started.append(daemon.client(f"lrp-echo:{port}", [port], WORK_NS,
                                             extra=[*common, *extra]))
        yield Processes(started)
    finally:
        for s in started:
            s.stop()
        if daemon:
            daemon.stop()


def serve(lab, config, placement, options):
    if config in SEPARATE:
        return separate_processes(lab, config, placement, options)
    return lab.server(config, placement, [FLOOD_PORT, VICTIM_PORT], WORK_NS,
                      extra=["--reply", "sockperf", "--app-per-port", *options])


def run(lab):
    floods, seconds = plan(lab)
    rows = []
    for placement in servers.PLACEMENTS:
        for config in REFERENCES:
            rows.append(reference(lab, placement, config, seconds))
        for scenario, options in SCENARIOS.items():
            for config in lab.selected(servers.STANDARD + SEPARATE):
                with serve(lab, config, placement, options) as srv:
                    for i, flood in enumerate(floods):
                        r = measure.step(lab, srv, config, placement, seconds,
                                         lambda: run_load(lab, flood, seconds))
                        rows.append({"experiment": NAME, "scenario": scenario,
                                     "placement": placement, "config": config.name, "step": i,
                                     **r})
                        lab.progress(f"{NAME} {scenario:6} {placement:6} {config.name:14} flood "
                                     f"offered {r['offered_pps']:>8}/s victim p50 "
                                     f"{r['probe_p50_us']} p99 {r['probe_p99_us']} us loss "
                                     f"{r['probe_loss']}")
    return rows


def reference_p99(rows, placement):
    """The best single-application p99 of the placement (None if unmeasured)."""
    values = [r["probe_p99_us"] for r in rows if r["scenario"] == "single-app"
              and r["placement"] == placement and r["probe_p99_us"]]
    return min(values) if values else None


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def summarise(rows):
    headers = ["scenario", "placement", "config", "victim p99 idle (us)", "flood at max (pps)",
               "victim p99 at max (us)", "p99 max / idle", "p99 at max / kernel's",
               "victim loss at max", "idle p99 / single-app p99"]
    table = []
    for placement in servers.PLACEMENTS:
        ref = reference_p99(rows, placement)
        for r in rows:
            if r["scenario"] == "single-app" and r["placement"] == placement:
                table.append(["single-app", placement, r["config"], r["probe_p99_us"], "-", "-",
                              "-", "-", "-", ratio(r["probe_p99_us"], ref)])
    for scenario in SCENARIOS:
        for placement in servers.PLACEMENTS:
            ref = reference_p99(rows, placement)
            tops = {}
            for config in servers.STANDARD + SEPARATE:
                mine = [r for r in rows if r["scenario"] == scenario
                        and r["placement"] == placement and r["config"] == config.name]
                if mine:
                    tops[config.name] = (mine[0], max(mine, key=lambda r: r["offered_pps"]))
            for name, (idle, top) in tops.items():
                # The kernel in the same arrangement: one process or two.
                kernel = SEPARATE[0].name if name in (c.name for c in SEPARATE) else "kernel"
                kernel_top = tops.get(kernel, (None, None))[1]
                loss = "-" if top["probe_loss"] is None else f"{100 * top['probe_loss']:.1f}%"
                flag = ratio(idle["probe_p99_us"], ref)
                if flag != "-" and float(flag) > REFERENCE_LIMIT:
                    flag += " DEFECT"
                table.append([scenario, placement, name, idle["probe_p99_us"],
                              top["offered_pps"], top["probe_p99_us"],
                              ratio(top["probe_p99_us"], idle["probe_p99_us"]),
                              ratio(top["probe_p99_us"],
                                    kernel_top["probe_p99_us"] if kernel_top else None),
                              loss, flag])
    return headers, table

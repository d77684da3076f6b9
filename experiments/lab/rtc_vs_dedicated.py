"""rtc-vs-dedicated: the same load with lrp's protocol work in the
application's thread (run to completion, the LRP way) and on a dedicated
engine thread that hands results over through rings (the DLibOS way), for
each engine mode; kernel sockets and the eager baseline for reference.
Measured per configuration: sockperf latency with no other load, sockperf
latency beside a moderate flood, and the delivered rate at the generator's
maximum. Both threads share the server core: this machine has two cores
and the other one generates the load."""

import load
import measure
import servers

NAME = "rtc-vs-dedicated"
PORT = 9000
WORK_NS = 10_000
MODERATE_PPS = 30_000
LOADS = [("idle", None), ("moderate", MODERATE_PPS), ("max", 0)]
QUICK_LOADS = [("idle", None), ("max", 0)]


def plan(lab):
    return (QUICK_LOADS, 1.0) if lab.quick else (LOADS, 2.0)


def steps(lab):
    loads, _ = plan(lab)
    return len(servers.PLACEMENTS) * len(lab.selected(servers.THREADING)) * len(loads)


def run_load(lab, rate, seconds):
    probe = load.start_probe(lab, PORT, seconds) if rate != 0 else None
    sent = {}
    if rate is not None:
        sent = load.finish_flood(load.start_flood(lab, rate, seconds, PORT), seconds)
    r = load.finish_probe(probe, seconds) if probe else {}
    r["generator_sent_pps"] = sent.get("sent_pps", 0)
    return r


def run(lab):
    loads, seconds = plan(lab)
    rows = []
    for placement in servers.PLACEMENTS:
        for config in lab.selected(servers.THREADING):
            with lab.server(config, placement, [PORT], WORK_NS,
                            extra=["--reply", "sockperf"]) as srv:
                for load_name, rate in loads:
                    r = measure.step(lab, srv, config, placement, seconds,
                                     lambda: run_load(lab, rate, seconds))
                    rows.append({"experiment": NAME, "placement": placement,
                                 "config": config.name, "threading": config.threading,
                                 "load": load_name, **r})
                    lab.progress(f"{NAME} {placement:6} {config.name:22} {load_name:8} delivered "
                                 f"{r['delivered_pps']:>7}/s p99 {r.get('probe_p99_us')} us")
    return rows


def summarise(rows):
    headers = ["placement", "config", "threading", "p50 idle (us)", "p99 idle (us)",
               f"p99 at {MODERATE_PPS // 1000} kpps (us)", "delivered at max (pps)",
               "server CPU at max (%)"]
    table = []
    for placement in servers.PLACEMENTS:
        for config in servers.THREADING:
            pick = {r["load"]: r for r in rows
                    if r["placement"] == placement and r["config"] == config.name}
            if "idle" not in pick or "max" not in pick:
                continue
            moderate = pick.get("moderate", {}).get("probe_p99_us")
            table.append([placement, config.name, config.threading, pick["idle"]["probe_p50_us"],
                          pick["idle"]["probe_p99_us"], moderate,
                          pick["max"]["delivered_pps"], pick["max"]["server_cpu_pct"]])
    return headers, table

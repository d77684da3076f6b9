"""crosstalk: a victim application (sockperf ping-pong at a low fixed rate)
and a flooded application on another port of the same server; the flood is
swept from nothing to the generator's maximum. The victim's p50/p99 latency
and loss against the flood rate show whether one application's overload
leaks into another's service (the LRP isolation figure).

Both servers run one application per port, each with its own thread: in
lrp each port is a separate scheduler application, on kernel sockets each
port is a separate socket served by its own thread."""

import load
import measure
import servers

NAME = "crosstalk"
VICTIM_PORT = 9001
FLOOD_PORT = 9000
WORK_NS = 10_000
FLOODS = [None, 20_000, 50_000, 100_000, 200_000, 400_000, 0]  # None: no flood, 0: maximum
QUICK_FLOODS = [None, 100_000, 0]


def plan(lab):
    return (QUICK_FLOODS if lab.quick else FLOODS), (1.0 if lab.quick else 2.0)


def steps(lab):
    floods, _ = plan(lab)
    return len(servers.PLACEMENTS) * len(servers.STANDARD) * len(floods)


def run_load(lab, flood, seconds):
    probe = load.start_probe(lab, VICTIM_PORT, seconds)
    sent = {}
    if flood is not None:
        sent = load.finish_flood(load.start_flood(lab, flood, seconds, FLOOD_PORT), seconds)
    r = load.finish_probe(probe, seconds)
    r["flood_target_pps"] = "none" if flood is None else (flood or "max")
    r["generator_sent_pps"] = sent.get("sent_pps", 0)
    return r


def run(lab):
    floods, seconds = plan(lab)
    rows = []
    for placement in servers.PLACEMENTS:
        for config in servers.STANDARD:
            with lab.server(config, placement, [FLOOD_PORT, VICTIM_PORT], WORK_NS,
                            extra=["--reply", "sockperf", "--app-per-port"]) as srv:
                for i, flood in enumerate(floods):
                    r = measure.step(lab, srv, config, placement, seconds,
                                     lambda: run_load(lab, flood, seconds))
                    rows.append({"experiment": NAME, "placement": placement,
                                 "config": config.name, "step": i, **r})
                    lab.progress(f"{NAME} {placement:6} {config.name:14} flood offered "
                                 f"{r['offered_pps']:>8}/s victim p50 {r['probe_p50_us']} p99 "
                                 f"{r['probe_p99_us']} us loss {r['probe_loss']}")
    return rows


def summarise(rows):
    headers = ["placement", "config", "victim p99 idle (us)", "flood at max (pps)",
               "victim p50 at max (us)", "victim p99 at max (us)", "p99 ratio max/idle",
               "victim loss at max"]
    table = []
    for placement in servers.PLACEMENTS:
        for config in servers.STANDARD:
            mine = [r for r in rows if r["placement"] == placement and r["config"] == config.name]
            if not mine:
                continue
            idle, top = mine[0], max(mine, key=lambda r: r["offered_pps"])
            ratio = (f"{top['probe_p99_us'] / idle['probe_p99_us']:.1f}"
                     if top["probe_p99_us"] and idle["probe_p99_us"] else "-")
            loss = "-" if top["probe_loss"] is None else f"{100 * top['probe_loss']:.1f}%"
            table.append([placement, config.name, idle["probe_p99_us"], top["offered_pps"],
                          top["probe_p50_us"], top["probe_p99_us"], ratio, loss])
    return headers, table

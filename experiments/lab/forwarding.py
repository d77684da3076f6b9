"""forwarding: a UDP relay (a pair of sockets: receive on one port, send
from the other to a fixed destination) on the server core, with 0, 1, 2 and
4 CPU-bound background threads on the same core. Throughput is the relay's
rate at the generator's maximum; jitter is the variation of transfer time
(generator to sink, same clock) at a fixed paced rate: average and maximum
of the difference between consecutive datagrams' transfer times."""

import subprocess

import load
import measure
import servers
from bench import CLIENT_ADDR
from procs import spawn, stop

NAME = "forwarding"
IN_PORT, OUT_PORT, SINK_PORT = 9000, 9001, 7000
BACKGROUND = [0, 1, 2, 4]
QUICK_BACKGROUND = [0, 4]
JITTER_PPS = 20_000
LOADS = [("paced", JITTER_PPS), ("max", 0)]


def plan(lab):
    return (QUICK_BACKGROUND, 0.7) if lab.quick else (BACKGROUND, 2.0)


def steps(lab):
    background, _ = plan(lab)
    configs = lab.selected(servers.STANDARD)
    return len(servers.PLACEMENTS) * len(configs) * len(background) * len(LOADS)


def start_background(lab, threads):
    if threads == 0:
        return None
    return spawn([f"{lab.bin}/lrp-burn", "--threads", str(threads), "--cpu",
                  str(servers.SERVER_CPU), "--duration", "3600"], lab.log, subprocess.DEVNULL)


def run_load(lab, rate, seconds):
    sent = load.finish_flood(load.start_flood(lab, rate, seconds, IN_PORT, SINK_PORT), seconds)
    return {"target_pps": rate or "max", "generator_sent_pps": sent.get("sent_pps", 0),
            "relayed_pps": sent.get("sink_pps", 0), "transit_avg_us": sent.get("transit_avg_us"),
            "jitter_avg_us": sent.get("jitter_avg_us"), "jitter_max_us": sent.get("jitter_max_us")}


def run(lab):
    background, seconds = plan(lab)
    rows = []
    relay = ["--forward", f"{CLIENT_ADDR}:{SINK_PORT}"]
    for placement in servers.PLACEMENTS:
        for config in lab.selected(servers.STANDARD):
            with lab.server(config, placement, [IN_PORT, OUT_PORT], 0, extra=relay) as srv:
                for threads in background:
                    burn = start_background(lab, threads)
                    try:
                        for load_name, rate in LOADS:
                            r = measure.step(lab, srv, config, placement, seconds,
                                             lambda: run_load(lab, rate, seconds))
                            rows.append({"experiment": NAME, "placement": placement,
                                         "config": config.name, "background_threads": threads,
                                         "load": load_name, **r})
                            lab.progress(
                                f"{NAME} {placement:6} {config.name:14} bg {threads} {load_name:5}"
                                f" relayed {r['relayed_pps']:>8.0f}/s jitter avg "
                                f"{r['jitter_avg_us']} max {r['jitter_max_us']} us")
                    finally:
                        if burn:
                            stop(burn)
    return rows


def summarise(rows):
    counts = sorted({r["background_threads"] for r in rows})
    headers = ["placement", "config"] + [f"bg {n}: pps / avg / max jitter (us)" for n in counts]
    table = []
    for placement in servers.PLACEMENTS:
        for config in servers.STANDARD:
            cells = []
            for n in counts:
                pick = {r["load"]: r for r in rows if r["placement"] == placement
                        and r["config"] == config.name and r["background_threads"] == n}
                if "max" not in pick or "paced" not in pick:
                    cells.append("-")
                    continue
                p = pick["paced"]
                cells.append(f"{pick['max']['relayed_pps']:.0f} / {p['jitter_avg_us']} / "
                             f"{p['jitter_max_us']}")
            if any(c != "-" for c in cells):
                table.append([placement, config.name] + cells)
    return headers, table

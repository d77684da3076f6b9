"""livelock: delivered rate against offered rate, from well below the
server's capacity to the generator's maximum (Mogul and Ramakrishnan's
figure), with a sockperf probe on the loaded port for latency.

Per-datagram application work (WORK_NS) makes the server, not the
generator, the bottleneck: 10 us caps the application near 100 kpps while
the generator offers several hundred kpps. Steps below TRAFGEN_MAX_PPS use
trafgen's fixed gap; the rest use lrp-flood (rate 0 = as fast as it can)."""

import time

import load
import measure
import servers

NAME = "livelock"
PORT = 9000
WORK_NS = 10_000
RATES = [5_000, 10_000, 20_000, 30_000, 45_000, 60_000, 90_000, 150_000, 250_000, 400_000, 0]
QUICK_RATES = [10_000, 45_000, 150_000, 0]
LOSS_FREE = 0.995  # delivered / offered at or above this counts as loss-free
KNEE_PRECISION = 0.05
KNEE_STEPS, QUICK_KNEE_STEPS = 4, 1  # at most this many bisection steps


def plan(lab):
    rates = QUICK_RATES if lab.quick else RATES
    return rates, (1.0 if lab.quick else 2.0)


def steps(lab):
    rates, _ = plan(lab)
    knee = QUICK_KNEE_STEPS if lab.quick else KNEE_STEPS
    return len(servers.PLACEMENTS) * len(lab.selected(servers.LIVELOCK)) * (len(rates) + knee)


def run_load(lab, rate, seconds):
    probe = load.start_probe(lab, PORT, seconds)
    generator = "lrp-flood"
    if 0 < rate <= load.TRAFGEN_MAX_PPS:
        t0 = time.monotonic()
        generator, sent = "trafgen", {}
        if not load.finish_trafgen(load.start_trafgen(lab, rate, seconds, PORT), seconds):
            # trafgen gives up when the device pushes back; lrp-flood does not.
            left = seconds - (time.monotonic() - t0)
            generator = "trafgen+lrp-flood"
            if left > 0.1:
                sent = load.finish_flood(load.start_flood(lab, rate, left, PORT), left)
    else:
        p = load.start_flood(lab, rate, seconds, PORT)
        sent = load.finish_flood(p, seconds)
    r = load.finish_probe(probe, seconds)
    r["generator"] = generator
    r["target_pps"] = rate if rate else "max"
    r["generator_sent_pps"] = sent.get("sent_pps", "")
    return r


def loss_free(r):
    return r["offered"] > 0 and r["delivered"] >= LOSS_FREE * r["offered"]


def knee_bracket(rows):
    """The target rates of the highest loss-free step and of the lowest
    step above it that lost (None when there is no such pair)."""
    paced = [r for r in rows if isinstance(r["target_pps"], int)]
    good = [r["target_pps"] for r in paced if loss_free(r)]
    if not good:
        return None
    low = max(good)
    above = [r["target_pps"] for r in paced if r["target_pps"] > low and not loss_free(r)]
    return (low, min(above)) if above else None


def run(lab):
    rates, seconds = plan(lab)
    knee_steps = QUICK_KNEE_STEPS if lab.quick else KNEE_STEPS
    rows = []
    for placement in servers.PLACEMENTS:
        for config in lab.selected(servers.LIVELOCK):
            mine = []

            def measure_at(rate, kind):
                r = measure.step(lab, srv, config, placement, seconds,
                                 lambda: run_load(lab, rate, seconds))
                r = {"experiment": NAME, "placement": placement, "config": config.name,
                     "step": len(mine), "sweep": kind, **r}
                mine.append(r)
                lab.progress(f"{NAME} {placement:6} {config.name:14} {kind:6} offered "
                             f"{r['offered_pps']:>8}/s delivered {r['delivered_pps']:>7}/s "
                             f"probe p99 {r['probe_p99_us']} us")

            with lab.server(config, placement, [PORT], WORK_NS,
                            extra=["--reply", "sockperf"]) as srv:
                for rate in rates:
                    measure_at(rate, "coarse")
                for _ in range(knee_steps):
                    bracket = knee_bracket(mine)
                    if not bracket or bracket[1] <= bracket[0] * (1 + KNEE_PRECISION):
                        lab.progress(f"{NAME} {placement:6} {config.name:14} knee known")
                        continue
                    measure_at(int((bracket[0] * bracket[1]) ** 0.5), "knee")
            rows += mine
    return rows


def mlfrr(rows):
    """Maximum loss-free receive rate: the highest delivered rate of a step
    that delivered at least LOSS_FREE of what was offered."""
    return max((r["delivered_pps"] for r in rows if loss_free(r)), default=0)


def knee_width(rows):
    """How closely the knee is known: the lowest offered rate above MLFRR
    that lost, over MLFRR, minus one (None: no lossy step above it)."""
    m = mlfrr(rows)
    lossy = [r["offered_pps"] for r in rows if not loss_free(r) and r["offered_pps"] > m]
    return min(lossy) / m - 1 if m and lossy else None


def summarise(rows):
    headers = ["placement", "config", "MLFRR (pps)", "knee known within", "max offered (pps)",
               "delivered at max (pps)", "delivered at max / MLFRR", "probe p99 at max (us)",
               "drops at max: backlog/shed/ring/late"]
    table = []
    for placement in servers.PLACEMENTS:
        for config in servers.LIVELOCK:
            mine = [r for r in rows if r["placement"] == placement and r["config"] == config.name]
            if not mine:
                continue
            top = max(mine, key=lambda r: r["offered_pps"])
            m = mlfrr(mine)
            width = knee_width(mine)
            table.append([placement, config.name, m,
                          "-" if width is None else f"{100 * width:.0f}%",
                          top["offered_pps"], top["delivered_pps"],
                          f"{top['delivered_pps'] / m:.2f}" if m else "-",
                          top["probe_p99_us"] if top["probe_p99_us"] is not None else "-",
                          f"{top['drop_backlog']}/{top['drop_shed']}/{top['drop_ring_full']}/"
                          f"{top['drop_late']}"])
    return headers, table

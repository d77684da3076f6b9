"""isolation: LRP's accounting across applications. Three server processes
with weights 1:2:4, each flooded far beyond what the server core can do, all
attached to one lrpd; then the same with the weight-2 process stopped
(SIGSTOP: a stalled reader). lrp should deliver to, and charge protocol CPU
to, each process in proportion to its weight, and shed the stalled one's
flood at XDP while the others keep their rates. The same run with the same
three processes on kernel sockets (which know no weights) is the
comparison.

lrpd applies the weights to the protocol work it does for each process;
the kernel schedules the processes' own work, so each server process also
gets the matching CPU weight (NICENESS: CFS weights 1024, 1991 and 3906, in
the ratio 1:1.94:3.81), the kernel-socket servers as well.

Offered load per process is what its generator sent; delivered is what the
process received (its own counter; for the stalled one, what it found
queued when it woke); charged CPU is lrpd's protocol time per
application (lrpctl apps); process CPU is the server process's own time."""

import os
import signal
import time

import load
import servers
from bench import ns_exec
from lrpd import Daemon
from procs import Server

NAME = "isolation"
WEIGHTS = {9100: 1, 9101: 2, 9102: 4}
NICENESS = {1: 0, 2: -3, 4: -6}
# lrpd plays the kernel's part: its protocol work runs ahead of the
# applications it serves, or their own work would starve it and their rings
# would overflow in turn, whatever their weights.
DAEMON_NICENESS = -10
STALLED_PORT = 9101
PHASES = ("all-reading", "one-stalled")
BACKENDS = ("lrp", "kernel")
TOLERANCE = 0.10
HZ = os.sysconf("SC_CLK_TCK")


def plan(lab):
    return 1.0 if lab.quick else 3.0


def steps(lab):
    return len(servers.PLACEMENTS) * len(lab.selected(BACKENDS)) * len(PHASES)


def process_cpu_s(pid):
    """User and system time of a process and all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def kernel_server(lab, port):
    cmd = ns_exec(lab.bench.srv) + ["nice", "-n", str(NICENESS[WEIGHTS[port]]),
                                    f"{lab.bin}/kernel-echo", "--port", str(port), "--cpu",
                                    str(servers.SERVER_CPU), "--sink", "--quiet"]
    lab.log.write(f"--- start {' '.join(cmd)}\n")
    s = Server(cmd, lab.log, f"kernel-echo:{port}")
    s.wait_ready()
    return s


def measure_phase(lab, procs_by_port, daemon, phase, seconds):
    """Floods every port at once for `seconds`; the stalled process (if
    any) is stopped for that time. Returns per-port figures."""
    stalled = STALLED_PORT if phase == "one-stalled" else None
    before = {p: s.report().get("received", 0) for p, s in procs_by_port.items()}
    cpu_before = {p: process_cpu_s(s.proc.pid) for p, s in procs_by_port.items()}
    apps_before = daemon.apps() if daemon else {}
    if stalled:
        procs_by_port[stalled].proc.send_signal(signal.SIGSTOP)
    floods = {p: load.start_flood(lab, 0, seconds, p) for p in procs_by_port}
    sent = {p: load.finish_flood(f, seconds) for p, f in floods.items()}
    time.sleep(0.2)  # what is queued is delivered to the ones that read
    after = {p: s.report().get("received", 0) for p, s in procs_by_port.items() if p != stalled}
    apps_after = daemon.apps() if daemon else {}
    cpu_after = {p: process_cpu_s(s.proc.pid) for p, s in procs_by_port.items()}
    if stalled:
        procs_by_port[stalled].proc.send_signal(signal.SIGCONT)
        time.sleep(0.2)
        # What it drained from its queue after it woke, not during the flood.
        after[stalled] = procs_by_port[stalled].report().get("received", 0)
    rows = []
    for port, weight in WEIGHTS.items():
        offered, delivered = int(sent[port].get("sent", 0)), int(after[port] - before[port])
        r = {"port": port, "weight": weight, "stalled": port == stalled, "seconds": seconds,
             "offered": offered, "delivered": delivered,
             "offered_pps": round(offered / seconds), "delivered_pps": round(delivered / seconds),
             "process_cpu_pct": round(100 * (cpu_after[port] - cpu_before[port]) / seconds, 1)}
        name = f"port-{port}"
        if name in apps_after and name in apps_before:
            a, b = apps_after[name], apps_before[name]
            r["lrpd_delivered_pps"] = round((a["delivered"] - b["delivered"]) / seconds)
            r["charged_cpu_pct"] = round(100 * (a["charged_ns"] - b["charged_ns"]) / 1e9 / seconds,
                                         1)
            r["drop_shed"] = a["drops"]["shed"] - b["drops"]["shed"]
            r["drop_ring_full"] = (a["drops"]["ring_full"] - b["drops"]["ring_full"]
                                   + a["drops"]["kernel_ring_full"]
                                   - b["drops"]["kernel_ring_full"])
        rows.append(r)
    return rows


def run_backend(lab, placement, backend, seconds):
    rows = []
    daemon = None
    procs_by_port = {}
    try:
        if backend == "lrp":
            daemon = Daemon(lab, placement, nice=DAEMON_NICENESS)
            # The clients sleep when they find nothing, so their CPU is their work.
            extra = ["--sink", "--app-per-port", "--mode", "interrupt"]
            for port, weight in WEIGHTS.items():
                procs_by_port[port] = daemon.client(f"lrp-echo:{port}", [port], weight=weight,
                                                    extra=extra, nice=NICENESS[weight])
        else:
            lab.bench.set_rps(servers.rps_mask(placement))
            for port in WEIGHTS:
                procs_by_port[port] = kernel_server(lab, port)
        for phase in PHASES:
            for r in measure_phase(lab, procs_by_port, daemon, phase, seconds):
                rows.append({"experiment": NAME, "placement": placement, "config": backend,
                             "phase": phase, **r})
            got = [r["delivered_pps"] for r in rows if r["phase"] == phase]
            lab.progress(f"{NAME} {placement:6} {backend:6} {phase:11} delivered by weight 1/2/4: "
                         f"{'/'.join(str(g) for g in got)} pps")
    finally:
        for s in procs_by_port.values():
            if s.proc.poll() is None:
                s.proc.send_signal(signal.SIGCONT)
            s.stop()
        if daemon:
            daemon.stop()
    return rows


def run(lab):
    seconds = plan(lab)
    rows = []
    for placement in servers.PLACEMENTS:
        for backend in lab.selected(BACKENDS):
            rows += run_backend(lab, placement, backend, seconds)
    return rows


def shares(rows, key):
    """Each row's share of `key` among the rows that read, over its weight's share."""
    reading = [r for r in rows if not r["stalled"]]
    total = sum(r.get(key, 0) or 0 for r in reading)
    weights = sum(r["weight"] for r in reading)
    out = {}
    for r in reading:
        if total:
            out[r["port"]] = (r.get(key, 0) or 0) / total / (r["weight"] / weights)
    return out


def summarise(rows):
    headers = ["placement", "config", "phase", "weight", "offered (pps)", "delivered (pps)",
               "delivered share / weight share", "charged CPU (%)",
               "charged share / weight share", "process CPU (%)", "drops shed/ring"]
    table = []
    for placement in servers.PLACEMENTS:
        for backend in BACKENDS:
            for phase in PHASES:
                mine = [r for r in rows if r["placement"] == placement
                        and r["config"] == backend and r["phase"] == phase]
                delivered = shares(mine, "delivered_pps")
                charged = shares(mine, "charged_cpu_pct")
                for r in mine:
                    fmt = (lambda v: "stalled" if r["stalled"] else
                           "-" if v is None else f"{v:.2f}"
                           + ("" if abs(v - 1) <= TOLERANCE else " (off)"))
                    table.append([placement, backend, phase, r["weight"], r["offered_pps"],
                                  r["delivered_pps"], fmt(delivered.get(r["port"])),
                                  r.get("charged_cpu_pct", "-"),
                                  fmt(charged.get(r["port"])) if "charged_cpu_pct" in r else "-",
                                  r["process_cpu_pct"],
                                  f"{r['drop_shed']}/{r['drop_ring_full']}"
                                  if "drop_shed" in r else "-"])
    return headers, table

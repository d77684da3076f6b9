"""Load generators, all started in the client namespace on the load core:
lrp-flood (open loop, paced in small batches, survives back-pressure; the
overload generator), trafgen (smoothly paced with a fixed gap, used for the
low steps), and sockperf ping-pong (the latency probe, at real-time
priority so the generator on the same core does not delay it)."""

import os
import re
import signal
import subprocess

from bench import CLIENT_ADDR, SERVER_ADDR, ns_exec
from procs import finish, parse_pairs, spawn
from servers import LOAD_CPU

TRAFGEN_MAX_PPS = 30000  # trafgen's gap pacing tops out below 70 kpps here
FLOOD_PAYLOAD = 18  # 64-byte frames on IPv4


def start_flood(lab, rate, seconds, port, sink_port=0):
    cmd = ns_exec(lab.bench.cli) + [
        f"{lab.bin}/lrp-flood", "--dst", SERVER_ADDR, "--port", str(port), "--rate", str(int(rate)),
        "--duration", f"{seconds:.3f}", "--count", "1000000000", "--cpu", str(LOAD_CPU),
        "--size", str(FLOOD_PAYLOAD)]
    if sink_port:
        cmd += ["--sink-port", str(sink_port)]
    return spawn(cmd, lab.log, stdout=subprocess.PIPE)


def finish_flood(p, seconds):
    out = finish(p, seconds + 10)
    result = {}
    for line in out.splitlines():
        result.update(parse_pairs(line))
    return result


def _trafgen_cmd(lab, gap_ns, count, port):
    dst = lab.bench.mac(lab.bench.srv, lab.bench.sif)
    src = lab.bench.mac(lab.bench.cli, lab.bench.cif)
    conf = os.path.join(lab.out, "trafgen.cfg")
    with open(conf, "w") as f:
        f.write(f"{{ eth(da={dst}, sa={src}), ipv4(sa={CLIENT_ADDR}, da={SERVER_ADDR}, ttl=64), "
                f"udp(sp=40000, dp={port}), fill(0x66, {FLOOD_PAYLOAD}) }}\n")
    return ns_exec(lab.bench.cli) + ["trafgen", "--dev", lab.bench.cif, "--conf", conf, "--cpus",
                                     "1", "--gap", f"{max(1, int(gap_ns))}ns", "--num", str(count)]


def start_trafgen(lab, rate, seconds, port):
    """trafgen at a fixed gap (smooth, unlike its -b rate); it sits on CPU 0
    with --cpus 1 and is stopped after `seconds`. The gap is a sleep after
    each send, so the rate falls short of the target by the cost of a send
    and a wake-up; what counts is the rate measured at the receiver."""
    gap_ns = 1e9 / rate
    return spawn(_trafgen_cmd(lab, gap_ns, int(rate * seconds), port), lab.log,
                 subprocess.DEVNULL)


def finish_trafgen(p, seconds):
    """Stops trafgen after `seconds`; false if it failed before that."""
    try:
        p.wait(seconds)
        return p.returncode == 0
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)  # trafgen's own way to stop early
    finish(p, 2.0)
    return True


def start_probe(lab, port, seconds, mps=1000):
    cmd = ns_exec(lab.bench.cli) + [
        "taskset", "-c", str(LOAD_CPU), "chrt", "-f", "50", "sockperf", "ping-pong", "-i",
        SERVER_ADDR, "-p", str(port), "-t", str(max(1, round(seconds))), "--mps", str(mps)]
    return spawn(cmd, subprocess.DEVNULL, stdout=subprocess.PIPE)


def finish_probe(p, seconds):
    """sockperf's figures: p50, p99, max (us), sent, received and loss."""
    out = finish(p, seconds + 15)
    r = {"probe_p50_us": None, "probe_p99_us": None, "probe_max_us": None, "probe_sent": 0,
         "probe_received": 0, "probe_loss": None}
    m = re.search(r"\[Valid Duration\].*SentMessages=(\d+); ReceivedMessages=(\d+)", out)
    if m:
        r["probe_sent"], r["probe_received"] = int(m.group(1)), int(m.group(2))
    for key, pattern in (("probe_p50_us", r"percentile 50\.000 =\s*([\d.]+)"),
                         ("probe_p99_us", r"percentile 99\.000 =\s*([\d.]+)"),
                         ("probe_max_us", r"<MAX> observation =\s*([\d.]+)")):
        m = re.search(pattern, out)
        if m:
            r[key] = float(m.group(1))
    m = re.search(r"# dropped messages = (\d+)", out)
    dropped = int(m.group(1)) if m else 0
    if r["probe_sent"]:
        lost = max(dropped, r["probe_sent"] - r["probe_received"])
        r["probe_loss"] = lost / r["probe_sent"]
    return r

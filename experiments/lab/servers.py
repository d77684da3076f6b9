"""The servers under test and the two placements of receive work.

Placements (both reported):
  native: native XDP on the veth, so the sending core does the
          demultiplexing (and, for kernel sockets, the whole receive path),
          like an interface that demultiplexes (NI-LRP); no RPS.
  soft:   RPS steers the veth's receive queue to the server's core and lrp
          uses generic (skb) XDP, so receive work runs on the server's core
          at softirq priority, as a NIC interrupt would (SOFT-LRP). The
          kernel-socket baseline runs with the same RPS setting.
"""

from dataclasses import dataclass

from bench import ns_exec

SERVER_CPU = 1
LOAD_CPU = 0
PLACEMENTS = ("native", "soft")
METRICS_INNER = "127.0.0.1:9464"  # inside the server namespace


@dataclass(frozen=True)
class Config:
    name: str
    mode: str = ""  # empty: kernel sockets
    threading: str = "rtc"
    options: tuple = ()  # more of the server's options

    @property
    def kernel(self):
        return not self.mode


KERNEL = Config("kernel", "", "-")
# Priority of the baselines' engine thread: above every normal thread, as a
# device interrupt and its softirq are.
INTERRUPT_PRIORITY = "50"
# Eager is the BSD-order baseline: one shared input queue, protocol work on an
# engine thread of its own that runs at real-time priority whenever frames
# arrive, preempting the application as softirq does.
# Its application queue plus the application's batch (64) stays below the
# frames a socket may hold, so a full queue drops late after the work, as a
# full socket buffer does, rather than leaving frames in the ring.
EAGER = Config("lrp-eager", "eager", "dedicated",
               ("--engine-priority", INTERRUPT_PRIORITY, "--app-queue", "256"))
# The screend-like baseline: the same interrupt-priority input path feeding a
# deep application queue (screend's) with no feedback: once it is full, every
# further frame is worked on and then dropped.
SCREEND = Config("lrp-screend", "eager", "dedicated",
                 ("--engine-priority", INTERRUPT_PRIORITY, "--app-queue", "2048", "--held-cap",
                  "2560"))
STANDARD = [KERNEL, EAGER, Config("lrp-interrupt", "interrupt"), Config("lrp-poll", "poll"),
            Config("lrp-adaptive", "adaptive")]
LIVELOCK = STANDARD[:2] + [SCREEND] + STANDARD[2:]
THREADING = [KERNEL, EAGER] + [
    Config(f"lrp-{mode}-{threading}", mode, threading)
    for mode in ("interrupt", "poll", "adaptive") for threading in ("rtc", "dedicated")]


def rps_mask(placement):
    return 1 << SERVER_CPU if placement == "soft" else 0


def command(bin_dir, bench, config, placement, ports, work_ns=0, extra=(), metrics=False):
    """The command line that runs `config` in the server namespace."""
    common = ["--port", ",".join(str(p) for p in ports), "--cpu", str(SERVER_CPU),
              "--work-ns", str(work_ns), "--quiet", *extra]
    if config.kernel:
        return ns_exec(bench.srv) + [f"{bin_dir}/kernel-echo", *common]
    cmd = ns_exec(bench.srv) + [f"{bin_dir}/lrp-echo", "--iface", bench.sif, "--mode", config.mode,
                                "--threading", config.threading, *config.options, *common]
    if placement == "soft":
        cmd.append("--generic")
    if metrics:
        cmd += ["--metrics", METRICS_INNER]
    return cmd

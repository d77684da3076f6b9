"""The test bench: two private network namespaces joined by a veth pair,
addressed from 198.18.0.0/15, and the counters the harness reads from them.

The server namespace holds the interface under test; the client namespace
holds the load generators. Names carry the harness's process id, so runs do
not collide, and a run that died leaves names a later run recognises and
removes."""

import os
import re
import subprocess
import time

SERVER_ADDR = "198.18.0.1"
CLIENT_ADDR = "198.18.0.2"
PREFIX = "lrplab"
HZ = os.sysconf("SC_CLK_TCK")


def run(cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def ns_exec(ns):
    return ["ip", "netns", "exec", ns]


def remove_stale():
    """Removes namespaces of earlier runs whose harness is no longer alive."""
    for line in run(["ip", "netns", "list"], check=False).splitlines():
        m = re.match(rf"({PREFIX}(\d+)[sc])\b", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            run(["ip", "netns", "del", m.group(1)], check=False)


class Bench:
    def __init__(self):
        pid = os.getpid()
        self.srv, self.cli = f"{PREFIX}{pid}s", f"{PREFIX}{pid}c"
        self.sif, self.cif = f"lls{pid}", f"llc{pid}"
        self.up = False

    def setup(self):
        remove_stale()
        run(["ip", "netns", "add", self.srv])
        run(["ip", "netns", "add", self.cli])
        self.up = True
        run(["ip", "-n", self.srv, "link", "add", self.sif, "numtxqueues", "1", "numrxqueues", "1",
             "type", "veth", "peer", "name", self.cif, "netns", self.cli, "numtxqueues", "1",
             "numrxqueues", "1"])
        run(["ip", "-n", self.srv, "addr", "add", f"{SERVER_ADDR}/24", "dev", self.sif])
        run(["ip", "-n", self.cli, "addr", "add", f"{CLIENT_ADDR}/24", "dev", self.cif])
        for ns, dev in ((self.srv, self.sif), (self.cli, self.cif)):
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
        # Resolve the neighbours once, so no step pays for it.
        run(ns_exec(self.cli) + ["ping", "-c", "1", "-W", "1", SERVER_ADDR], check=False)

    def cleanup(self):
        if self.up:
            run(["ip", "netns", "del", self.srv], check=False)
            run(["ip", "netns", "del", self.cli], check=False)
            self.up = False

    def set_rps(self, cpus_mask):
        """Steers the server veth's receive processing (0: off)."""
        path = f"/sys/class/net/{self.sif}/queues/rx-0/rps_cpus"
        run(ns_exec(self.srv) + ["sh", "-c", f"echo {cpus_mask:x} > {path}"])

    def mac(self, ns, dev):
        return run(ns_exec(ns) + ["cat", f"/sys/class/net/{dev}/address"]).strip()

    def server_counters(self):
        """Interface and UDP counters of the server namespace, in one call."""
        stats = f"/sys/class/net/{self.sif}/statistics"
        out = run(ns_exec(self.srv) + ["sh", "-c", f"cat {stats}/rx_packets {stats}/rx_dropped; "
                                       "grep '^Udp:' /proc/net/snmp"])
        lines = out.splitlines()
        udp_names, udp_values = lines[2].split()[1:], lines[3].split()[1:]
        udp = dict(zip(udp_names, (int(v) for v in udp_values)))
        return {"rx_packets": int(lines[0]), "rx_dropped": int(lines[1]),
                "udp_rcvbuf_errors": udp.get("RcvbufErrors", 0),
                "udp_in": udp.get("InDatagrams", 0)}


def cpu_sample(cpu):
    """(now, idle seconds so far) of one CPU, for cpu_busy_seconds. Busy is
    counted as the time not idle: /proc/stat's idle time is exact on a
    tickless kernel, while its busy fields are sampled at clock ticks and on
    a virtual machine were off by up to ten times when a server woke many
    times per tick."""
    now = time.monotonic()
    with open("/proc/stat") as f:
        for line in f:
            fields = line.split()
            if fields[0] == f"cpu{cpu}":
                return now, (int(fields[4]) + int(fields[5])) / HZ
    return now, 0.0


def cpu_busy_seconds(before, after):
    """Busy seconds of a CPU between two cpu_sample()s."""
    return max(0.0, (after[0] - before[0]) - (after[1] - before[1]))


def machine_description():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cpus = os.cpu_count()
    kernel = os.uname().release
    virt = run(["systemd-detect-virt"], check=False).strip() or "unknown"
    mem_kb = 0
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return (f"{cpus} x {model}, {mem_kb // 1024} MiB, kernel {kernel}, virtualisation {virt}; "
            "veth pair between two network namespaces")

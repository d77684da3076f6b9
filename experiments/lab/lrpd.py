"""lrpd in the server namespace: the daemon, its clients (lrp-echo --lrpd)
and what lrpctl says about its applications."""

import json
import os
import subprocess
import time

import servers
from bench import ns_exec
from procs import Server, spawn, stop


class Daemon:
    """lrpd on the bench's server interface, serving from the server core."""

    def __init__(self, lab, placement, mode="adaptive", nice=0):
        self.lab = lab
        self.socket = f"/tmp/lrplab{os.getpid()}.sock"
        cmd = ns_exec(lab.bench.srv) + ["nice", "-n", str(nice)] + [
            f"{lab.bin}/lrpd", "--iface", lab.bench.sif, "--socket", self.socket, "--cpus",
            str(servers.SERVER_CPU), "--mode", mode]
        if placement == "soft":
            cmd.append("--generic-xdp")
        lab.bench.set_rps(servers.rps_mask(placement))
        lab.log.write(f"--- start {' '.join(cmd)}\n")
        lab.log.flush()
        self.proc = spawn(cmd, lab.log)
        deadline = time.monotonic() + 5.0
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("lrpd did not start (see lab.log)")
            time.sleep(0.05)

    def client(self, name, ports, work_ns=0, weight=1, extra=(), nice=0):
        """An lrp-echo process attached to this lrpd, one application per port,
        at niceness `nice`."""
        cmd = ns_exec(self.lab.bench.srv) + ["nice", "-n", str(nice)] + [
            f"{self.lab.bin}/lrp-echo", "--lrpd", self.socket, "--port",
            ",".join(str(p) for p in ports), "--weight", str(weight), "--cpu",
            str(servers.SERVER_CPU), "--work-ns", str(work_ns), "--quiet", *extra]
        self.lab.log.write(f"--- start {' '.join(cmd)}\n")
        self.lab.log.flush()
        s = Server(cmd, self.lab.log, name)
        s.wait_ready()
        return s

    def apps(self):
        """lrpctl's view of every application, by name."""
        out = subprocess.run([f"{self.lab.bin}/lrpctl", "--socket", self.socket, "apps", "--json"],
                             check=True, capture_output=True, text=True).stdout
        return {a["name"]: a for a in json.loads(out)}

    def stop(self):
        stop(self.proc)
        if os.path.exists(self.socket):
            os.unlink(self.socket)

"""What every experiment shares: the run's context (where the programs are,
where the results go, the bench, the log), progress on the terminal, and a
server started in the right placement and stopped afterwards."""

import contextlib
import sys
import time

import servers
from procs import Server


class Lab:
    def __init__(self, bin_dir, out, quick, bench, log, metrics, only=None):
        self.bin, self.out, self.quick, self.only = bin_dir, out, quick, only
        self.bench, self.log, self.metrics = bench, log, metrics
        self.started = time.monotonic()
        self.total_steps = 0
        self.done_steps = 0

    def selected(self, configs):
        """The configurations this run measures (--only)."""
        return [c for c in configs if self.only is None
                or getattr(c, "name", c) in self.only]

    def plan(self, steps):
        self.total_steps = steps

    def progress(self, text):
        """One line per step, with how far the run is and how long is left."""
        self.done_steps += 1
        elapsed = time.monotonic() - self.started
        left = ""
        if self.total_steps and self.done_steps < self.total_steps:
            eta = elapsed / self.done_steps * (self.total_steps - self.done_steps)
            left = f", about {eta / 60:.1f} min left"
        print(f"[{self.done_steps}/{self.total_steps} {elapsed:5.0f}s{left}] {text}",
              file=sys.stderr, flush=True)
        self.log.write(f"--- {text}\n")
        self.log.flush()

    @contextlib.contextmanager
    def server(self, config, placement, ports, work_ns=0, extra=()):
        self.bench.set_rps(servers.rps_mask(placement))
        cmd = servers.command(self.bin, self.bench, config, placement, ports, work_ns, extra,
                              metrics=bool(self.metrics))
        self.log.write(f"--- start {' '.join(cmd)}\n")
        self.log.flush()
        s = Server(cmd, self.log, config.name)
        try:
            s.wait_ready()
            yield s
        finally:
            s.stop()

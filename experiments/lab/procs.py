"""Child processes of the harness: servers that report their counters on
SIGUSR1, and bounded client runs. Every child is registered, so an
interrupted run stops all of them before the namespaces go."""

import queue
import signal
import subprocess
import threading
import time

_children = []


def spawn(cmd, log, stdout=subprocess.DEVNULL):
    p = subprocess.Popen(cmd, stdout=stdout, stderr=log, text=True)
    _children.append(p)
    return p


def stop(p, timeout=5.0):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in _children:
        _children.remove(p)


def stop_all():
    for p in list(_children):
        stop(p, timeout=2.0)


def finish(p, timeout):
    """Waits for a bounded client run; stops it if it overstays."""
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p)
        out = p.stdout.read() if p.stdout else ""
    if p in _children:
        _children.remove(p)
    return out or ""


def parse_pairs(line):
    """key=value pairs of a program's report line, as numbers where they are."""
    out = {}
    for word in line.replace(";", " ").split():
        if "=" in word:
            k, v = word.split("=", 1)
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


class Server:
    """A server under test; its counters so far on demand."""

    def __init__(self, cmd, log, name):
        self.name = name
        self.proc = spawn(cmd, log, stdout=subprocess.PIPE)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self, seconds=0.8):
        time.sleep(seconds)
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.proc.returncode} at start "
                               "(see lab.log)")

    # Generous: on a machine busy with other work (CI running tests side by
    # side) a server pinned to a shared core can take seconds to answer.
    def report(self, timeout=10.0):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} died (status {self.proc.returncode}, see lab.log)")
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if "received=" in line:
                return parse_pairs(line)
        raise RuntimeError(f"{self.name} did not report its counters")

    def stop(self):
        stop(self.proc)

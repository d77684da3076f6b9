"""Time to attach and detach a UDP socket, as a program sees it: bind() and
close() of COUNT sockets on ports BASE.. one after the other (under lrp-run
a bind is when the library hands the socket to lrp, a close when it takes
it back). The first bind is reported apart: it also opens lrp (in process:
the engine; with lrpd: the connection and the application).

    python3 benchmarks/attach-time.py COUNT BASE

Last line: first-bind, median bind and median close, in microseconds."""
import socket
import statistics
import sys
import time


def timed(call):
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1000


def main(count, base):
    first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    first_us = timed(lambda: first.bind(("0.0.0.0", base)))
    binds, closes = [], []
    for port in range(base + 1, base + 1 + count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        binds.append(timed(lambda: s.bind(("0.0.0.0", port))))
        closes.append(timed(s.close))
    first.close()
    print(f"{first_us:.0f} {statistics.median(binds):.0f} {statistics.median(closes):.0f}")


main(int(sys.argv[1]), int(sys.argv[2]))

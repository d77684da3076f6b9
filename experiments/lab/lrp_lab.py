"""lrp-lab EXPERIMENT [--out DIR] [--quick] [--metrics HOST:PORT]

Runs one experiment on a veth pair between two namespaces it creates, with
the load generator on CPU 0 and the server under test on CPU 1, removes
everything afterwards (also on Ctrl-C and SIGTERM), writes results.csv, a
PNG plot and summary.md into DIR and prints the summary table."""

import argparse
import os
import shlex
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402
import crosstalk  # noqa: E402
import forwarding  # noqa: E402
import isolation  # noqa: E402
import livelock  # noqa: E402
import metrics_proxy  # noqa: E402
import plot  # noqa: E402
import procs  # noqa: E402
import report  # noqa: E402
import rtc_vs_dedicated  # noqa: E402
import servers  # noqa: E402
from harness import Lab  # noqa: E402

EXPERIMENTS = {
    "livelock": (livelock, lambda rows, path: plot.livelock(rows, path, livelock.mlfrr)),
    "crosstalk": (crosstalk, plot.crosstalk),
    "forwarding": (forwarding, plot.forwarding),
    "isolation": (isolation, plot.isolation),
    "rtc-vs-dedicated": (rtc_vs_dedicated, plot.rtc_vs_dedicated),
}


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def parse(argv):
    p = argparse.ArgumentParser(prog="lrp-lab", description=__doc__.split("\n\n")[1])
    p.add_argument("--bin", required=True, help=argparse.SUPPRESS)
    p.add_argument("experiment", choices=sorted(EXPERIMENTS))
    p.add_argument("--out", help="results directory (default: BUILD/lab-results/EXPERIMENT)")
    p.add_argument("--quick", action="store_true",
                   help="short version for CI: every configuration, fewer and shorter steps")
    p.add_argument("--only", metavar="CONFIG[,CONFIG...]",
                   help="run only these configurations (default: all)")
    p.add_argument("--metrics", metavar="HOST:PORT",
                   help="serve the lrp server's Prometheus metrics here while it runs")
    return p.parse_args(argv)


def check_environment(args):
    if os.geteuid() != 0:
        sys.exit("lrp-lab: needs root (network namespaces, XDP, real-time priority)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("lrp-lab: needs two CPUs (load generator on CPU 0, server on CPU 1)")
    for tool in ("lrp-echo", "kernel-echo", "lrp-flood", "lrp-burn", "lrpd", "lrpctl"):
        if not os.access(os.path.join(args.bin, tool), os.X_OK):
            sys.exit(f"lrp-lab: {args.bin}/{tool} is missing: build lrp first")
    for tool in ("sockperf", "trafgen", "ethtool", "ip"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "/usr/bin:/usr/sbin").split(":") + ["/usr/sbin"]):
            sys.exit(f"lrp-lab: {tool} is missing (scripts/install-deps.sh installs it)")


def main(argv):
    args = parse(argv[1:])
    check_environment(args)
    module, draw = EXPERIMENTS[args.experiment]
    default_out = os.path.join(os.path.dirname(os.path.abspath(args.bin)), "lab-results",
                               args.experiment)
    out = os.path.abspath(args.out or default_out)
    os.makedirs(out, exist_ok=True)
    command = "lrp-lab " + " ".join(shlex.quote(a) for a in argv[3:])
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    b = bench.Bench()
    started = time.monotonic()
    load_before = report.load_average()
    with open(os.path.join(out, "lab.log"), "w") as log:
        lab = Lab(args.bin, out, args.quick, b, log, args.metrics,
                  args.only.split(",") if args.only else None)
        listener = None
        try:
            b.setup()
            if args.metrics:
                listener = metrics_proxy.start(args.metrics, b.srv, servers.METRICS_INNER)
                print(f"lrp-lab: metrics of the lrp server under test at "
                      f"http://{args.metrics}/metrics", file=sys.stderr)
            lab.plan(module.steps(lab))
            print(f"lrp-lab: {args.experiment}{' (quick)' if args.quick else ''}: "
                  f"{lab.total_steps} steps, server on CPU {servers.SERVER_CPU}, load on CPU "
                  f"{servers.LOAD_CPU}; namespaces {b.srv} and {b.cli}", file=sys.stderr)
            rows = module.run(lab)
        except Interrupted as e:
            print(f"lrp-lab: interrupted by {e}; cleaning up", file=sys.stderr)
            return 130
        except (RuntimeError, OSError, ValueError) as e:
            print(f"lrp-lab: {e}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            procs.stop_all()
            b.cleanup()
            for scratch in ("trafgen.cfg",):
                if os.path.exists(os.path.join(out, scratch)):
                    os.unlink(os.path.join(out, scratch))
            if listener:
                listener.close()
    minutes = (time.monotonic() - started) / 60
    csv_path = os.path.join(out, "results.csv")
    png_path = os.path.join(out, f"{args.experiment}.png")
    report.write_csv(csv_path, rows)
    draw(rows, png_path)
    headers, table = module.summarise(rows)
    report.write_summary(os.path.join(out, "summary.md"), args.experiment, headers, table,
                         bench.machine_description(), command, png_path, args.quick, minutes,
                         load_before)
    print(report.text_table(headers, table))
    print(f"\nlrp-lab: results in {csv_path}\nlrp-lab: plot in {png_path}\n"
          f"lrp-lab: summary in {os.path.join(out, 'summary.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

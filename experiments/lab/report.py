"""The run's outputs: results.csv (one row per step), summary.md (the
summary table, the machine and the command) and the same table on the
terminal."""

import csv
import datetime
import os


def write_csv(path, rows):
    columns = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})


def markdown_table(headers, table):
    cell = lambda v: "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table]
    return "\n".join(lines)


def text_table(headers, table):
    cell = lambda v: "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
    rows = [headers] + [[cell(v) for v in row] for row in table]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    out = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def load_average():
    """The 1-, 5- and 15-minute load averages: how busy the machine was."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def write_summary(path, experiment, headers, table, machine, command, plot, quick, minutes,
                  load_before):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = [f"# lrp-lab {experiment}{' (quick)' if quick else ''}", "",
            f"- date: {now}, {minutes:.1f} minutes",
            f"- machine: {machine}",
            f"- load average (1/5/15 min): {load_before} before, {load_average()} after",
            f"- command: `{command}`",
            f"- plot: [{os.path.basename(plot)}]({os.path.basename(plot)})",
            f"- every step: [results.csv](results.csv)", "",
            markdown_table(headers, table), ""]
    with open(path, "w") as f:
        f.write("\n".join(text))

"""The PNG figure of each experiment, one panel per placement."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import servers  # noqa: E402

STYLE = {"kernel": ("black", "o"), "lrp-eager": ("tab:red", "s"),
         "lrp-screend": ("tab:orange", "P"), "kernel-2proc": ("gray", "o"),
         "lrpd-adaptive": ("tab:pink", "D"),
         "lrp-interrupt": ("tab:blue", "^"), "lrp-poll": ("tab:green", "v"),
         "lrp-adaptive": ("tab:purple", "D")}
TITLES = {"native": "native XDP: sending core demultiplexes (NI-LRP)",
          "soft": "generic XDP + RPS to the server core (SOFT-LRP)"}


def _series(rows, placement, config, **match):
    return [r for r in rows if r["placement"] == placement and r["config"] == config
            and all(r.get(k) == v for k, v in match.items())]


def _style(name):
    return STYLE.get(name, ("gray", "x"))


def livelock(rows, path, mlfrr):
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    for ax, placement in zip(axes, servers.PLACEMENTS):
        top, highest = 1, 1
        for c in servers.LIVELOCK:
            pts = sorted(_series(rows, placement, c.name), key=lambda r: r["offered_pps"])
            if not pts:
                continue
            x = [r["offered_pps"] / 1e3 for r in pts]
            y = [r["delivered_pps"] / 1e3 for r in pts]
            top, highest = max(top, max(x)), max(highest, max(y))
            color, marker = _style(c.name)
            m = mlfrr(pts) / 1e3
            ax.plot(x, y, marker=marker, color=color, label=f"{c.name} (MLFRR {m:.0f}k)")
            if m:
                ax.axhline(m, color=color, linestyle=":", linewidth=0.8)
        ax.plot([0, top], [0, top], color="gray", linestyle="--", linewidth=0.8,
                label="delivered = offered")
        ax.set_title(TITLES[placement], fontsize=10)
        ax.set_xlim(left=0)
        ax.set_ylim(0, highest * 1.3)
        ax.set_xlabel("offered load at the receiver (kpps)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("delivered to the application (kpps)")
    fig.suptitle("Receive livelock: delivered vs offered (dotted: each configuration's MLFRR)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def crosstalk(rows, path):
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows if r["scenario"] != "single-app"))
    fig, axes = plt.subplots(len(scenarios), 2, figsize=(13, 3.8 * len(scenarios)),
                             squeeze=False)
    for row, scenario in enumerate(scenarios):
        for col, placement in enumerate(servers.PLACEMENTS):
            ax = axes[row][col]
            names = list(dict.fromkeys(r["config"] for r in rows if r["scenario"] == scenario))
            for name in names:
                c = servers.Config(name)
                pts = sorted(_series(rows, placement, c.name, scenario=scenario),
                             key=lambda r: r["offered_pps"])
                pts = [r for r in pts if r["probe_p99_us"] is not None]
                if not pts:
                    continue
                x = [r["offered_pps"] / 1e3 for r in pts]
                color, marker = _style(c.name)
                worst = max(100 * (r["probe_loss"] or 0) for r in pts)
                ax.plot(x, [r["probe_p99_us"] for r in pts], marker=marker, color=color,
                        label=f"{c.name} p99 (victim loss up to {worst:.1f}%)")
                ax.plot(x, [r["probe_p50_us"] for r in pts], marker=marker, color=color,
                        linestyle=":", alpha=0.7)
            refs = [r["probe_p99_us"] for r in rows if r["scenario"] == "single-app"
                    and r["placement"] == placement and r["probe_p99_us"]]
            if refs:
                ax.axhline(min(refs), color="gray", linestyle="--", linewidth=0.8,
                           label="single-application p99")
            ax.set_yscale("log")
            ax.set_title(f"{scenario}: {TITLES[placement]}", fontsize=10)
            ax.set_ylabel("victim latency (us; solid p99, dotted p50)")
            ax.set_xlabel("flood to the other port, offered at the receiver (kpps)")
            ax.set_xlim(left=0)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle("Crosstalk: a quiet application's latency while another port is flooded "
                 "(served / too slow / never read)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def forwarding(rows, path):
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    metrics = [("max", "relayed_pps", "relayed at max load (kpps)", 1e3),
               ("paced", "jitter_avg_us", "average jitter (us)", 1),
               ("paced", "jitter_max_us", "maximum jitter (us)", 1)]
    for row, placement in enumerate(servers.PLACEMENTS):
        for col, (load_name, key, label, scale) in enumerate(metrics):
            ax = axes[row][col]
            for c in servers.STANDARD:
                pts = sorted(_series(rows, placement, c.name, load=load_name),
                             key=lambda r: r["background_threads"])
                pts = [r for r in pts if r.get(key) is not None]
                if not pts:
                    continue
                color, marker = _style(c.name)
                ax.plot([r["background_threads"] for r in pts], [r[key] / scale for r in pts],
                        marker=marker, color=color, label=c.name)
            ax.set_ylabel(label)
            ax.set_xticks(sorted({r["background_threads"] for r in rows}))
            ax.set_xlabel("CPU-bound background threads on the server core")
            ax.set_title(f"{placement}: {label}", fontsize=10)
            if key != "relayed_pps":
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle("UDP relay with background threads: throughput and transfer-time jitter")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


rtc_moderate_label = "beside a moderate flood"


def rtc_vs_dedicated(rows, path):
    fig, axes = plt.subplots(2, 2, figsize=(14, 8))
    names = [c.name for c in servers.THREADING]
    for col, placement in enumerate(servers.PLACEMENTS):
        pick = {(r["config"], r["load"]): r for r in rows if r["placement"] == placement}
        xs = range(len(names))
        colors = ["black" if n == "kernel" else "tab:red" if "eager" in n
                  else "tab:blue" if n.endswith("rtc") else "tab:orange" for n in names]
        thr = [pick.get((n, "max"), {}).get("delivered_pps", 0) / 1e3 for n in names]
        axes[0][col].bar(xs, thr, color=colors)
        axes[0][col].set_ylabel("delivered at max load (kpps)")
        axes[0][col].set_title(TITLES[placement], fontsize=10)
        width = 0.27
        bars = (("idle", "probe_p50_us", 0.35, "p50, idle"), ("idle", "probe_p99_us", 0.65,
                                                               "p99, idle"),
                ("moderate", "probe_p99_us", 1.0, f"p99, {rtc_moderate_label}"))
        for k, (load_name, key, shade, label) in enumerate(bars):
            values = [pick.get((n, load_name), {}).get(key) or 0 for n in names]
            axes[1][col].bar([x + (k - 1) * width for x in xs], values, width, color=colors,
                             alpha=shade, label=label)
        axes[1][col].set_ylabel("sockperf latency (us)")
        axes[1][col].set_yscale("log")
        axes[1][col].legend(fontsize=8)
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xticks(list(xs))
            ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
            ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Protocol work in the application thread (rtc, blue) vs a dedicated engine "
                 "thread (orange)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def isolation(rows, path):
    backends = list(dict.fromkeys(r["config"] for r in rows))
    phases = list(dict.fromkeys(r["phase"] for r in rows))
    fig, axes = plt.subplots(len(backends), len(servers.PLACEMENTS),
                             figsize=(13, 4 * len(backends)), squeeze=False)
    colors = {1: "tab:blue", 2: "tab:orange", 4: "tab:green"}
    for row, backend in enumerate(backends):
        for col, placement in enumerate(servers.PLACEMENTS):
            ax = axes[row][col]
            mine = [r for r in rows if r["config"] == backend and r["placement"] == placement]
            weights = sorted({r["weight"] for r in mine})
            width = 0.8 / max(1, len(weights))
            for k, w in enumerate(weights):
                values = [next((r["delivered_pps"] / 1e3 for r in mine
                                if r["phase"] == p and r["weight"] == w), 0) for p in phases]
                ax.bar([i + (k - (len(weights) - 1) / 2) * width for i in range(len(phases))],
                       values, width, color=colors.get(w, "gray"), label=f"weight {w}")
            ax.set_xticks(range(len(phases)))
            ax.set_xticklabels(phases)
            ax.set_ylabel("delivered to the process (kpps)")
            ax.set_title(f"{backend}: {TITLES[placement]}", fontsize=10)
            ax.grid(alpha=0.3, axis="y")
            ax.legend(fontsize=8)
    fig.suptitle("Isolation between processes: weights 1:2:4, every process flooded; "
                 "then the weight-2 process stalls")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

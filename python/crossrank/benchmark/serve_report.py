"""The report of ``crossrank bench-serve``: a table per server, the issue's targets, JSON and a plot."""

from __future__ import annotations

import json
from pathlib import Path

TARGET_CONCURRENCY, TARGET_POOL = 16, 100


def _run(server: dict, concurrency: int, pool: int) -> dict | None:
    return next((r for r in server.get("runs", []) if r["concurrency"] == concurrency and r["pool"] == pool), None)


def targets(report: dict) -> dict:
    """The issue's targets from REPORT (None where a run is missing): crossrank vs Infinity at C=16 and
    pool 100 (pairs/s ratio, p99 ratio), crossrank's best pairs/s as a share of in-process
    ``score_pairs``, and the pool-10 p99 under load over its unloaded p99."""
    servers = {s["name"]: s for s in report["servers"]}
    ours, theirs = servers.get("crossrank", {}), servers.get("infinity", {})
    a, b = _run(ours, TARGET_CONCURRENCY, TARGET_POOL), _run(theirs, TARGET_CONCURRENCY, TARGET_POOL)
    out = {"pairs_per_s_vs_infinity": None, "p99_vs_infinity": None, "share_of_inprocess": None,
           "mixed_p99_ratio": (ours.get("mixed") or {}).get("p99_ratio")}
    if a and b and b["pairs_per_s"] and a["p99_ms"] and b["p99_ms"]:
        out["pairs_per_s_vs_infinity"] = round(a["pairs_per_s"] / b["pairs_per_s"], 2)
        out["p99_vs_infinity"] = round(a["p99_ms"] / b["p99_ms"], 3)
    if ours.get("runs") and report.get("inprocess"):
        best = max(r["pairs_per_s"] for r in ours["runs"])
        out["share_of_inprocess"] = round(best / report["inprocess"]["pairs_per_s"], 3)
    return out


def _table(server: dict) -> list[str]:
    lines = [f"{server['name']} ({server['url']}, {server['kind']} requests)",
             "| C | pool | requests | errors | pairs/s | p50 ms | p95 ms | p99 ms | checked | max |diff| | client CPU |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in server["runs"]:
        lines.append(f"| {r['concurrency']} | {r['pool']} | {r['requests']} | {r['errors']} | {r['pairs_per_s']} | "
                     f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['checked']} | {r['max_abs_diff']:.2g} | "
                     f"{r['client_cpu_share']:.0%} |")
    mixed = server.get("mixed")
    if mixed:
        lines.append(f"pool-{mixed['small_pool']} p50/p99 alone {mixed['alone']['p50_ms']}/{mixed['alone']['p99_ms']} ms, "
                     f"under {mixed['background_concurrency']} pool-{mixed['large_pool']} clients "
                     f"{mixed['loaded']['p50_ms']}/{mixed['loaded']['p99_ms']} ms: p99 x{mixed['p99_ratio']}")
    return lines


def format_report(report: dict) -> str:
    """REPORT as text: in-process throughput, one table per server, unavailable servers, the targets."""
    lines = [f"bundle {report['bundle']}, precision {report.get('precision')}"]
    if report.get("inprocess"):
        ip = report["inprocess"]
        lines.append(f"in-process score_pairs: {ip['pairs_per_s']} pairs/s (pool {ip['pool']}, {ip['calls']} calls)")
    for server in report["servers"]:
        lines += [""] + ([f"{server['name']}: unavailable: {server['unavailable']}"] if "unavailable" in server
                         else _table(server))
    t = targets(report)
    lines += ["", f"targets: crossrank/infinity pairs/s at C={TARGET_CONCURRENCY}, pool {TARGET_POOL}: "
                  f"{t['pairs_per_s_vs_infinity']} (>= 3); p99 ratio {t['p99_vs_infinity']} (<= 0.333); "
                  f"best server pairs/s / in-process {t['share_of_inprocess']} (>= 0.9); "
                  f"pool-10 p99 loaded/alone {t['mixed_p99_ratio']} (<= 3)"]
    return "\n".join(lines)


def save_json(report: dict, path: Path) -> None:
    """Write REPORT, with its targets, as JSON."""
    Path(path).write_text(json.dumps({**report, "targets": targets(report)}, indent=2) + "\n")


def require_matplotlib() -> None:
    """``ImportError`` saying how to get matplotlib: checked before a run that ends with ``--plot``."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(f"--plot needs matplotlib: pip install matplotlib ({error})") from None


def plot_report(report: dict, path: Path) -> None:
    """Pairs/s and p99 latency vs concurrency, one line per (server, pool); needs matplotlib."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for server in report["servers"]:
        for pool in sorted({r["pool"] for r in server.get("runs", [])}):
            runs = [r for r in server["runs"] if r["pool"] == pool]
            xs = [r["concurrency"] for r in runs]
            left.plot(xs, [r["pairs_per_s"] for r in runs], marker="o", label=f"{server['name']}, pool {pool}")
            right.plot(xs, [r["p99_ms"] for r in runs], marker="o", label=f"{server['name']}, pool {pool}")
    if report.get("inprocess"):
        left.axhline(report["inprocess"]["pairs_per_s"], color="grey", linestyle="--",
                     label=f"in-process score_pairs, pool {report['inprocess']['pool']}")
    levels = sorted({r["concurrency"] for s in report["servers"] for r in s.get("runs", [])})
    for axis, label in ((left, "pairs/s"), (right, "p99 latency (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(levels, [str(c) for c in levels])
        axis.set_xlabel("concurrent clients")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

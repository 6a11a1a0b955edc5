"""What a benchmark run leaves: the terminal table, crossrank's speedups, the plot and the JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from crossrank.benchmark.timing import Measurement, percent


def speedups(results: Sequence[Measurement], engine: str = "crossrank-int8") -> list[dict]:
    """Per pool: ENGINE's median-latency speedup over sentence-transformers PyTorch and over the
    fastest other non-crossrank engine in RESULTS (None where that engine was not run)."""
    by = {(r.engine, r.pool): r for r in results}
    out = []
    for pool in sorted({r.pool for r in results if r.engine == engine}):
        ours = by[(engine, pool)].median_s
        others = [r for r in results if r.pool == pool and not r.engine.startswith("crossrank")]
        fastest = min(others, key=lambda r: r.median_s, default=None)
        st = by.get(("st-torch", pool))
        out.append({"pool": pool, "vs_st_torch": st.median_s / ours if st else None,
                    "fastest_peer": fastest.engine if fastest else None,
                    "vs_fastest_peer": fastest.median_s / ours if fastest else None})
    return out


def format_table(results: Sequence[Measurement]) -> str:
    """The terminal table: one line per engine and pool, then crossrank-int8's speedups."""
    lines = [f"{'engine':<16} {'pool':>5} {'median ms':>10} {'min ms':>9} {'max ms':>9} {'pairs/s':>8} "
             f"{'tokens/s':>9} {'padding':>8} {'GOP/s':>7} {'% GEMM':>7} {'model MB':>9} {'call MB':>8}"]
    lines += [_table_row(r) for r in results]
    rates = {r.pool: r.gemm_gops for r in results if r.gemm_gops}
    if rates:
        lines.append("int8 GEMM rate (ONNX Runtime MatMulInteger, same threads) while each pool was timed: "
                     + ", ".join(f"pool {pool} {rate:.0f}" for pool, rate in rates.items()) + " GOP/s")
    lines += _speedup_lines(results)
    return "\n".join(lines)


def _table_row(r: Measurement) -> str:
    model = f"{r.model_mb:.0f}" if r.model_mb is not None else "-"
    call = f"{r.scoring_mb:.0f}" if r.scoring_mb is not None else "-"
    return (f"{r.engine:<16} {r.pool:>5} {r.median_s * 1e3:>10.1f} {r.min_s * 1e3:>9.1f} "
            f"{r.max_s * 1e3:>9.1f} {r.pairs_per_s:>8.1f} {r.tokens_per_s:>9.0f} "
            f"{percent(r.padding_fraction):>8} {r.useful_gops:>7.1f} {percent(r.gemm_fraction):>7} "
            f"{model:>9} {call:>8}")


def _speedup_lines(results: Sequence[Measurement]) -> list[str]:
    lines = []
    for s in speedups(results):
        parts = [f"crossrank-int8 at pool {s['pool']}:"]
        if s["vs_st_torch"]:
            parts.append(f"{s['vs_st_torch']:.2f}x st-torch")
        if s["vs_fastest_peer"]:
            parts.append(f"{s['vs_fastest_peer']:.2f}x the fastest peer ({s['fastest_peer']})")
        if len(parts) > 1:
            lines.append(" ".join(parts))
    return lines


def plot(results: Sequence[Measurement], path: str | Path, title: str = "") -> None:
    """PNG of median latency vs pool size, log-log, one line per engine (needs matplotlib).

    Raises:
        ImportError: when matplotlib is not installed.
    """
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for engine in dict.fromkeys(r.engine for r in results):
        rows = [r for r in results if r.engine == engine]
        ax.plot([r.pool for r in rows], [r.median_s * 1e3 for r in rows], marker="o", label=engine,
                linewidth=2.5 if engine.startswith("crossrank") else 1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Label the measured pool sizes in plain numbers rather than powers of ten.
    ax.set_xticks(sorted({r.pool for r in results}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("pool size (pairs scored for one query)")
    ax.set_ylabel("median latency (ms)")
    ax.set_title(title or "cross-encoder reranking latency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_json(results: list[Measurement], path: str | Path, meta: dict) -> None:
    """Write META, every row and crossrank-int8's speedups to PATH as JSON."""
    Path(path).write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results],
                                      "speedups": speedups(results)}, indent=2))

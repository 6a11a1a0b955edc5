"""Latency per pool size: crossrank against the engines users would otherwise pick.

Each engine scores one query against N candidate passages; after a warm-up call, every pool
size is timed ``repeats`` times, the engines' calls interleaved so that drift in the machine's
speed hits them alike (``run``). Every row carries median / min / max latency, pairs/s, real
tokens/s, padding waste, memory (what the engine keeps resident, and what one call adds on top),
and useful GOP/s: the arithmetic the model needs for the real
tokens (2 x linear parameters x tokens, plus 4·L²·hidden per layer and pair for attention),
divided by the latency. Set against the machine's int8 GEMM rate (``crossrank.gemm_rate``) it says
how far each engine is from what the multipliers can do.

Engines: ``crossrank-int8/fp32`` (this package), ``ort-naive-int8/fp32`` (tokenizers +
onnxruntime, batches of 32 in arrival order: what most users write) and the optional peers of
``crossrank.peers`` (sentence-transformers, FlashRank, FastEmbed).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from crossrank import peers
from crossrank.bundle import Bundle
from crossrank.gemm_rate import Int8GemmProbe

ScoreFn = Callable[[str, list[str]], object]
PaddingFn = Callable[[list[int]], "float | None"]
"""Share of executed tokens that were padding in the last call, given the pool's pair lengths."""


@dataclass
class Measurement:
    engine: str
    pool: int
    median_s: float
    min_s: float
    max_s: float
    pairs_per_s: float
    padding_fraction: float | None = None
    real_tokens: int = 0
    tokens_per_s: float = 0.0
    useful_gops: float = 0.0  # useful giga-operations per second at the median latency
    gemm_fraction: float | None = None  # useful_gops / gemm_gops
    gemm_gops: float | None = None  # the machine's int8 GEMM rate, measured while this pool was timed
    model_mb: float | None = None  # resident memory the engine added when it loaded and warmed up
    scoring_mb: float | None = None  # peak resident memory a call added on top of what was resident


@dataclass(frozen=True)
class EncoderShape:
    """What the arithmetic of one pair depends on, read from the ONNX graph."""

    layers: int
    hidden: int
    linear_params: int  # weights applied to every token (attention projections + feed-forward)

    def operations(self, lengths: Sequence[int]) -> float:
        """Useful operations (multiply and add counted apart) to score pairs of these lengths."""
        return sum(2.0 * self.linear_params * n + 4.0 * n * n * self.hidden * self.layers for n in lengths)


def encoder_shape(model_path: str | Path) -> EncoderShape:
    """Layers, width and per-token linear parameters of a BERT-style ONNX graph (fused or not).

    Per-token weights are the 2-D initializers fed to MatMul / Attention nodes; Gemm nodes (pooler,
    classifier) run once per pair and are left out. Width is the word embedding's; layers are the
    fused Attention nodes, or the Softmax nodes of an unfused graph.
    """
    import onnx

    graph = onnx.load(str(model_path)).graph
    dims = {init.name: tuple(init.dims) for init in graph.initializer}
    linear = layers = softmaxes = 0
    hidden = 0
    for node in graph.node:
        weight = dims.get(node.input[1]) if len(node.input) > 1 else None
        if node.op_type in ("MatMul", "Attention") and weight is not None and len(weight) == 2:
            linear += weight[0] * weight[1]
        layers += node.op_type == "Attention"
        softmaxes += node.op_type == "Softmax"
        table = dims.get(node.input[0]) if node.op_type == "Gather" else None
        if table is not None and len(table) == 2 and table[0] > 1000:  # the vocabulary table
            hidden = table[1]
    if not hidden or not linear:
        raise ValueError(f"{model_path}: cannot find the embedding width or linear layers of an encoder")
    return EncoderShape(layers=layers or softmaxes, hidden=hidden, linear_params=linear)


def pair_lengths(bundle: Bundle, query: str, docs: Sequence[str], *, truncate: bool = True) -> list[int]:
    """Tokens of each (query, doc) pair with special tokens, truncated to the bundle's max_length
    as the Python peers do (longest first; TRUNCATE=False: as written)."""
    from tokenizers import Tokenizer as HFTokenizer

    tokenizer = HFTokenizer.from_file(str(bundle.tokenizer_file))
    if truncate:
        tokenizer.enable_truncation(bundle.max_length, strategy="longest_first")
    else:
        tokenizer.no_truncation()
    tokenizer.no_padding()
    return [len(e.ids) for e in tokenizer.encode_batch([(query, doc) for doc in docs])]


def length_summary(lengths: Sequence[int]) -> dict[str, float]:
    """min / median / p90 (nearest rank) / max of pair lengths in tokens."""
    ordered = sorted(lengths)
    return {"min": ordered[0], "median": statistics.median(ordered),
            "p90": ordered[math.ceil(0.9 * len(ordered)) - 1], "max": ordered[-1]}


def crossrank_engine(bundle: Bundle, precision: str, threads: int) -> tuple[ScoreFn, PaddingFn]:
    from crossrank.reranker import Reranker, TruncationWarning

    reranker = Reranker(bundle, precision=precision, threads=threads)

    def score(query: str, docs: list[str]) -> object:
        # Over-long pairs are truncated by every engine alike; the CLI reports them once.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            return reranker.score_pairs([(query, doc) for doc in docs], show_progress=False)

    return score, lambda _lengths: reranker.last_stats.padding_fraction


def ort_naive_engine(bundle: Bundle, precision: str, threads: int) -> tuple[ScoreFn, PaddingFn]:
    """What most users write: tokenizers + onnxruntime, batches of 32 in arrival order."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer as HFTokenizer

    tokenizer = HFTokenizer.from_file(str(bundle.tokenizer_file))
    tokenizer.enable_truncation(bundle.max_length, strategy="longest_first")
    tokenizer.enable_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(bundle.model_file(precision)), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}

    def score(query: str, docs: list[str]) -> object:
        out = []
        for start in range(0, len(docs), 32):
            encodings = tokenizer.encode_batch([(query, doc) for doc in docs[start:start + 32]])
            feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
            out.append(session.run(None, feed)[0])
        return np.concatenate(out)

    return score, lambda lengths: peers.padding_share(lengths, 32)


ENGINES: dict[str, Callable[[Bundle, int], tuple[ScoreFn, PaddingFn]]] = {
    "crossrank-int8": lambda b, t: crossrank_engine(b, "int8", t),
    "crossrank-fp32": lambda b, t: crossrank_engine(b, "fp32", t),
    "ort-naive-int8": lambda b, t: ort_naive_engine(b, "int8", t),
    "ort-naive-fp32": lambda b, t: ort_naive_engine(b, "fp32", t),
    **peers.PEERS,
}

# Names accepted on the command line for a group of engines.
ALIASES = {
    "crossrank": ["crossrank-int8", "crossrank-fp32"],
    "ort-naive": ["ort-naive-int8", "ort-naive-fp32"],
    "peers": list(peers.PEERS),
    "all": list(ENGINES),
}


def expand_engines(names: Sequence[str]) -> list[str]:
    """Engine names with aliases expanded, duplicates dropped, order kept; raises ValueError on
    an unknown name."""
    out: list[str] = []
    for name in names:
        for engine in ALIASES.get(name, [name]):
            if engine not in ENGINES:
                raise ValueError(f"unknown engine {engine!r}; choose from {sorted(ENGINES)} "
                                 f"or the groups {sorted(ALIASES)}")
            if engine not in out:
                out.append(engine)
    return out


def _reset_peak_rss() -> None:
    # Linux resets VmHWM (the peak RSS) to the current RSS on writing 5 to clear_refs.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _rss_mb(field: str) -> float | None:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process in MiB; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# Pause before each timed call so the previous engine's spinning worker threads (ONNX Runtime's
# pool, PyTorch's OpenMP) have gone to sleep and do not steal cycles from the next one.
_SETTLE_S = 0.05


def run(bundle: Bundle, engines: Sequence[str], pools: Sequence[int], query: str, docs: Sequence[str], *,
        repeats: int = 3, threads: int | None = None, gemm: Int8GemmProbe | None = None,
        log: Callable[[str], None] = print) -> list[Measurement]:
    """Time every engine at every pool size on QUERY and the first POOL of DOCS; one row per pair.

    All engines are loaded first and their timed calls interleaved: each repetition runs every
    engine once, in an order rotated by one per repetition. A machine whose speed drifts (shared
    cores, turbo) then slows every engine alike, so the ratios between engines hold even when the
    absolute latencies move. Engines whose package is missing or that cannot load the model are
    skipped with the reason logged. GEMM, a probe of the machine's int8 GEMM rate, is measured
    once per repetition alongside the engines; each row's ``gemm_fraction`` is set against the
    median rate measured while its pool was timed.
    """
    from crossrank._system import physical_core_count

    names = expand_engines(engines)
    threads = threads or physical_core_count()
    docs = list(docs)
    lengths = pair_lengths(bundle, query, docs)
    shape = encoder_shape(bundle.model_file("fp32") if "fp32" in bundle.model_files else bundle.model_file("int8"))
    loaded: dict[str, tuple[ScoreFn, PaddingFn]] = {}
    model_mb: dict[str, float | None] = {}
    for name in names:
        log(f"{name}: loading")
        before = _rss_mb("VmRSS")
        try:
            loaded[name] = ENGINES[name](bundle, threads)
        except ImportError as error:
            log(f"{name}: skipped, a package is missing ({error})")
            continue
        except Exception as error:  # noqa: BLE001
            if name not in peers.PEERS:
                raise
            # Third-party loaders fail in many ways (missing files, export errors, version clashes):
            # a peer that cannot load is reported, never the end of the run.
            log(f"{name}: skipped, cannot load the model ({type(error).__name__}: {error})")
            continue
        loaded[name][0](query, docs[: min(pools)])  # warm-up: first run allocates and plans
        after = _rss_mb("VmRSS")
        model_mb[name] = after - before if before is not None and after is not None else None

    results = []
    for pool in pools:
        times: dict[str, list[float]] = {name: [] for name in loaded}
        rates: list[float] = []
        scoring_mb: dict[str, float | None] = dict.fromkeys(loaded)
        order = list(loaded)
        started = time.perf_counter()
        for repeat in range(repeats):
            if repeat:  # a pool of 1000 takes minutes per repetition over all engines: show progress
                log(f"pool {pool}: repetition {repeat + 1}/{repeats} ({time.perf_counter() - started:.0f} s so far)")
            shift = repeat % len(order) if order else 0
            for name in order[shift:] + order[:shift]:
                time.sleep(_SETTLE_S)
                resident = _rss_mb("VmRSS")
                _reset_peak_rss()
                start = time.perf_counter()
                loaded[name][0](query, docs[:pool])
                times[name].append(time.perf_counter() - start)
                peak = _rss_mb("VmHWM")
                if resident is not None and peak is not None:
                    scoring_mb[name] = max(scoring_mb[name] or 0.0, peak - resident)
            if gemm is not None:
                time.sleep(_SETTLE_S)
                rates.append(gemm.measure())
        gemm_gops = statistics.median(rates) if rates else None
        if gemm_gops:
            log(f"pool {pool}: int8 GEMM rate {gemm_gops:.0f} GOP/s (median of {len(rates)}, measured between "
                "the engines' calls)")
        real = sum(lengths[:pool])
        ops = shape.operations(lengths[:pool])
        for name in order:
            median = statistics.median(times[name])
            gops = ops / median / 1e9
            row = Measurement(name, pool, median, min(times[name]), max(times[name]), pool / median,
                              loaded[name][1](lengths[:pool]), real, real / median, gops,
                              gops / gemm_gops if gemm_gops else None, gemm_gops, model_mb[name],
                              scoring_mb[name])
            log(f"{name:>16}  pool {pool:>5}  median {median * 1e3:9.1f} ms  {row.pairs_per_s:8.1f} pairs/s"
                f"  padding {_percent(row.padding_fraction):>6}  {gops:6.1f} GOP/s"
                + (f" ({row.gemm_fraction:5.1%} of int8 GEMM)" if gemm_gops else ""))
            results.append(row)
    return results


def _percent(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "-"


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
    for r in results:
        model = f"{r.model_mb:.0f}" if r.model_mb is not None else "-"
        call = f"{r.scoring_mb:.0f}" if r.scoring_mb is not None else "-"
        lines.append(f"{r.engine:<16} {r.pool:>5} {r.median_s * 1e3:>10.1f} {r.min_s * 1e3:>9.1f} "
                     f"{r.max_s * 1e3:>9.1f} {r.pairs_per_s:>8.1f} {r.tokens_per_s:>9.0f} "
                     f"{_percent(r.padding_fraction):>8} {r.useful_gops:>7.1f} {_percent(r.gemm_fraction):>7} "
                     f"{model:>9} {call:>8}")
    rates = {r.pool: r.gemm_gops for r in results if r.gemm_gops}
    if rates:
        lines.append("int8 GEMM rate (ONNX Runtime MatMulInteger, same threads) while each pool was timed: "
                     + ", ".join(f"pool {pool} {rate:.0f}" for pool, rate in rates.items()) + " GOP/s")
    for s in speedups(results):
        parts = [f"crossrank-int8 at pool {s['pool']}:"]
        if s["vs_st_torch"]:
            parts.append(f"{s['vs_st_torch']:.2f}x st-torch")
        if s["vs_fastest_peer"]:
            parts.append(f"{s['vs_fastest_peer']:.2f}x the fastest peer ({s['fastest_peer']})")
        if len(parts) > 1:
            lines.append(" ".join(parts))
    return "\n".join(lines)


def machine_info(threads: int) -> dict:
    """CPU model and features, thread count, and versions of every package that was timed."""
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                cpu = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    versions = {}
    for dist in ("crossrank", "onnxruntime", "onnx", "tokenizers", "numpy", "torch", "transformers",
                 "sentence-transformers", "optimum", "optimum-onnx", "flashrank", "fastembed"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "threads": threads,
            "cpu_features": sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_tile"}),
            "system": platform.platform(), "python": platform.python_version(), "versions": versions}


def plot(results: Sequence[Measurement], path: str | Path, title: str = "") -> None:
    """PNG of median latency vs pool size, log-log, one line per engine (needs matplotlib)."""
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
    Path(path).write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results],
                                      "speedups": speedups(results)}, indent=2))

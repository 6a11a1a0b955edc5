#!/usr/bin/env python3
"""A bounded soak of one Reranker: several threads score, calls are cancelled mid-way, child
processes exit while their thread scores; every result is checked and RSS must stay flat.

    python scripts/soak.py [--bundle DIR] [--threads 4] [--minutes 5] [--json FILE]

- ``--threads`` Python threads call ``score_pairs`` on one shared ``Reranker`` with random subsets
  (4-64 pairs) of a fixed pool; each completed result must equal the reference scores (computed
  once, one pair per batch) within ``--atol``.
- A canceller calls ``Reranker.cancel()`` every ``--cancel-every`` seconds (randomized); the calls
  it stops must raise ``crossrank.Cancelled``, any other error fails the soak.
- One child process at a time loads the bundle, scores in a daemon thread and exits mid-call; it
  must exit with status 0 and no abort message (``terminate called``, ``FATAL``).
- RSS is sampled every second; its slope over the second half of the run (least squares, MB per
  minute) must stay under ``--max-rss-slope`` when that half is at least a minute long. (RSS grows
  by ~50 MB over the first 2-3 minutes while allocators and ONNX Runtime warm up, then stays flat.)

Stops after ``--minutes`` or ``--max-calls`` scoring calls, whichever comes first. Prints one
JSON line; exit status 1 when any check failed. Default bundle: the default model (built once).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from crossrank.default_model import default_model
from crossrank.reranker import Cancelled, Reranker, TruncationWarning

CHILD = """
import sys, threading, time
from crossrank.reranker import Reranker
r = Reranker(sys.argv[1], threads=1, max_batch_size=8)
pairs = [("soak query", " ".join(["word"] * 300))] * 5000
threading.Thread(target=r.score_pairs, args=(pairs,), daemon=True).start()
time.sleep(float(sys.argv[2]))
"""
ABORT_SIGNS = ("terminate called", "FATAL", "Aborted", "core dumped", "Segmentation fault")
WORDS = "cross encoder reranker query document passage retrieval neural search relevance score".split()


def make_pool(seed: int, count: int = 96) -> list[tuple[str, str]]:
    """Pairs of varied lengths (a few to 300 words: some are truncated at max_length=256)."""
    rng = random.Random(seed)
    return [(" ".join(rng.choices(WORDS, k=rng.randrange(1, 12))),
             " ".join(rng.choices(WORDS, k=rng.choice((0, 5, 20, 60, 300))))) for _ in range(count)]


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Soak:
    """The shared state: reranker, reference, stop flag, counters and failures."""

    def __init__(self, args: argparse.Namespace, bundle: Path):
        self.args = args
        self.bundle = bundle
        self.pool = make_pool(args.seed)
        # One pair per batch (the default): int8 activations are quantized per batch, so a score
        # depends on its batch mates; alone, every call must reproduce the reference exactly.
        self.reference = Reranker(bundle, threads=1, max_length=256).score_pairs(self.pool)
        self.reranker = Reranker(bundle, threads=args.engine_threads, max_length=256)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = dict(calls=0, pairs=0, cancelled=0, cancel_calls=0, children=0, max_abs_diff=0.0)
        self.failures: list[str] = []
        self.rss: list[tuple[float, float]] = []

    def fail(self, message: str) -> None:
        with self.lock:
            if len(self.failures) < 10:
                self.failures.append(message)
        self.stop.set()

    def add(self, **counts) -> None:
        with self.lock:
            for key, value in counts.items():
                self.counts[key] = max(self.counts[key], value) if key == "max_abs_diff" else self.counts[key] + value
            if self.counts["calls"] >= self.args.max_calls:
                self.stop.set()

    def scorer(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            idx = [rng.randrange(len(self.pool)) for _ in range(rng.randrange(4, 65))]
            try:
                scores = self.reranker.score_pairs([self.pool[i] for i in idx])
            except Cancelled:
                self.add(cancelled=1)
                continue
            except Exception as e:  # noqa: BLE001 - any other error fails the soak
                self.fail(f"score_pairs raised {type(e).__name__}: {e}")
                return
            diff = float(np.max(np.abs(scores - self.reference[idx])))
            if diff > self.args.atol:
                self.fail(f"scores differ from the reference by {diff:.3g} (atol {self.args.atol})")
            self.add(calls=1, pairs=len(idx), max_abs_diff=diff)

    def canceller(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.wait(rng.uniform(0.5, 1.5) * self.args.cancel_every):
            self.reranker.cancel()
            self.add(cancel_calls=1)

    def children(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            delay = rng.uniform(0.5, 2.0)  # after loading: the daemon thread is mid-call at exit
            try:
                done = subprocess.run([sys.executable, "-c", CHILD, str(self.bundle), f"{delay:.2f}"],
                                      capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired:
                self.fail("a child that exits mid-call did not end within 120 s")
                return
            signs = [s for s in ABORT_SIGNS if s in done.stderr]
            if done.returncode != 0 or signs:
                self.fail(f"a child exiting mid-call ended with status {done.returncode}: {done.stderr[-500:]!r}")
            self.add(children=1)

    def sample_rss(self, start: float, deadline: float) -> None:
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.rss.append((time.monotonic() - start, rss_mb()))
            self.stop.wait(1.0)
        self.stop.set()


def rss_slope(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """(MB per minute over the second half of the run, seconds that fit spans)."""
    if len(samples) < 3:
        return 0.0, 0.0
    cut = samples[len(samples) // 2:]
    t, mb = np.array(cut).T
    if len(t) < 2 or t[-1] == t[0]:
        return 0.0, 0.0
    return float(np.polyfit(t, mb, 1)[0] * 60), float(t[-1] - t[0])


def run(args: argparse.Namespace, bundle: Path) -> dict:
    soak = Soak(args, bundle)
    start = time.monotonic()
    workers = [threading.Thread(target=soak.scorer, args=(args.seed + i,)) for i in range(args.threads)]
    workers += [threading.Thread(target=soak.canceller, args=(args.seed - 1,)),
                threading.Thread(target=soak.children, args=(args.seed - 2,))]
    for w in workers:
        w.start()
    soak.sample_rss(start, start + args.minutes * 60)
    for w in workers:
        w.join()
    slope, span = rss_slope(soak.rss)
    if span >= 60 and slope > args.max_rss_slope:
        soak.failures.append(f"RSS grows {slope:.2f} MB/min over {span:.0f} s (limit {args.max_rss_slope})")
    return dict(seconds=round(time.monotonic() - start, 1), threads=args.threads, **soak.counts,
                rss_start_mb=round(soak.rss[0][1], 1), rss_end_mb=round(soak.rss[-1][1], 1),
                rss_slope_mb_per_min=round(slope, 3), rss_fit_seconds=round(span),
                rss_each_minute_mb=[round(mb, 1) for t, mb in soak.rss if int(t) % 60 == 0], failures=soak.failures)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None, help="default: the default model")
    parser.add_argument("--threads", type=int, default=4, help="Python threads scoring (default 4)")
    parser.add_argument("--engine-threads", type=int, default=2, help="the Reranker's threads (default 2)")
    parser.add_argument("--minutes", type=float, default=5.0, help="time budget (default 5)")
    parser.add_argument("--max-calls", type=int, default=100_000, help="count budget (default 100,000)")
    parser.add_argument("--cancel-every", type=float, default=2.0, help="seconds between cancels (default 2)")
    parser.add_argument("--atol", type=float, default=0.0, help="score tolerance (default 0: exact)")
    parser.add_argument("--max-rss-slope", type=float, default=2.0, help="MB per minute (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    for name in ("threads", "engine_threads", "max_calls"):
        if getattr(args, name) < 1:
            parser.error(f"argument --{name.replace('_', '-')}: expected a positive integer")
    if not (args.minutes > 0 and args.cancel_every > 0):
        parser.error("--minutes and --cancel-every must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.simplefilter("ignore", TruncationWarning)  # the pool truncates on purpose
    bundle = args.bundle if args.bundle is not None else default_model(progress=False)
    report = run(args, bundle)
    line = json.dumps(report)
    print(line, flush=True)
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())

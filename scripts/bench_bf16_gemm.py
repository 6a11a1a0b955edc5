#!/usr/bin/env python3
"""GEMM rate of crossrank's bf16 kernel against ONNX Runtime's fp32 MatMul on MiniLM's shapes.

    python scripts/bench_bf16_gemm.py [--rows 256,512,1024,2048] [--threads 1,2] [--repeats 20] [--json OUT]

For each M in ROWS and each (K, N) in {384, 1536}²: C[M, N] = A[M, K] · B[K, N] with B constant.
crossrank's kernel: ``_native.testing.matmul_bf16_seconds`` (B packed once, untimed; threads take row
chunks, calls back to back). ONNX Runtime: a one-node MatMul graph with B as an initializer,
``intra_op_num_threads`` threads, ``session.run`` timed in Python. Each cell: the best of REPEATS
calls (GFLOP/s = 2·M·K·N / seconds). The kernel also needs a CPU with AVX512-BF16: elsewhere its
portable loops run and the figures are meaningless (the script says so). Run on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from crossrank import _native, _onnxruntime


def _ort_session(b: np.ndarray, threads: int):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["m", b.shape[0]])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["m", b.shape[1]])],
                              [numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _ort_seconds(a: np.ndarray, b: np.ndarray, threads: int, repeats: int) -> float:
    session = _ort_session(b, threads)
    session.run(None, {"a": a})
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, {"a": a})
        best = min(best, time.perf_counter() - t0)
    return best


def _ours_seconds(a: np.ndarray, b: np.ndarray, threads: int, repeats: int) -> float:
    _native.testing.matmul_bf16_seconds(a, b, 1, threads)  # warm-up
    return min(_native.testing.matmul_bf16_seconds(a, b, 1, threads) for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="256,512,1024,2048")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    _onnxruntime.ensure_loaded()
    if not _native.BF16_KERNELS:
        print("this CPU has no AVX512-BF16: the kernel runs its portable loops (not a speed figure)", file=sys.stderr)
    rng = np.random.default_rng(0)
    rows_list = [int(x) for x in args.rows.split(",")]
    results = []
    print(f"{'M':>5} {'K':>5} {'N':>5} {'thr':>3} {'bf16 GFLOP/s':>13} {'ORT fp32 GFLOP/s':>17} {'ratio':>6}")
    for threads in (int(x) for x in args.threads.split(",")):
        for rows in rows_list:
            for depth, columns in ((384, 384), (384, 1536), (1536, 384), (1536, 1536)):
                a = rng.normal(size=(rows, depth)).astype(np.float32)
                b = rng.normal(size=(depth, columns)).astype(np.float32)
                flops = 2.0 * rows * depth * columns
                ours = flops / _ours_seconds(a, b, threads, args.repeats) / 1e9
                ort_rate = flops / _ort_seconds(a, b, threads, args.repeats) / 1e9
                results.append({"m": rows, "k": depth, "n": columns, "threads": threads,
                                "bf16_gflops": round(ours, 1), "ort_fp32_gflops": round(ort_rate, 1)})
                print(f"{rows:>5} {depth:>5} {columns:>5} {threads:>3} {ours:>13.1f} {ort_rate:>17.1f} "
                      f"{ours / ort_rate:>6.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"bf16_kernels": _native.BF16_KERNELS, "results": results}, indent=2) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

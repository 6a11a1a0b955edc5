#!/usr/bin/env python3
"""GEMM rates of crossrank's kernels against ONNX Runtime's on MiniLM's shapes.

    python scripts/bench_gemm.py [--rows 256,512,1024,2048] [--threads 1,2] [--repeats 20] [--json OUT]

For each M in ROWS and each of MiniLM's GEMMs (K, N: attention output, QKV, FFN in, FFN out):
C[M, N] = A[M, K] · B[K, N] with B constant.
crossrank's kernels, ``_native.testing.matmul_seconds`` (B packed once, untimed; threads take row
chunks, calls back to back): ``int8_token`` (A quantized per row inside the call, int32 sums,
dequantized with the bias) and ``bf16``. ONNX Runtime: one-node graphs with B as an initializer,
``intra_op_num_threads`` threads, ``session.run`` timed in Python: ``MatMul`` fp32 and
``DynamicQuantizeMatMul`` (what dynamic int8 graphs run: A quantized per tensor inside the call, B
int8 per column). Each cell: the best of REPEATS timings of CALLS calls back to back (GOP/s =
2·M·K·N / seconds per call): one call at a time, the harness's thread start (crossrank) or
``session.run``'s own cost (ONNX Runtime) would be most of what is timed at small M. The kernels need
AVX512-VNNI / AVX512-BF16: elsewhere their portable loops run and the figures are meaningless (the
script says so). Run on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from crossrank import _native, _onnxruntime

SHAPES = ((384, 384), (384, 1152), (384, 1536), (1536, 384))  # out, QKV, FFN in, FFN out


def _ort_session(node, inputs, initializers, threads: int):
    import onnxruntime as ort
    from onnx import helper

    graph = helper.make_graph([node], "gemm", inputs, [helper.make_tensor_value_info("c", 1, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _ort_sessions(b: np.ndarray, threads: int) -> dict:
    """{name: session} for ONNX Runtime's fp32 MatMul and dynamic int8 DynamicQuantizeMatMul on B."""
    from onnx import TensorProto, helper, numpy_helper

    a = [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["m", b.shape[0]])]
    scale = np.abs(b).max(axis=0) / 127
    q = np.clip(np.rint(b / np.where(scale > 0, scale, 1)), -127, 127).astype(np.int8)
    return {
        "ort_fp32": _ort_session(helper.make_node("MatMul", ["a", "b"], ["c"]), a, [numpy_helper.from_array(b, "b")],
                                 threads),
        "ort_int8_dynamic": _ort_session(
            helper.make_node("DynamicQuantizeMatMul", ["a", "bq", "bs"], ["c"], domain="com.microsoft"), a,
            [numpy_helper.from_array(q, "bq"), numpy_helper.from_array(scale.astype(np.float32), "bs")], threads),
    }


CALLS = 10  # calls per timing


def _ort_seconds(session, a: np.ndarray, repeats: int) -> float:
    session.run(None, {"a": a})
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(CALLS):
            session.run(None, {"a": a})
        best = min(best, (time.perf_counter() - t0) / CALLS)
    return best


def _ours_seconds(a: np.ndarray, b: np.ndarray, threads: int, repeats: int, kernel: str) -> float:
    _native.testing.matmul_seconds(a, b, 1, threads, kernel)  # warm-up
    return min(_native.testing.matmul_seconds(a, b, CALLS, threads, kernel) for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="256,512,1024,2048")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    _onnxruntime.ensure_loaded()
    for flag, needs in (("INT8_TOKEN_KERNELS", "AVX512-VNNI"), ("BF16_KERNELS", "AVX512-BF16")):
        if not getattr(_native, flag):
            print(f"this CPU has no {needs}: that kernel runs its portable loops (not a speed figure)", file=sys.stderr)
    rng = np.random.default_rng(0)
    names = ("int8_token", "ort_int8_dynamic", "bf16", "ort_fp32")
    results = []
    print(f"{'M':>5} {'K':>5} {'N':>5} {'thr':>3} " + " ".join(f"{n:>16}" for n in names) + "   GOP/s")
    for threads in (int(x) for x in args.threads.split(",")):
        for rows in (int(x) for x in args.rows.split(",")):
            for depth, columns in SHAPES:
                a = rng.normal(size=(rows, depth)).astype(np.float32)
                b = rng.normal(scale=0.05, size=(depth, columns)).astype(np.float32)
                ops = 2.0 * rows * depth * columns
                sessions = _ort_sessions(b, threads)
                seconds = {"int8_token": _ours_seconds(a, b, threads, args.repeats, "int8_token"),
                           "ort_int8_dynamic": _ort_seconds(sessions["ort_int8_dynamic"], a, args.repeats),
                           "bf16": _ours_seconds(a, b, threads, args.repeats, "bf16"),
                           "ort_fp32": _ort_seconds(sessions["ort_fp32"], a, args.repeats)}
                rates = {n: round(ops / seconds[n] / 1e9, 1) for n in names}
                results.append({"m": rows, "k": depth, "n": columns, "threads": threads, "gops": rates})
                print(f"{rows:>5} {depth:>5} {columns:>5} {threads:>3} " + " ".join(f"{rates[n]:>16.1f}" for n in names),
                      flush=True)
    if args.json:
        flags = {"int8_token_kernels": _native.INT8_TOKEN_KERNELS, "bf16_kernels": _native.BF16_KERNELS}
        args.json.write_text(json.dumps({**flags, "results": results}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The machine's int8 GEMM rate: the ceiling every benchmark row is set against.

A one-node ONNX graph, ``MatMulInteger`` (uint8 activations x int8 weights -> int32), the
U8S8 product that dynamically quantized transformer graphs spend their time in, run by ONNX
Runtime on large matrices with the same thread count as the engines. No real model reaches this
rate (it has no padding, no small batches, no non-GEMM operators), so it is the limit.
"""

from __future__ import annotations

import time


class Int8GemmProbe:
    """``MatMulInteger`` on large matrices, built once and timed on demand, so that the ceiling
    can be measured again and again between the engines it is set against (``benchmark.run``
    does: the speed of a shared machine drifts, and a ceiling measured minutes earlier is not
    the ceiling of the moment).

    The weight matrix is a graph initializer (as in a quantized model) and the activation matrix
    an input; ONNX Runtime runs it with THREADS threads, as the engines are.
    """

    def __init__(self, threads: int, m: int = 4096, n: int = 4096, k: int = 1024) -> None:
        import numpy as np
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        rng = np.random.default_rng(0)
        weights = rng.integers(-128, 128, size=(k, n), dtype=np.int8)
        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
            "int8_gemm",
            [helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k])],
            [helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])],
            initializer=[numpy_helper.from_array(weights, "b")],
        )
        # IR 8 / opset 13: old enough for any ONNX Runtime this package supports.
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self._feed = {"a": rng.integers(0, 256, size=(m, k), dtype=np.uint8)}
        self._operations = 2.0 * m * n * k
        self._session.run(None, self._feed)  # warm-up: the first run allocates and packs the weights

    def measure(self, repeats: int = 3) -> float:
        """Giga-operations per second (2·M·N·K per product): the best of REPEATS timed runs, a
        ceiling rather than a typical value."""
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            self._session.run(None, self._feed)
            best = min(best, time.perf_counter() - start)
        return self._operations / best / 1e9


def int8_gemm_gops(threads: int, m: int = 4096, n: int = 4096, k: int = 1024, repeats: int = 5) -> float:
    """One measurement of Int8GemmProbe: giga-operations per second, best of REPEATS runs."""
    return Int8GemmProbe(threads, m, n, k).measure(repeats)

"""The machine a benchmark ran on, for its report: CPU, threads, system and package versions."""

from __future__ import annotations

import os
import platform

from crossrank._system import cpu_info, package_versions

# Every package whose version can change a row of the benchmark.
TIMED_PACKAGES = ("crossrank", "onnxruntime", "onnx", "tokenizers", "numpy", "torch", "transformers",
                  "sentence-transformers", "optimum", "optimum-onnx", "flashrank", "fastembed")


def machine_info(threads: int) -> dict:
    """CPU model and features, thread count, and versions of every package that was timed.

    Args:
        threads: the thread count the engines ran with.

    Returns:
        A JSON-ready dict: ``cpu``, ``logical_cpus``, ``threads``, ``cpu_features``, ``system``,
        ``python`` and ``versions`` (installed packages only).
    """
    cpu = cpu_info()
    versions = {name: version for name, version in package_versions(TIMED_PACKAGES).items() if version is not None}
    return {"cpu": cpu.model, "logical_cpus": os.cpu_count(), "threads": threads, "cpu_features": cpu.simd,
            "system": platform.platform(), "python": platform.python_version(), "versions": versions}

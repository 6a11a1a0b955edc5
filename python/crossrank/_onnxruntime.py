"""Find ONNX Runtime's shared library and bind the native core to it.

The ``onnxruntime`` wheel ships ``capi/libonnxruntime.so.1.<version>``; we load that file by
path without importing the onnxruntime Python package. ``CROSSRANK_ONNXRUNTIME_LIB`` points
crossrank at another build (a release archive, a system package, a GPU build).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from crossrank import _native

ENV_VAR = "CROSSRANK_ONNXRUNTIME_LIB"


def find_library() -> Path:
    """Path of the ONNX Runtime shared library crossrank will load."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"{ENV_VAR}={override} is not a file")
        return path
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("crossrank needs ONNX Runtime: pip install onnxruntime")
    capi = Path(next(iter(spec.submodule_search_locations))) / "capi"
    candidates = sorted(capi.glob("libonnxruntime.so*")) + sorted(capi.glob("libonnxruntime*.dylib"))
    candidates += sorted(capi.glob("onnxruntime.dll"))
    if not candidates:
        raise ImportError(f"no ONNX Runtime shared library in {capi}; set {ENV_VAR} to one")
    return candidates[0]


def ensure_loaded() -> None:
    """Load ONNX Runtime once per process (cheap after the first call)."""
    if not _native.onnxruntime_loaded():
        _native.load_onnxruntime(str(find_library()))

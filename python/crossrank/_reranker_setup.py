"""What the Reranker needs around the engine: its ONNX Runtime session (checksum verified meanwhile),
its thread counts capped at the CPUs, and its progress bar."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

from crossrank import _native
from crossrank._system import available_cpu_count
from crossrank._validation import BATCH_DEPENDENT_PRECISIONS
from crossrank.bundle import Bundle

# Above this many pairs a progress bar shows unless show_progress says otherwise.
PROGRESS_THRESHOLD = 10_000


def load_session(bundle: Bundle, precision: str, threads: int, verify: bool):
    """The ONNX Runtime session of BUNDLE's graph for PRECISION, its checksum verified meanwhile.

    The graph is hashed on a helper thread while ONNX Runtime (GIL released) loads it, so the
    check costs little wall time; a checksum mismatch wins over ONNX Runtime's own error.

    Raises:
        ValueError: naming the file, when it is corrupt or ONNX Runtime cannot load it.
    """
    path = bundle.runtime_model_file(precision)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crossrank-checksum") as pool:
        checked = pool.submit(bundle.verify_checksums, [path] if verify else [])
        try:
            return _native.OnnxSession(str(path), threads)
        except RuntimeError as error:
            raise ValueError(f"{error} (bundle file {path}: a corrupt or unsupported graph; export the "
                             "bundle again)") from None
        finally:
            checked.result()


def cap_at_available_cpus(threads: int, concurrent_batches: int) -> tuple[int, int]:
    """threads and concurrent_batches clipped to the CPUs this process may use, with a warning:
    more only adds OS threads that take turns on the same cores."""
    cpus = available_cpu_count()
    capped = []
    for name, value in (("threads", threads), ("concurrent_batches", concurrent_batches)):
        if isinstance(value, int) and value > cpus:
            warnings.warn(f"{name}={value} is more than the {cpus} CPUs this process may use; using {cpus}",
                          RuntimeWarning, stacklevel=3)
            value = cpus
        capped.append(value)
    return capped[0], capped[1]


def check_batching(precision: str, max_batch_size: int) -> int:
    """MAX_BATCH_SIZE, with a RuntimeWarning when PRECISION's scores depend on batch mates
    (BATCH_DEPENDENT_PRECISIONS: dynamic int8) and batches may hold more than one pair."""
    if max_batch_size > 1 and precision in BATCH_DEPENDENT_PRECISIONS:
        warnings.warn(
            f"max_batch_size={max_batch_size} with precision={precision!r}: dynamic int8 takes its activation "
            "scales over the whole batch, so a pair's score depends on its batch mates; use "
            "precision='int8_static' (if the bundle has it) or 'fp32' to batch exactly, or max_batch_size=1",
            RuntimeWarning, stacklevel=3)
    return max_batch_size


def progress_bar(total: int, show_progress: bool | None):
    if show_progress is None:
        show_progress = total >= PROGRESS_THRESHOLD
    if not show_progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="crossrank", unit="pair")

"""Checks of a freshly written bundle: both graphs against PyTorch, the engine graphs against
the standard graphs.

A bundle that fails the fp32 check is refused (a broken bundle is worse than none); an engine
graph that fails its check is dropped and the engine runs the standard graph.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from crossrank import _native
from crossrank.bundle import ENGINE_FILES, FP32_FILE, INT8_FILE, TOKENIZER_FILE, Bundle
from crossrank.export.engine_graph import write_engine_graph
from crossrank.export.fidelity import builtin_pools
from crossrank.export.onnx_scorer import unsupported_tokenizer
from crossrank.reranker import Reranker

# Fidelity threshold: the fused fp32 graph must reproduce PyTorch's logits to this much, or
# the export is refused (a broken bundle is worse than none). Typical: ~1e-6.
FP32_FAIL_THRESHOLD = 1e-3

# Pairs for the built-in fp32/int8 check: varied lengths, casing, punctuation, non-ASCII,
# an empty document, and one long enough to be truncated at small max_length.
VERIFICATION_PAIRS: tuple[tuple[str, str], ...] = (
    ("what is the capital of france", "Paris is the capital and most populous city of France."),
    ("what is the capital of france", "The Eiffel Tower was completed in 1889."),
    ("how do vaccines work?", ("Vaccines train the immune system to recognise a pathogen "
     "by exposing it to a harmless piece or weakened form of it.")),
    ("Python GIL", ("The global interpreter lock (GIL) is a mutex that protects access to "
     "Python objects, preventing multiple threads from executing Python bytecodes at once.")),
    ("café crème recipe", ("Crème brûlée — a rich custard base topped with caramelised sugar; "
     "naïve cooks über-torch it. 日本語のテキストも少し。")),
    ("empty document", ""),
    ("", "A document scored against an empty query."),
    ("long document", " ".join(["The quick brown fox jumps over the lazy dog."] * 80)),
)


def _verification_tokenizer(bundle: Path, model, max_length: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bundle / TOKENIZER_FILE))
    tok.enable_truncation(max_length=max_length)
    pad_id = tok.token_to_id("[PAD]")
    if pad_id is None:
        pad_id = int(getattr(model.config, "pad_token_id", 0) or 0)
    tok.enable_padding(pad_id=pad_id)
    return tok


def _logits_per_graph(model, bundle: Path, tok, groups: list[list[tuple[str, str]]]):
    """(PyTorch logits, {"fp32": logits, "int8": logits}) over the pair GROUPS, in order."""
    import onnxruntime as ort
    import torch

    so = ort.SessionOptions()
    so.intra_op_num_threads = min(4, os.cpu_count() or 1)
    sessions = {key: ort.InferenceSession(str(bundle / fname), so, providers=["CPUExecutionProvider"])
                for key, fname in (("fp32", FP32_FILE), ("int8", INT8_FILE))}
    accepted = set(model.forward.__code__.co_varnames)
    refs, outs = [], {"fp32": [], "int8": []}
    for group in (g for g in groups if g):
        enc = tok.encode_batch(group)
        feeds = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        with torch.inference_mode():
            ref = model(**{k: torch.from_numpy(v) for k, v in feeds.items() if k in accepted}).logits
        refs.append(ref.float().numpy())
        for key, sess in sessions.items():
            names = {i.name for i in sess.get_inputs()}
            outs[key].append(sess.run(["logits"], {k: v for k, v in feeds.items() if k in names})[0])
    return np.concatenate(refs), {k: np.concatenate(v) for k, v in outs.items()}


def verify_against_pytorch(model, bundle: Path, max_length: int) -> dict[str, Any]:
    """Compare the fused fp32 graph (and the int8 one) with the PyTorch MODEL on VERIFICATION_PAIRS.

    Returns:
        The manifest's "verification" entry (max |logit difference| of each graph).

    Raises:
        RuntimeError: the fp32 graph is further than FP32_FAIL_THRESHOLD from PyTorch.
    """
    tok = _verification_tokenizer(bundle, model, max_length)
    # Short pairs go in one padded batch (exercises the attention mask); long ones run alone so
    # padding to 512 does not multiply the cost of the check.
    lengths = [len(tok.encode(q, d).ids) for q, d in VERIFICATION_PAIRS]
    short = [p for p, n in zip(VERIFICATION_PAIRS, lengths) if n <= 128]
    groups = [short] + [[p] for p, n in zip(VERIFICATION_PAIRS, lengths) if n > 128]
    ref, graphs = _logits_per_graph(model, bundle, tok, groups)
    fp32, int8 = graphs["fp32"], graphs["int8"]
    out: dict[str, Any] = {
        "pairs": len(VERIFICATION_PAIRS),
        "tokens_max": int(max(min(n, max_length) for n in lengths)),
        "reference": "PyTorch fp32 (transformers), same tokenization",
        "fp32_max_abs_diff": float(np.max(np.abs(fp32 - ref))),
        "int8_max_abs_diff": float(np.max(np.abs(int8 - ref))),
        "int8_vs_fp32_max_abs_diff": float(np.max(np.abs(int8 - fp32))),
    }
    out["reference_logit_range"] = [float(ref.min()), float(ref.max())]
    if not out["fp32_max_abs_diff"] <= FP32_FAIL_THRESHOLD:
        raise RuntimeError(
            f"the fused fp32 graph disagrees with PyTorch by {out['fp32_max_abs_diff']:.3g} "
            f"(> {FP32_FAIL_THRESHOLD}); refusing to write a broken bundle"
        )
    return out


def fp32_vs_pytorch(verification: dict[str, Any] | None) -> dict[str, Any] | None:
    """What report.json keeps of the manifest's "verification" entry."""
    if not verification:
        return None
    return {"max_abs_diff": verification["fp32_max_abs_diff"], "pairs": verification["pairs"],
            "reference": verification["reference"]}


def _engine_logits(bundle: Bundle, precision: str, pairs: list[tuple[str, str]]) -> np.ndarray:
    with warnings.catch_warnings():
        # truncation of long pairs is the same for both graphs; dynamic int8 in batches is meant here
        warnings.simplefilter("ignore")
        reranker = Reranker(bundle, precision=precision, activation="none", max_batch_size=8)
        return np.asarray(reranker.score_pairs(pairs, show_progress=False), dtype=np.float64)


def _judge_engine_graph(entry: dict[str, Any], precision: str, ours: np.ndarray,
                        reference: dict[str, np.ndarray]) -> bool:
    """Whether the engine graph's logits OURS are close enough (see :func:`engine_graphs`)."""
    entry["max_abs_diff_vs_standard"] = float(np.abs(ours - reference[precision]).max())
    if precision == "fp32":
        return entry["max_abs_diff_vs_standard"] <= 1e-4
    fp32 = reference.get("fp32")
    if fp32 is None:
        return False
    for key, graph in (("", ours), ("standard_", reference[precision])):
        entry[f"{key}max_abs_diff_vs_fp32"] = float(np.abs(graph - fp32).max())
        entry[f"{key}mean_abs_diff_vs_fp32"] = float(np.abs(graph - fp32).mean())
    return entry["mean_abs_diff_vs_fp32"] <= 1.25 * entry["standard_mean_abs_diff_vs_fp32"] + 1e-4


def engine_graphs(bundle: Path, family_note: str | None = None) -> dict[str, Any]:
    """Writes the bundle's engine graphs and checks each through the engine against the standard
    graphs, on the verification pairs and two built-in pools, in padded batches of up to 8.

    fp32 must match its standard graph within 1e-4 (logits). int8 cannot match its standard graph
    that closely: dynamic quantization rounds each activation to a uint8 step, so the ~1e-7
    differences between two attention kernels flip a few roundings and the two graphs differ by
    int8 noise. It must be no further from fp32 on average than the standard int8 graph is
    (mean |logit difference| x 1.25, + 1e-4). A graph that fails is deleted and the reason
    recorded: the engine then runs the standard graph. So is a graph the engine cannot check
    because it does not read the bundle's tokenizer yet (``skipped``).

    Args:
        bundle: the bundle folder (graphs, tokenizer and a manifest the engine can read).
        family_note: why the family's graph does not fit crossrank's kernels whatever its shape
            (crossrank.export.families.Family.kernel_note), recorded with each entry.

    Returns:
        The manifest's "engine_graphs" entry: per precision, the file (None when dropped or none
        applies), the crossrank ops it got, why the rest stay on ONNX Runtime ("not_on_kernels"),
        and the checks.
    """
    standard = dataclasses.replace(Bundle.load(bundle), engine_files={})
    unreadable = unsupported_tokenizer(standard.tokenizer_file)
    pairs = list(VERIFICATION_PAIRS) + [(p.query, d) for p in builtin_pools(2, 30) for d in p.docs]
    precisions = [p for p in ENGINE_FILES if p in standard.model_files]
    reference = {} if unreadable else {p: _engine_logits(standard, p, pairs) for p in precisions}
    out: dict[str, Any] = {}
    for precision in precisions:
        name = ENGINE_FILES[precision]
        ops, misfits = write_engine_graph(bundle / standard.model_files[precision].name, bundle / name)
        entry: dict[str, Any] = {"file": name if any(ops.values()) else None, "crossrank_ops": ops}
        if misfits:
            entry["not_on_kernels"] = misfits
        if family_note:
            entry["family_note"] = family_note
        out[precision] = entry
        if entry["file"] is None:
            continue
        if unreadable:
            (bundle / name).unlink()
            entry["file"] = None
            entry["skipped"] = ("not checked, so not kept: crossrank's engine does not read this bundle's "
                                f"tokenizer yet (export again once it does): {unreadable}")
            continue
        ours = _engine_logits(dataclasses.replace(standard, engine_files={precision: bundle / name}),
                              precision, pairs)
        # Without AVX-512 the engine runs the standard graph: nothing was compared.
        entry.update(pairs=len(pairs), checked_on_this_cpu=_native.KERNELS == "avx512")
        if not _judge_engine_graph(entry, precision, ours, reference):
            (bundle / name).unlink()
            entry["file"] = None
            entry["rejected"] = "disagrees with the standard graph beyond the tolerance"
    return out

"""Tiny bundles of each family (family_models), built and exported once per test session and shared by
test_families.py and test_family_engine.py; skips cleanly where the export extra or a tokenizer
trainer is missing."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest
from family_models import make_family_model

from crossrank.default_model import minilm_encoder_dir
from crossrank.export.onnx_scorer import unsupported_tokenizer
from crossrank.export.pipeline import export_bundle

# family -> the tiny model of family_models.SHAPES its tests export
FAMILY_MODELS = {"xlm-roberta": "tiny-xlm-roberta", "modernbert": "tiny-modernbert", "electra": "tiny-electra"}
# What a family's tokenizer needs in crossrank's C++ core (the skip reason of the engine tests).
TOKENIZER_NEEDS = {"xlm-roberta": "needs the Unigram tokenizer", "modernbert": "needs the BPE tokenizer",
                   "electra": "needs the WordPiece tokenizer"}


def need_builders(name: str) -> None:
    """Skip unless the export extra (and, for XLM-R models, sentencepiece) is installed."""
    for module in ("torch", "transformers", "optimum", "onnx", "onnxruntime", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'crossrank[test]')")
    if "xlm-roberta" in name and importlib.util.find_spec("sentencepiece") is None:
        pytest.skip("sentencepiece is not installed (pip install 'crossrank[test]'); it trains the XLM-R tokenizer")


@functools.lru_cache(maxsize=None)
def _source(name: str, root: Path) -> Path:
    wordpiece = minilm_encoder_dir() if "electra" in name or "wordpiece" in name else None
    return make_family_model(name, root / "sources" / name, wordpiece_dir=wordpiece)


@functools.lru_cache(maxsize=None)
def _bundle(name: str, root: Path) -> Path:
    return export_bundle(_source(name, root), root / "bundles" / name, progress=False)


def family_source(name: str, tmp_path_factory) -> Path:
    """The Hugging Face folder of the tiny model NAME (a key of family_models.SHAPES)."""
    need_builders(name)
    return _source(name, tmp_path_factory.getbasetemp() / "families")


def family_bundle(name: str, tmp_path_factory) -> Path:
    """The bundle exported (with the fidelity report and gate) from family_source(NAME)."""
    need_builders(name)
    return _bundle(name, tmp_path_factory.getbasetemp() / "families")


def skip_unless_engine_reads(bundle: Path, family: str) -> None:
    """Skip while crossrank's tokenizer refuses BUNDLE's tokenizer.json as unsupported (the Unigram
    and BPE tokenizers land separately; these tests turn on by themselves once they do)."""
    reason = unsupported_tokenizer(bundle / "tokenizer.json")
    if reason:
        pytest.skip(f"{TOKENIZER_NEEDS[family]} in crossrank's core ({reason[:120]})")

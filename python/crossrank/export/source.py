"""The model to export: where it is, what it is, and what the bundle takes from it.

Resolving MODEL (a local Hugging Face folder or a Hub id), loading its config, checking that it
is a supported sequence-classification model, choosing the scored label and its activation, the
effective max_length, and writing its tokenizer.json into the bundle. torch and transformers are
imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank._validation import ACTIVATIONS, check_choice
from crossrank.bundle import TOKENIZER_FILE
from crossrank.export.families import Family, family_of, unsupported_model_error

EXPORT_INSTALL_HINT = (
    "pip install 'crossrank[export]'  (on a CPU-only x86 machine: "
    "pip install 'crossrank[export]' torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu)"
)

# Files a tokenizer.json can be built from (tokenizer_config.json alone is not enough).
_VOCABULARY_FILES = ("vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model",
                     "tokenizer.model", "tokenizer_config.json")


@dataclass(frozen=True)
class SourceModel:
    """A checked source model and what the bundle's manifest takes from it."""

    src: str  # local folder (absolute) or Hub id
    is_local: bool
    config: Any = field(repr=False)  # transformers' PretrainedConfig
    max_length: int
    score_index: int
    activation: str
    family: Family
    notes: tuple[str, ...] = ()


def require_export_deps() -> None:
    """Raise ImportError naming every missing package of the ``[export]`` extra and how to install it."""
    missing = []
    for name in ("torch", "transformers", "optimum.exporters.onnx", "onnx", "onnxruntime"):
        try:
            __import__(name)
        except ImportError as e:  # pragma: no cover - depends on the environment
            missing.append(f"{name} ({e})")
    if missing:
        raise ImportError(
            "exporting a crossrank bundle needs the export extra; missing: "
            + ", ".join(missing)
            + ". Install it with: "
            + EXPORT_INSTALL_HINT
        )


def _looks_like_path(s: str) -> bool:
    """True when MODEL was meant as a local path rather than a Hub id ('name' or 'org/name')."""
    return (
        os.path.isabs(s)
        or s.startswith(("~", "."))
        or "\\" in s
        or s.count("/") > 1
        or s.endswith("/")
    )


def resolve_source(model: str | Path) -> tuple[str, bool]:
    """Where MODEL is.

    Returns:
        (name_or_path, is_local): the absolute folder for a local model, else the Hub id.

    Raises:
        FileNotFoundError: a local path that does not exist, or a folder without config.json.
        NotADirectoryError: the path is a file.
    """
    s = os.fspath(model)
    p = Path(s).expanduser()
    if p.exists():
        if not p.is_dir():
            raise NotADirectoryError(f"model path {p} is a file; expected a Hugging Face model folder")
        if not (p / "config.json").is_file():
            raise FileNotFoundError(
                f"{p} has no config.json: expected a Hugging Face model folder "
                "(config.json, model.safetensors or pytorch_model.bin, tokenizer files)"
            )
        return str(p.resolve()), True
    if isinstance(model, Path) or _looks_like_path(s):
        raise FileNotFoundError(f"model folder not found: {p}")
    return s, False


def load_config(src: str, is_local: bool):
    """transformers' config of SRC; a Hub failure says the machine may be offline."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(src, local_files_only=is_local)
    except OSError as e:
        if is_local:
            raise
        raise OSError(
            f"could not load {src!r} from the Hugging Face Hub (is the machine offline? "
            f"pass a local model folder instead): {e}"
        ) from e


def load_model(src: str, is_local: bool, auto_class: Any) -> Any:
    """``auto_class.from_pretrained(SRC)`` in fp32 eval mode; a Hub failure says why."""
    try:
        model = auto_class.from_pretrained(src, local_files_only=is_local)
    except OSError as e:
        if is_local:
            raise
        raise OSError(f"could not load {src!r} from the Hugging Face Hub (offline?): {e}") from e
    return model.float().eval()


def _raw_config_dict(src: str, is_local: bool) -> dict[str, Any]:
    if is_local:
        with open(Path(src) / "config.json", encoding="utf-8") as f:
            return json.load(f)
    return {}


def check_classification(config, raw: dict[str, Any], src: str) -> Family:
    """The family of SRC; raise ValueError unless it is an encoder of a supported family with a
    classification head (decoder rerankers such as Qwen3-Reranker get an error of their own)."""
    model_type = getattr(config, "model_type", None)
    archs = list(getattr(config, "architectures", None) or [])
    family = family_of(model_type)
    if family is None:
        raise unsupported_model_error(src, model_type, archs)
    custom = (raw.get("auto_map") or {}).get("AutoModelForSequenceClassification")
    if custom:
        # transformers' own class would load it with other weight names, i.e. partly random.
        raise ValueError(
            f"{src}: config.json's auto_map names its own modeling code ({custom}), which crossrank does not "
            "run (it exports with transformers' own classes and loads no code from a model folder); "
            "export a checkpoint of the standard architecture instead")
    if archs:
        if not any(a.endswith("ForSequenceClassification") for a in archs):
            raise ValueError(
                f"{src}: architecture {', '.join(archs)} is not a sequence-classification model. "
                "A cross-encoder needs a *ForSequenceClassification head (e.g. "
                "BertForSequenceClassification). To put a new, untrained head on an encoder, load "
                "it with AutoModelForSequenceClassification.from_pretrained(path, num_labels=1), "
                "save_pretrained() it and export that folder (crossrank.default_model does this "
                "for MiniLM)."
            )
    elif not ("num_labels" in raw or "id2label" in raw):
        raise ValueError(
            f"{src}: config.json names no architecture and no labels (num_labels / id2label), so "
            "nothing says it is a sequence-classification model; set architectures to "
            "[\"...ForSequenceClassification\"] or give num_labels."
        )
    return family


def _default_score_index(config, notes: list[str]) -> int:
    n = int(config.num_labels)
    if n == 1:
        return 0
    if n == 2:
        return 1
    labels = {int(k): str(v).lower() for k, v in (config.id2label or {}).items()}
    hits = [i for i, v in labels.items() if any(w in v for w in ("relev", "pos", "entail"))]
    score_index = hits[0] if hits else n - 1
    notes.append(
        f"{n}-label model: scoring label {score_index} ({labels.get(score_index)!r}); "
        "pass score_index= to choose another"
    )
    return score_index


def _default_activation(n_labels: int, raw: dict[str, Any], notes: list[str]) -> str:
    st = raw.get("sentence_transformers") or {}
    fn = str(st.get("activation_fn") or "")
    if fn:
        tail = fn.rsplit(".", 1)[-1].lower()
        mapped = {"sigmoid": "sigmoid", "identity": "none", "softmax": "softmax"}.get(tail)
        if mapped:
            notes.append(f"activation {mapped!r} taken from the model's sentence-transformers "
                         f"config ({fn})")
            return mapped
    return "sigmoid" if n_labels == 1 else "softmax"


def score_and_activation(
    config, raw: dict[str, Any], activation: str | None, score_index: int | None
) -> tuple[int, str, list[str]]:
    """The scored label and its activation, from the arguments or else the labels.

    Args:
        config: the model's config (num_labels, id2label).
        raw: config.json as a dict (its sentence_transformers.activation_fn is honoured).
        activation: one of ACTIVATIONS, or None to derive it.
        score_index: the label to score, or None to derive it.

    Returns:
        (score_index, activation, notes for the manifest).

    Raises:
        ValueError: SCORE_INDEX out of range, or an unknown ACTIVATION.
    """
    notes: list[str] = []
    n = int(config.num_labels)
    if score_index is None:
        score_index = _default_score_index(config, notes)
    if not 0 <= score_index < n:
        raise ValueError(f"score_index {score_index} out of range for {n} labels")
    if activation is None:
        activation = _default_activation(n, raw, notes)
    check_choice(activation, ACTIVATIONS, "activation")
    return score_index, activation, notes


def effective_max_length(config, requested: int) -> int:
    """REQUESTED capped by the model's position embeddings (less the fairseq offset)."""
    if requested < 8:
        raise ValueError(f"max_length {requested} is too small (need room for a query and a document)")
    mpe = getattr(config, "max_position_embeddings", None)
    if mpe is None:
        return int(requested)
    mpe = int(mpe)
    family = family_of(getattr(config, "model_type", None))
    if family is not None and family.position_offset:
        mpe -= int(getattr(config, "pad_token_id", 1) or 1) + 1
    return int(min(mpe, requested))


def describe_source(src: str, is_local: bool, *, max_length: int, activation: str | None,
                    score_index: int | None) -> SourceModel:
    """Load SRC's config, check it is a supported cross-encoder, and derive the bundle's settings.

    Raises:
        ValueError: not a supported sequence-classification model, or bad settings.
        OSError: the config could not be loaded (a Hub id while offline).
    """
    config = load_config(src, is_local)
    raw = _raw_config_dict(src, is_local)
    family = check_classification(config, raw, src)
    eff_max_length = effective_max_length(config, max_length)
    index, act, notes = score_and_activation(config, raw, activation, score_index)
    return SourceModel(src, is_local, config, eff_max_length, index, act, family, tuple(notes))


def _tokenizer_data(src: str, is_local: bool) -> tuple[dict[str, Any], str, list[str]]:
    """(tokenizer.json contents, origin, notes): copied when SRC has one, else built by transformers."""
    have = Path(src) / TOKENIZER_FILE if is_local else None
    if have is not None and have.is_file():
        return json.loads(have.read_text(encoding="utf-8")), "copied", []
    from transformers import AutoTokenizer

    if is_local:
        present = sorted(f.name for f in Path(src).iterdir() if f.name in _VOCABULARY_FILES)
        if not any(x != "tokenizer_config.json" for x in present):
            raise FileNotFoundError(
                f"{src} has no tokenizer.json and no vocabulary (vocab.txt, vocab.json + "
                "merges.txt, sentencepiece model) to build one from; copy the tokenizer files "
                "of the base model into the folder"
            )
    try:
        tok = AutoTokenizer.from_pretrained(src, use_fast=True, local_files_only=is_local)
    except Exception as e:
        raise FileNotFoundError(f"could not load a tokenizer from {src}: {e}") from e
    if not getattr(tok, "is_fast", False):
        raise ValueError(
            f"{src}: only a slow (Python) tokenizer is available; crossrank needs a fast "
            "tokenizer serialisable as tokenizer.json"
        )
    with tempfile.TemporaryDirectory(prefix="crossrank-tok-") as td:
        tok.save_pretrained(td)
        data = json.loads((Path(td) / TOKENIZER_FILE).read_text(encoding="utf-8"))
    return (data, "built with transformers' fast tokenizer (no tokenizer.json in the source)",
            ["tokenizer.json was built from the model's vocabulary files by transformers"])


def write_tokenizer(src: str, is_local: bool, dest: Path) -> tuple[dict[str, Any], list[str]]:
    """Write DEST/tokenizer.json from SRC with truncation and padding cleared.

    Returns:
        (the manifest's "tokenizer" entry, notes).

    Raises:
        FileNotFoundError: SRC has no tokenizer.json and nothing to build one from.
        ValueError: only a slow tokenizer is available.
    """
    data, origin, notes = _tokenizer_data(src, is_local)
    info: dict[str, Any] = {"origin": origin}
    # The engine truncates and pads itself (crossrank.json's max_length, its own batching);
    # fixed-length padding or a short truncation left in the file would silently change scores.
    info["cleared"] = {"truncation": data.get("truncation"), "padding": data.get("padding")}
    data["truncation"] = None
    data["padding"] = None
    with open(dest / TOKENIZER_FILE, "w", encoding="utf-8") as f:  # as before: no final newline, so
        json.dump(data, f, ensure_ascii=False, indent=2)  # a rebuild is byte-identical to cached bundles
    model = data.get("model") or {}
    info["model"] = model.get("type")
    if isinstance(model.get("vocab"), (dict, list)):
        info["vocab_size"] = len(model["vocab"])
    return info, notes
